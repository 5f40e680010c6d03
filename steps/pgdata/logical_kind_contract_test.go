package pgdata_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/pgdata"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The rds-encrypt runbook's logical path — pg-preflight, pg-globals-dump, pg-quiesce, pg-dump,
// pg-globals-restore, pg-restore, pg-verify-rows, pg-wal-check and pg-stream-copy — passes the step
// contract on the twin, whose instances are real PostgreSQL clusters with an RDS-like master that
// is not a superuser. Each kind is judged by the test's own probe: SQL as the master for what is in a
// server, the directory's listing for what is written to disk. The `with:` blocks are the runbook's
// (runbooks/builtin/rds-encrypt.yaml) with its parameters and earlier outputs filled in; the
// subtests run in the runbook's order, each starting from what the one before left.
func TestLogicalKindsContractOnTheTwin(t *testing.T) {
	ctx := context.Background()
	tb := testbed.StartTwinSDK(t)
	rdsc := tb.RDS
	reg := all.Registry()

	// The new instance, as rds-create-instance leaves it: the source's master, with the real password.
	const target = "app-db-enc"
	if _, err := rdsc.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(target), Engine: aws.String("postgres"),
		EngineVersion: aws.String("15.18"), DBInstanceClass: aws.String("db.t3.medium"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String(twin.DemoMaster), MasterUserPassword: aws.String("Cairn-target-initial-1")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, rdsc, target)
	func() {
		c := connectAs(ctx, t, rdsc, target, "postgres", "Cairn-target-initial-1")
		defer c.Close(context.WithoutCancel(ctx))
		if _, err := c.Exec(ctx, "ALTER ROLE "+twin.DemoMaster+" PASSWORD "+quote(twin.DemoPassword)); err != nil {
			t.Fatal(err)
		}
	}()
	// An application role with a connection limit of its own, which the quiesce must put back.
	sqlExec(ctx, t, rdsc, twin.DemoInstance, "postgres", "ALTER ROLE app_ro CONNECTION LIMIT 5")

	dumpDir := filepath.Join(testbed.TempDir(t), "dump")
	// The dump directory exists before the run (the pg-preflight checks its room); cairn's
	// rollbacks remove what cairn wrote into it, not the directory.
	if err := os.MkdirAll(dumpDir, 0o700); err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{
		"region": "", "instance": twin.DemoInstance, "credentials-secret": twin.DemoSecret, "dump-dir": dumpDir, "jobs": "2",
		"checksums": "false", "passwords-secret": "", "steps.preflight.build-id": target,
		"steps.preflight.resource-id": resourceID(ctx, t, rdsc, twin.DemoInstance),
	}
	const source = `source: { region: "${params.region}", instance: "${params.instance}", credentials-secret: "${params.credentials-secret}" }`
	const tgt = `target: { region: "${params.region}", instance: "${steps.preflight.build-id}", credentials-secret: "${params.credentials-secret}", password: "${params.master-password}" }`

	srcProbe := serverProbe(ctx, rdsc, twin.DemoInstance)
	tgtProbe := serverProbe(ctx, rdsc, target)
	dirProbe := func(t testing.TB) string { return listing(t, dumpDir) }
	both := func(ps ...func(testing.TB) string) func(testing.TB) string {
		return func(t testing.TB) string {
			var b strings.Builder
			for _, p := range ps {
				b.WriteString(p(t))
			}
			return b.String()
		}
	}

	preflightRefusesPasswordlessLogins(t, tb, vals, source+"\n", srcProbe)

	t.Run("pg-preflight", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-preflight", source+`
dir: "${params.dump-dir}"
passwords-secret: "${params.passwords-secret}"
`)
		steptest.RunReadOnly(t, steptest.Case{Step: st, Env: steptest.Env(t, vals), Probe: both(srcProbe, dirProbe),
			NoLookAlike: "reads only: the credentials, the client tools and the disk, afresh every run"}, func(t testing.TB) {
			// pg_dumpall is not on PATH: every other client tool is.
			bin := t.TempDir()
			for _, tool := range []string{"pg_dump", "pg_restore", "psql"} {
				p, err := exec.LookPath(tool)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", bin)
		})
	})

	t.Run("pg-globals-dump", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-globals-dump", source+`
file: "${params.dump-dir}/globals.sql"
`)
		env := steptest.Env(t, vals)
		globals := filepath.Join(dumpDir, "globals.sql")
		var planted []byte
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: dirProbe, LookAlike: &steptest.LookAlike{
			What: "a complete globals.sql of another source (a rehearsal on app-db-rehearsal) at the path",
			Plant: func(t testing.TB) {
				planted = lookAlikeGlobals(t)
				if err := os.WriteFile(globals, planted, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			There: func(t testing.TB) bool { b, err := os.ReadFile(globals); return err == nil && bytes.Equal(b, planted) },
			Remove: func(t testing.TB) {
				if err := os.Remove(globals); err != nil {
					t.Fatal(err)
				}
			},
		}, Tamper: func(t testing.TB) {
			// The file is cut short behind cairn's back.
			f := filepath.Join(dumpDir, "globals.sql")
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if lines := strings.Split(string(b), "\n"); !slices.Contains(lines, "CREATE ROLE app_rw;") || slices.Contains(lines, "CREATE ROLE "+twin.DemoMaster+";") {
				t.Fatalf("the globals file does not hold the application's roles without the master:\n%s", b)
			}
			if err := os.WriteFile(f, b[:len(b)/2], 0o600); err != nil {
				t.Fatal(err)
			}
		}})
		out, err := st.Apply(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		vals["steps.globals-dump.file"] = out["file"].Value
	})

	t.Run("pg-quiesce", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-quiesce", source+"\n")
		env := steptest.Env(t, vals)
		rec := recordOutputs(st, env)
		steptest.Run(t, steptest.Case{Step: rec, Env: env, Probe: srcProbe,
			NoLookAlike: "its done is read live (every application role at CONNECTION LIMIT 0); its state — the WAL position and the source's identity — is read afresh when found done, and a dump is measured against it only when that identity is its own source's",
			Tamper: func(t testing.TB) {
				if p := srcProbe(t); !strings.Contains(p, "role app_rw login limit 0") || !strings.Contains(p, "role app_ro login limit 0") {
					t.Fatalf("the application roles are not blocked:\n%s", p)
				}
				// One application role is let in again behind cairn's back.
				sqlExec(ctx, t, rdsc, twin.DemoInstance, "postgres", "ALTER ROLE app_rw CONNECTION LIMIT -1")
			}})
		if p := srcProbe(t); !strings.Contains(p, "role app_ro login limit 0") {
			t.Fatalf("the tamper let only app_rw in:\n%s", p)
		}
		// The runbook's quiesce, whose state the WAL checks compare with.
		sqlExec(ctx, t, rdsc, twin.DemoInstance, "postgres", "ALTER ROLE app_ro CONNECTION LIMIT 5")
		out, err := st.Apply(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		vals["steps.quiesce.state"] = out["state"].Value
	})

	t.Run("pg-dump", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-dump", source+`
dir: "${params.dump-dir}"
jobs: "${params.jobs}"
checksums: "${params.checksums}"
quiesce: "${steps.quiesce.state}"
`)
		env := steptest.Env(t, vals)
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: dirProbe, LookAlike: &steptest.LookAlike{
			What: "yesterday's complete dump of app-db, by another run, in the dump-dir",
			Plant: func(t testing.TB) {
				yesterday := *env
				yesterday.RunID = "yesterday"
				if _, err := st.Apply(ctx, &yesterday); err != nil {
					t.Fatal(err)
				}
			},
			There:  func(t testing.TB) bool { return manifestRun(t, dumpDir) == "yesterday" },
			Remove: func(t testing.TB) { removeDump(t, dumpDir) },
		}, Tamper: func(t testing.TB) {
			if p := dirProbe(t); !strings.Contains(p, "app.dir/toc.dat") || !strings.Contains(p, "analytics.dir/toc.dat") || !strings.Contains(p, "cairn-manifest.json") {
				t.Fatalf("the dump directory does not hold both databases and the manifest:\n%s", p)
			}
			// The app database's dump is removed behind cairn's back.
			if err := os.RemoveAll(filepath.Join(dumpDir, "app.dir")); err != nil {
				t.Fatal(err)
			}
		}})
		if _, err := st.Apply(ctx, env); err != nil {
			t.Fatal(err)
		}

		t.Run("a data file removed is noticed", func(t *testing.T) {
			dats, _ := filepath.Glob(filepath.Join(dumpDir, "app.dir", "*.dat"))
			if len(dats) == 0 {
				t.Fatal("no data files in the app dump")
			}
			saved, err := os.ReadFile(dats[0])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(dats[0]); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = os.WriteFile(dats[0], saved, 0o600) }()
			ch := st.Check(ctx, env)
			verr := st.Verify(ctx, env)
			if verr == nil {
				t.Fatalf("verify passed a dump missing %s", filepath.Base(dats[0]))
			}
			if ch.State == steps.Done {
				t.Fatalf("a dump missing data file %s is still Done (%s) — a resumed run would skip the dump", filepath.Base(dats[0]), ch.Reason)
			}
		})
	})

	t.Run("pg-globals-restore", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-globals-restore", tgt+`
file: "${steps.globals-dump.file}"
passwords-secret: "${params.passwords-secret}"
source-id: "${steps.preflight.resource-id}"
`)
		env := steptest.Env(t, vals)
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: tgtProbe, LookAlike: &steptest.LookAlike{
			What:  "a role app_rw of the same name on the target, but NOLOGIN and without its connection limit",
			Plant: func(t testing.TB) { sqlExec(ctx, t, rdsc, target, "postgres", "CREATE ROLE app_rw NOLOGIN") },
			There: func(t testing.TB) bool {
				return strings.Contains(tgtProbe(t), "role app_rw nologin limit -1")
			},
			Remove: func(t testing.TB) { sqlExec(ctx, t, rdsc, target, "postgres", "DROP ROLE app_rw") },
		}, Tamper: func(t testing.TB) {
			if p := tgtProbe(t); !strings.Contains(p, "role app_owner nologin") || !strings.Contains(p, "role app_ro login limit 5") ||
				!strings.Contains(p, "role app_iam login limit -1 member of [rds_iam]") {
				t.Fatalf("the roles are not on the target as on the source:\n%s", p)
			}
			// One role is dropped behind cairn's back.
			sqlExec(ctx, t, rdsc, target, "postgres", "DROP ROLE app_ro")
		}})
		// Put it back as it was, for the restore.
		sqlExec(ctx, t, rdsc, target, "postgres", "CREATE ROLE app_ro LOGIN CONNECTION LIMIT 5")
		if _, err := st.Apply(ctx, env); err != nil {
			t.Fatal(err)
		}
		// The application logs in on the new instance with its own password.
		c := connectRole(ctx, t, rdsc, target, "postgres", "app_rw", "app-rw-demo")
		c.Close(context.WithoutCancel(ctx))

		t.Run("a login role the secret does not cover fails the step", func(t *testing.T) {
			v := maps.Clone(vals)
			v["passwords-secret"] = "cairn/app-db/rw-only"
			_, err := st.Apply(ctx, steptest.Env(t, v))
			if err == nil || !strings.Contains(err.Error(), "login roles app_ro would have no password") || !strings.Contains(steps.FixOf(err), "add app_ro to passwords-secret cairn/app-db/rw-only") ||
				!strings.HasSuffix(steps.FixOf(err), ", then `cairn resume`") || strings.Contains(err.Error(), "add app_ro") {
				t.Fatalf("the restore left app_ro without a password and said: %v (fix %q), want the fix and the resume as its fix, not in its text", err, steps.FixOf(err))
			}
		})

		// The walk back of a run whose later step left objects depending on a role: on an instance
		// this run created, whose own rollback deletes it, the roles are left to that delete.
		t.Run("a role that cannot be dropped on an instance this run created is left to its delete", func(t *testing.T) {
			sqlExec(ctx, t, rdsc, target, "postgres", "CREATE TABLE held (x int); GRANT SELECT ON held TO app_rw")
			defer sqlExec(ctx, t, rdsc, target, "postgres", "DROP TABLE held")
			before := tgtProbe(t)
			if err := st.Rollback(ctx, steptest.Env(t, vals)); err == nil || !strings.Contains(err.Error(), "depend") {
				t.Fatalf("rollback on an instance it did not create: %v, want the DROP ROLE's refusal", err)
			}
			created := steptest.Decode(t, reg, "pg-globals-restore", tgt+`
file: "${steps.globals-dump.file}"
source-id: "${steps.preflight.resource-id}"
created-instance: "`+resourceID(ctx, t, rdsc, target)+`"
`)
			env := steptest.Env(t, vals)
			if err := created.Rollback(ctx, env); err != nil {
				t.Fatalf("rollback on the instance this run created: %v", err)
			}
			if txt := env.Out.(*steptest.Sink).Text(); !strings.Contains(txt, "left to the rollback of the step that created the instance") {
				t.Errorf("the rollback did not say it left the roles:\n%s", txt)
			}
			if after := tgtProbe(t); after != before {
				t.Errorf("the rollback changed the target:\nbefore: %s\nafter:  %s", before, after)
			}
		})
	})

	t.Run("pg-restore", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-restore", tgt+`
dir: "${params.dump-dir}"
jobs: "${params.jobs}"
source-id: "${steps.preflight.resource-id}"
`)
		env := steptest.Env(t, vals)
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: tgtProbe, LookAlike: otherRunsManifest(dumpDir), Tamper: func(t testing.TB) {
			if p := tgtProbe(t); !strings.Contains(p, "app shop.order_items rows ") || !strings.Contains(p, "analytics reports.daily_sales rows 365") {
				t.Fatalf("the databases are not on the target:\n%s", p)
			}
			if got, want := rowsOf(tgtProbe(t), "app"), rowsOf(srcProbe(t), "app"); got != want {
				t.Fatalf("rows on the target differ from the source's:\n%s\nsource:\n%s", got, want)
			}
			// Rows are deleted on the target behind cairn's back.
			sqlExec(ctx, t, rdsc, target, "app", "DELETE FROM shop.order_items WHERE line > 1")
		}})
		// Restored again for the verify: an incomplete database is dropped and restored.
		if _, err := st.Apply(ctx, env); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("pg-verify-rows", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-verify-rows", source+"\n"+tgt+`
dir: "${params.dump-dir}"
source-id: "${steps.preflight.resource-id}"
checksums: "${params.checksums}"
`)
		steptest.RunReadOnly(t, steptest.Case{Step: st, Env: steptest.Env(t, vals), Probe: tgtProbe, LookAlike: otherRunsManifest(dumpDir)}, func(t testing.TB) {
			// One row more on the target than was dumped.
			sqlExec(ctx, t, rdsc, target, "analytics", "INSERT INTO reports.daily_sales VALUES (current_date, 1, 1)")
		})
	})

	t.Run("pg-wal-check", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-wal-check", source+`
state: "${steps.quiesce.state}"
`)
		steptest.RunReadOnly(t, steptest.Case{Step: st, Env: steptest.Env(t, vals), Probe: srcProbe,
			NoLookAlike: "it compares the source, live, with the quiesce's state it is given; it has no artifact of its own (a source of another identity than the quiesced one is refused)"}, func(t testing.TB) {
			// A write to the source after the recorded position.
			sqlExec(ctx, t, rdsc, twin.DemoInstance, "app", "INSERT INTO audit.events (actor, what) VALUES ('late writer', 'after the dump')")
		})

		// A writer that is still connected: its write is in the WAL at once, but PostgreSQL flushes a
		// backend's table counters to pg_stat_user_tables only from time to time (and at exit).
		t.Run("a write by a writer still connected is noticed", func(t *testing.T) {
			q := steptest.Decode(t, reg, "pg-quiesce", source+"\n")
			out, err := q.Apply(ctx, steptest.Env(t, vals))
			if err != nil {
				t.Fatal(err)
			}
			env := steptest.Env(t, mergeVals(vals, map[string]string{"steps.quiesce.state": out["state"].Value}))
			if _, err := st.Apply(ctx, env); err != nil {
				t.Fatalf("nothing written since this quiesce, but: %v", err)
			}
			w := connectAs(ctx, t, rdsc, twin.DemoInstance, "app", twin.DemoPassword)
			defer w.Close(context.WithoutCancel(ctx))
			for range 3 {
				if _, err := w.Exec(ctx, "INSERT INTO audit.events (actor, what) VALUES ('connected writer', 'after the dump')"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := st.Apply(ctx, env); err == nil {
				t.Fatal("pg-wal-check passed although a writer still connected wrote to audit.events after the quiesce")
			} else if !strings.Contains(err.Error(), "still connected") && !strings.Contains(err.Error(), "writes to user tables") {
				t.Fatalf("pg-wal-check refused for another reason: %v", err)
			}
		})
	})

	t.Run("pg-stream-copy", func(t *testing.T) {
		// The stream path replaces dump and restore: the target starts with the roles only.
		for _, db := range []string{"app", "analytics"} {
			sqlExec(ctx, t, rdsc, target, "postgres", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		}
		st := steptest.Decode(t, reg, "pg-stream-copy", source+"\n"+tgt+`
dir: "${params.dump-dir}/stream"
jobs: "${params.jobs}"
quiesce: "${steps.quiesce.state}"
`)
		// The probe is the target server: the manifest in dir is cairn's own record of the rows copied.
		streamDir := filepath.Join(dumpDir, "stream")
		steptest.Run(t, steptest.Case{Step: st, Env: steptest.Env(t, vals), Probe: tgtProbe, LookAlike: &steptest.LookAlike{
			What: "yesterday's record of a copy of app-db, by another run, in the copy's directory",
			Plant: func(t testing.TB) {
				if err := os.MkdirAll(streamDir, 0o700); err != nil {
					t.Fatal(err)
				}
				b, err := os.ReadFile(filepath.Join(dumpDir, "cairn-manifest.json"))
				if err != nil {
					t.Fatal(err)
				}
				var m pgdata.Manifest
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				m.Method, m.Provenance.RunID = "stream", "yesterday"
				if b, err = json.Marshal(m); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(streamDir, "cairn-manifest.json"), b, 0o600); err != nil {
					t.Fatal(err)
				}
			},
			There: func(t testing.TB) bool { return manifestRun(t, streamDir) == "yesterday" },
			Remove: func(t testing.TB) {
				if err := os.Remove(filepath.Join(streamDir, "cairn-manifest.json")); err != nil {
					t.Fatal(err)
				}
			},
		}, Tamper: func(t testing.TB) {
			if got, want := rowsOf(tgtProbe(t), "app"), rowsOf(srcProbe(t), "app"); got != want {
				t.Fatalf("rows on the target differ from the source's:\n%s\nsource:\n%s", got, want)
			}
			sqlExec(ctx, t, rdsc, target, "analytics", "DELETE FROM reports.daily_sales WHERE day < current_date - 300")
		}})
	})
}

// recordOutputs wraps a step so that, as the runner journals them, its outputs are found by
// ${steps.<env.StepID>.<name>} (pg-quiesce's rollback reads its own state output).
func recordOutputs(st steps.Step, env *steps.Env) steps.Step {
	r := &recorder{Step: st, outs: steps.Outputs{}}
	prev := env.Lookup
	env.Lookup = func(x ref.Ref) (ref.Value, bool) {
		if x.Scope == ref.Steps && x.Name == env.StepID {
			r.mu.Lock()
			defer r.mu.Unlock()
			o, ok := r.outs[x.Output]
			return ref.Value{S: o.Value, Secret: o.Secret}, ok
		}
		return prev(x)
	}
	return r
}

type recorder struct {
	steps.Step
	mu   sync.Mutex
	outs steps.Outputs
}

func (r *recorder) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	out, err := r.Step.Apply(ctx, env)
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, v := range out {
		r.outs[k] = v
	}
	return out, err
}

// serverProbe describes an instance's server as its master sees it: the application's login
// and group roles with their connection limits and memberships, the databases, and every user
// table's row count.
func serverProbe(ctx context.Context, c *awsrds.Client, id string) func(t testing.TB) string {
	return func(t testing.TB) string {
		t.Helper()
		conn := connectAs(ctx, t, c, id, "postgres", twin.DemoPassword)
		defer conn.Close(context.WithoutCancel(ctx))
		var lines []string
		rows, err := conn.Query(ctx, `SELECT rolname, rolcanlogin, rolconnlimit,
			coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '')
			FROM pg_roles r WHERE rolname NOT LIKE 'pg\_%' AND rolname NOT LIKE 'rds%' ORDER BY rolname`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, member string
			var login bool
			var limit int
			if err := rows.Scan(&name, &login, &limit, &member); err != nil {
				t.Fatal(err)
			}
			lines = append(lines, fmt.Sprintf("role %s %s limit %d member of [%s]", name, map[bool]string{true: "login", false: "nologin"}[login], limit, member))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		dbRows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname NOT IN ('postgres', 'rdsadmin') ORDER BY 1")
		if err != nil {
			t.Fatal(err)
		}
		dbs, err := pgx.CollectRows(dbRows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, db := range dbs {
			lines = append(lines, "database "+db)
			dc := connectAs(ctx, t, c, id, db, twin.DemoPassword)
			tr, err := dc.Query(ctx, "SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1")
			if err != nil {
				t.Fatal(err)
			}
			tables, err := pgx.CollectRows(tr, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			for _, tb := range tables {
				var n int64
				if err := dc.QueryRow(ctx, "SELECT count(*) FROM "+tb).Scan(&n); err != nil {
					t.Fatal(err)
				}
				lines = append(lines, fmt.Sprintf("%s %s rows %d", db, tb, n))
			}
			dc.Close(context.WithoutCancel(ctx))
		}
		return strings.Join(lines, "\n") + "\n"
	}
}

func mergeVals(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// rowsOf keeps a probe's row-count lines of one database.
func rowsOf(probe, db string) string {
	var out []string
	for _, l := range strings.Split(probe, "\n") {
		if strings.HasPrefix(l, db+" ") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// listing is a directory's files, with their sizes, as the test reads them.
func listing(t testing.TB, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			lines = append(lines, rel+"/")
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s %d", rel, fi.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n") + "\n"
}

func connectAs(ctx context.Context, t testing.TB, c *awsrds.Client, id, db, password string) *pgx.Conn {
	t.Helper()
	return connectRole(ctx, t, c, id, db, twin.DemoMaster, password)
}

// connectRole logs in to an instance's database as role.
func connectRole(ctx context.Context, t testing.TB, c *awsrds.Client, id, db, role, password string) *pgx.Conn {
	t.Helper()
	out, err := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
	if err != nil {
		t.Fatal(err)
	}
	i := out.DBInstances[0]
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d sslmode=prefer connect_timeout=10", aws.ToString(i.Endpoint.Address), aws.ToInt32(i.Endpoint.Port)))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database, cfg.User, cfg.Password = db, role, password
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s/%s: %v", id, db, err)
	}
	return conn
}

func sqlExec(ctx context.Context, t testing.TB, c *awsrds.Client, id, db, sql string) {
	t.Helper()
	conn := connectAs(ctx, t, c, id, db, twin.DemoPassword)
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s on %s/%s: %v", sql, id, db, err)
	}
}

// lookAlikeGlobals is a complete globals file, as cairn writes it, of another source: a rehearsal
// on another instance.
func lookAlikeGlobals(t testing.TB) []byte {
	t.Helper()
	p, err := json.Marshal(pgdata.Provenance{RunID: "rehearsal", Taken: time.Now(), Source: pgdata.Identity{
		Label: "instance app-db-rehearsal", Instance: "app-db-rehearsal", ResourceID: "db-REHEARSAL0000000000000000",
		Databases: map[string]uint32{"app": 16390, "analytics": 16391}}})
	if err != nil {
		t.Fatal(err)
	}
	return []byte("-- cairn: provenance " + string(p) + "\nCREATE ROLE app_owner;\nCREATE ROLE app_rw;\nALTER ROLE app_rw WITH LOGIN;\n-- cairn: end of globals\n")
}

// manifestRun is the run id a directory's manifest records ("" when it has none).
func manifestRun(t testing.TB, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cairn-manifest.json"))
	if err != nil {
		return ""
	}
	var m pgdata.Manifest
	if err := json.Unmarshal(b, &m); err != nil || m.Provenance == nil {
		return ""
	}
	return m.Provenance.RunID
}

// removeDump removes what a dump wrote into dir (the globals file stays).
func removeDump(t testing.TB, dir string) {
	t.Helper()
	for _, f := range []string{"app.dir", "analytics.dir", "cairn-manifest.json", "cairn-owner.json"} {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
}

// otherRunsManifest is the dump in dir as another run left it: the same files, the manifest
// recording run "yesterday".
func otherRunsManifest(dir string) *steptest.LookAlike {
	path := filepath.Join(dir, "cairn-manifest.json")
	var saved []byte
	return &steptest.LookAlike{
		What: "the dump-dir's manifest recording another run (yesterday's dump of the same source)",
		Plant: func(t testing.TB) {
			var err error
			if saved, err = os.ReadFile(path); err != nil {
				t.Fatal(err)
			}
			var m map[string]json.RawMessage
			if err := json.Unmarshal(saved, &m); err != nil {
				t.Fatal(err)
			}
			var p pgdata.Provenance
			if err := json.Unmarshal(m["provenance"], &p); err != nil {
				t.Fatal(err)
			}
			p.RunID = "yesterday"
			if m["provenance"], err = json.Marshal(p); err != nil {
				t.Fatal(err)
			}
			b, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		There: func(t testing.TB) bool { return manifestRun(t, dir) == "yesterday" },
		Remove: func(t testing.TB) {
			if err := os.WriteFile(path, saved, 0o600); err != nil {
				t.Fatal(err)
			}
		},
	}
}

func resourceID(ctx context.Context, t testing.TB, c *awsrds.Client, id string) string {
	t.Helper()
	out, err := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DBInstances[0].DbiResourceId)
}

func waitAvailable(t testing.TB, c *awsrds.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := c.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
		if err == nil && aws.ToString(out.DBInstances[0].DBInstanceStatus) == "available" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance %s not available: %v", id, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
