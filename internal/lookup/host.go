package lookup

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// maxUsers bounds the accounts listed (a directory service can hold thousands).
const maxUsers = 1000

// osUsers lists this host's accounts from its user database (getent, so LDAP and the like count;
// /etc/passwd without it): root, then people (uid 1000 and up), then system accounts.
func osUsers(ctx context.Context) ([]Choice, error) {
	data, err := exec.CommandContext(ctx, "getent", "passwd").Output()
	if err != nil {
		if data, err = os.ReadFile("/etc/passwd"); err != nil {
			return nil, err
		}
	}
	type account struct {
		name, home, shell string
		uid               int
	}
	var accts []account
	for line := range bytes.Lines(data) {
		f := strings.Split(strings.TrimSpace(string(line)), ":")
		if len(f) < 7 || f[0] == "" {
			continue
		}
		uid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		accts = append(accts, account{name: f[0], uid: uid, home: f[5], shell: f[6]})
	}
	rank := func(uid int) int {
		switch {
		case uid == 0:
			return 0
		case uid >= 1000 && uid < 65534:
			return 1
		}
		return 2
	}
	slices.SortStableFunc(accts, func(a, b account) int {
		return cmp.Or(cmp.Compare(rank(a.uid), rank(b.uid)), cmp.Compare(a.uid, b.uid))
	})
	var out []Choice
	for _, a := range accts[:min(len(accts), maxUsers)] {
		shell := a.shell
		if strings.HasSuffix(shell, "nologin") || shell == "/bin/false" {
			shell = "no login shell"
		}
		out = append(out, Choice{Value: a.name, Detail: fmt.Sprintf("uid %d · %s · %s", a.uid, a.home, shell)})
	}
	return out, nil
}

// socketDirs are where PostgreSQL servers usually put their sockets.
var socketDirs = []string{"/var/run/postgresql", "/tmp"}

// pgClusters lists the PostgreSQL servers running on this host as libpq connection strings: each
// postmaster found in /proc (its working directory is its data directory, whose postmaster.pid
// names port, socket directory and state; its owner, initdb's default superuser, is the user),
// then sockets in the usual directories whose server
// could not be read that way (another user's, when not root). A standby is shown as read-only.
func pgClusters() ([]Choice, error) {
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []Choice
	seen := map[string]bool{} // socket directory + port
	for _, p := range procs {
		pid := p.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		exe, err := os.Readlink("/proc/" + pid + "/exe")
		if err != nil || filepath.Base(exe) != "postgres" && filepath.Base(exe) != "postmaster" {
			continue
		}
		dataDir, err := os.Readlink("/proc/" + pid + "/cwd")
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
		lines := strings.Split(string(b), "\n")
		if err != nil || len(lines) < 8 || strings.TrimSpace(lines[0]) != pid {
			continue // a backend, or not readable
		}
		port, sock, listen, state := strings.TrimSpace(lines[3]), strings.TrimSpace(lines[4]), strings.TrimSpace(lines[5]), strings.TrimSpace(lines[7])
		host := sock
		if host == "" {
			host = cmp.Or(strings.Trim(listen, "*"), "localhost")
		}
		seen[realDir(sock)+":"+port] = true
		ver, _ := os.ReadFile(filepath.Join(dataDir, "PG_VERSION"))
		c := Choice{Value: "host=" + connValue(host) + " port=" + port + owner(dataDir),
			Detail: fmt.Sprintf("PostgreSQL %s · %s · %s · pid %s", strings.TrimSpace(string(ver)), dataDir, state, pid)}
		if state == "standby" {
			c.NotEligible = "a standby: read-only"
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Choice) int { return strings.Compare(a.Value, b.Value) })
	for _, dir := range socketDirs {
		socks, _ := filepath.Glob(filepath.Join(dir, ".s.PGSQL.*"))
		for _, s := range socks {
			port := strings.TrimPrefix(filepath.Ext(s), ".")
			if port == "lock" || seen[realDir(dir)+":"+port] {
				continue
			}
			seen[realDir(dir)+":"+port] = true
			out = append(out, Choice{Value: "host=" + connValue(dir) + " port=" + port,
				Detail: "socket in " + dir + " (its server runs as another user)"})
		}
	}
	return out, nil
}

// owner is " user=<name>" for the owner of a data directory — initdb's default superuser — or "".
func owner(dataDir string) string {
	st, err := os.Stat(dataDir)
	if err != nil {
		return ""
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	u, err := user.LookupId(strconv.FormatUint(uint64(sys.Uid), 10))
	if err != nil {
		return ""
	}
	return " user=" + connValue(u.Username)
}

func realDir(d string) string {
	if r, err := filepath.EvalSymlinks(d); err == nil {
		return r
	}
	return d
}

// connValue quotes a libpq keyword value when it needs it.
func connValue(v string) string {
	if v != "" && !strings.ContainsAny(v, ` '\`) {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
