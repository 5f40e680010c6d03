package host_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/host"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func registry() *steps.Registry {
	r := steps.NewRegistry()
	host.Register(r)
	return r
}

// probeTree lists every path under root with its owner, group and mode (stat, not the step).
func probeTree(t testing.TB, roots ...string) string {
	var lines []string
	for _, root := range roots {
		_ = filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				lines = append(lines, p+" absent")
				return nil
			}
			st := fi.Sys().(*syscall.Stat_t)
			lines = append(lines, fmt.Sprintf("%s %d:%d %o", p, st.Uid, st.Gid, uint32(fi.Mode().Perm())|uint32(st.Mode&0o7000)))
			return nil
		})
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestOSUserContract(t *testing.T) {
	testbed.RequireRoot(t, "")
	name := testbed.UniqueName(t, "cairnu")
	home := filepath.Join(testbed.TempDir(t), "home", name)
	t.Cleanup(func() { _ = exec.Command("userdel", "-r", name).Run() })
	s := steptest.Decode(t, registry(), "os-user", fmt.Sprintf("name: %s\ngroup: postgres\nhome: %s\n", name, home))
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		LookAlike: &steptest.LookAlike{
			What: "an account of the same name in group nogroup with home /nonexistent",
			Plant: func(t testing.TB) {
				shadow(t, "useradd", "-M", "-g", "nogroup", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", name)
			},
			There: func(t testing.TB) bool {
				u, err := user.Lookup(name)
				g, gerr := user.LookupGroup("nogroup")
				return err == nil && gerr == nil && u.Gid == g.Gid && u.HomeDir == "/nonexistent"
			},
			Remove: func(t testing.TB) { shadow(t, "userdel", name) },
		},
		Probe: func(t testing.TB) string {
			u, err := user.Lookup(name)
			if err != nil {
				_, herr := os.Stat(home)
				return "absent; home exists: " + fmt.Sprint(herr == nil)
			}
			fi, err := os.Stat(home)
			if err != nil {
				return "user " + u.Gid + " no home"
			}
			st := fi.Sys().(*syscall.Stat_t)
			return fmt.Sprintf("user gid=%s home=%s %d %o", u.Gid, u.HomeDir, st.Uid, fi.Mode().Perm())
		},
		Tamper: func(t testing.TB) { _ = os.RemoveAll(home) },
	})
}

func TestOSUserBlocksOtherGroup(t *testing.T) {
	testbed.RequireRoot(t, "")
	u := testbed.OSUser(t, "cairnx")
	s := steptest.Decode(t, registry(), "os-user", fmt.Sprintf("name: %s\ngroup: postgres\nhome: %s\n", u.Name, u.Home))
	env := steptest.Env(t, nil)
	if ch := s.Check(t.Context(), env); ch.State != steps.Blocked {
		t.Fatalf("existing user in another group: want blocked, got %s %s", ch.State, ch.Reason)
	}
	if err := s.Rollback(t.Context(), env); err != nil {
		t.Fatal(err)
	}
	if _, err := user.Lookup(u.Name); err != nil {
		t.Fatalf("rollback removed a user it did not create")
	}
}

func TestPathModeContract(t *testing.T) {
	testbed.RequireRoot(t, "")
	dir := testbed.TempDir(t)
	data := filepath.Join(dir, "p", "data")
	must(t, os.MkdirAll(filepath.Join(data, "base", "1"), 0o700))
	must(t, os.WriteFile(filepath.Join(data, "base", "1", "f"), []byte("x"), 0o600))
	must(t, os.WriteFile(filepath.Join(data, "PG_VERSION"), []byte("15"), 0o600))
	must(t, os.Symlink(filepath.Join(dir, "wal"), filepath.Join(data, "pg_wal")))
	must(t, os.Mkdir(filepath.Join(dir, "wal"), 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "wal", "000001"), []byte("w"), 0o600))
	must(t, os.Chmod(filepath.Join(dir, "p"), 0o700))
	must(t, os.Chmod(data, 0o700))
	repo := filepath.Join(dir, "repo", "sub")
	s := steptest.Decode(t, registry(), "path-mode", fmt.Sprintf(`paths:
  - path: %s
    mode: "0750"
    group: postgres
    tree: group-read
    searchable_by: postgres
  - path: %s
    create: true
    owner: postgres
    group: postgres
    mode: "2770"
`, data, repo))
	elsewhere := filepath.Join(testbed.TempDir(t), "elsewhere")
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		Probe: func(t testing.TB) string { return probeTree(t, dir) },
		LookAlike: &steptest.LookAlike{
			What: "a symlink at the repo path to another directory owned postgres:postgres 2770",
			Plant: func(t testing.TB) {
				must(t, os.MkdirAll(elsewhere, 0o700))
				must(t, os.Chown(elsewhere, pgUID(t), pgGID(t)))
				must(t, syscall.Chmod(elsewhere, 0o2770))
				must(t, os.MkdirAll(filepath.Dir(repo), 0o755))
				must(t, os.Symlink(elsewhere, repo))
			},
			There: func(t testing.TB) bool {
				target, err := os.Readlink(repo)
				return err == nil && target == elsewhere && probeTree(t, elsewhere) == fmt.Sprintf("%s %d:%d 2770", elsewhere, pgUID(t), pgGID(t))
			},
			Remove: func(t testing.TB) {
				must(t, os.Remove(repo))
				must(t, os.Remove(filepath.Dir(repo)))
				must(t, os.RemoveAll(elsewhere))
			},
		},
		Tamper: func(t testing.TB) {
			must(t, os.WriteFile(filepath.Join(data, "base", "1", "new"), []byte("x"), 0o600))
		},
	})
}

func TestConfigFileContract(t *testing.T) {
	testbed.RequireRoot(t, "")
	dir := testbed.TempDir(t)
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprint("existing=", existing), func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprint(existing), "etc", "pgbackrest.conf")
			if existing {
				must(t, os.MkdirAll(filepath.Dir(path), 0o755))
				must(t, os.WriteFile(path, []byte("# mine\n[global]\nrepo1-path=/old\nlog-level-file=detail\n\n[other]\npg1-path=/x\n"), 0o600))
			}
			s := steptest.Decode(t, registry(), "config-file", fmt.Sprintf(`path: %s
owner: root
group: postgres
mode: "0640"
sections:
  - name: global
    set: {repo1-path: /repo, start-fast: "y"}
  - name: main
    set: {pg1-path: "${params.data}"}
`, path))
			env := steptest.Env(t, map[string]string{"data": "/var/lib/pg/data"})
			other := "[global]\nrepo1-path=/repo-of-another-cluster\nstart-fast=y\n\n[main]\npg1-path=/var/lib/other/data\n"
			var kept []byte
			steptest.Run(t, steptest.Case{
				Step: s, Env: env,
				LookAlike: &steptest.LookAlike{
					What: "a file at the same path, mode and owner with the same sections but another cluster's values",
					Plant: func(t testing.TB) {
						kept, _ = os.ReadFile(path)
						must(t, os.MkdirAll(filepath.Dir(path), 0o755))
						must(t, os.WriteFile(path, []byte(other), 0o640))
						must(t, os.Chown(path, 0, pgGID(t)))
						must(t, os.Chmod(path, 0o640))
					},
					There: func(t testing.TB) bool {
						b, err := os.ReadFile(path)
						return err == nil && string(b) == other
					},
					Remove: func(t testing.TB) {
						if kept == nil {
							must(t, os.RemoveAll(filepath.Dir(filepath.Dir(path))))
							return
						}
						must(t, os.WriteFile(path, kept, 0o600))
						must(t, os.Chown(path, 0, 0))
						must(t, os.Chmod(path, 0o600))
					},
				},
				Probe: func(t testing.TB) string {
					b, _ := os.ReadFile(path)
					return probeTree(t, filepath.Dir(filepath.Dir(path))) + "\n" + string(b)
				},
				Tamper: func(t testing.TB) {
					b, _ := os.ReadFile(path)
					must(t, os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "start-fast=y", "start-fast=n")), 0o640))
				},
			})
			if existing {
				// only the named keys changed; every other line kept
				must(t, s.Rollback(t.Context(), env))
				if d := s.Describe(env); !strings.Contains(d[0].Text, "-repo1-path=/old") {
					t.Fatalf("plan does not show a diff: %s", d[0].Text)
				}
				_, err := s.Apply(t.Context(), env)
				must(t, err)
				b, _ := os.ReadFile(path)
				want := "# mine\n[global]\nrepo1-path=/repo\nlog-level-file=detail\nstart-fast=y\n\n[other]\npg1-path=/x\n\n[main]\npg1-path=/var/lib/pg/data\n"
				if string(b) != want {
					t.Fatalf("merged file:\n%s\nwant:\n%s", b, want)
				}
			}
		})
	}
}

func TestRunAsContract(t *testing.T) {
	testbed.RequireRoot(t, "")
	u := testbed.OSUser(t, "cairnr")
	f := filepath.Join(u.Home, "made")
	s := steptest.Decode(t, registry(), "run-as", fmt.Sprintf(`user: %s
argv: [sh, -c, 'touch "$HOME/made"']
check: {argv: [test, -e, %s]}
verify: {argv: [sh, -c, 'test "$(id -un)" = %s && test -O %s']}
rollback: {argv: [rm, -f, %s]}
`, u.Name, f, u.Name, f, f))
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		Probe:       func(t testing.TB) string { return probeTree(t, f) },
		Tamper:      func(t testing.TB) { _ = os.Remove(f) },
		NoLookAlike: "done is whatever the runbook's own check command says; the kind has no address of its own to plant at",
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// shadow runs useradd/userdel, retrying while another process holds /etc/passwd's lock.
func shadow(t testing.TB, tool string, args ...string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		out, err := exec.Command(tool, args...).CombinedOutput()
		if err == nil {
			return
		}
		if attempt >= 20 || !strings.Contains(string(out), "lock") {
			t.Fatalf("%s %v: %v %s", tool, args, err, out)
		}
		time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
	}
}

func pgUID(t testing.TB) int {
	u, err := user.Lookup("postgres")
	must(t, err)
	id, err := strconv.Atoi(u.Uid)
	must(t, err)
	return id
}

func pgGID(t testing.TB) int {
	g, err := user.LookupGroup("postgres")
	must(t, err)
	id, err := strconv.Atoi(g.Gid)
	must(t, err)
	return id
}
