// Package rdsencrypt_test drives the rds-encrypt runbook end to end through the real cairn binary
// against the rehearsal twin (real PostgreSQL clusters behind the AWS APIs), on the twin's demo data.
package rdsencrypt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

type rig struct {
	t     *testing.T
	tw    *twin.Server
	dir   string
	bin   string
	state string
	dump  string
	env   []string
	rds   *awsrds.Client
	kms   *awskms.Client
	sm    *awssm.Client
}

func newRig(t *testing.T) *rig { t.Helper(); return newRigRows(t, 3000) }

// newRigRows is a rig whose demo data has rows rows.
func newRigRows(t *testing.T, rows int) *rig {
	t.Helper()
	testbed.Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r := &rig{t: t, dir: testbed.TempDir(t), bin: testbed.CairnBinary(t)}
	tw, err := twin.Start(ctx, twin.Options{Dir: filepath.Join(r.dir, "twin"), Speed: twin.SpeedFast, Seed: twin.SeedDemo, Rows: rows})
	if err != nil {
		t.Fatal(err)
	}
	r.tw = tw
	t.Cleanup(func() { r.killRunners(); _ = tw.Close(context.Background()) })
	r.state = filepath.Join(r.dir, "state")
	r.dump = filepath.Join(r.dir, "dump")
	r.env = append(append(os.Environ(), tw.Env()...), "CAIRN_STATE_DIR="+r.state)
	cfg := twin.AWSConfig()
	ep := tw.Endpoint()
	r.rds = awsrds.NewFromConfig(cfg, func(o *awsrds.Options) { o.BaseEndpoint = &ep })
	r.kms = awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.BaseEndpoint = &ep })
	r.sm = awssm.NewFromConfig(cfg, func(o *awssm.Options) { o.BaseEndpoint = &ep })
	return r
}

func (r *rig) cairn(args ...string) (string, int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = r.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		r.t.Fatalf("cairn %v: %v", args, err)
	}
	return out.String(), code
}

// openWindow is the --confirm value that starts the window: the quiesce's typed confirmation of
// the instance, which --yes never answers.
const openWindow = "quiesce=" + twin.DemoInstance

// params are the -p flags of a run on the demo instance; extra "name=value" override the defaults.
func (r *rig) params(extra ...string) []string {
	vals := map[string]string{"instance": twin.DemoInstance, "kms-key": twin.DemoKeyAlias, "credentials-secret": twin.DemoSecret, "dump-dir": r.dump}
	order := []string{"instance", "kms-key", "credentials-secret", "dump-dir"}
	for _, e := range extra {
		k, v, _ := strings.Cut(e, "=")
		if _, ok := vals[k]; !ok {
			order = append(order, k)
		}
		vals[k] = v
	}
	args := []string{"--no-tui"}
	for _, k := range order {
		args = append(args, "-p", k+"="+vals[k])
	}
	return args
}

func (r *rig) runs() []*journal.Run {
	ids, _ := journal.List(r.state)
	var out []*journal.Run
	for _, id := range ids {
		if run, err := journal.Open(r.state, id); err == nil {
			out = append(out, run)
		}
	}
	return out
}

func (r *rig) killRunners() {
	for _, run := range r.runs() {
		if li, alive := journal.Holder(run); alive && li.PID > 0 {
			_ = syscall.Kill(li.PID, syscall.SIGKILL)
		}
	}
}

func (r *rig) runnerLog() string {
	var b strings.Builder
	for _, run := range r.runs() {
		data, _ := os.ReadFile(filepath.Join(journal.RunsDir(r.state), run.ID, journal.RunnerLog))
		b.Write(data)
	}
	return b.String()
}

// waitJournal polls a run's journal until cond holds.
func (r *rig) waitJournal(run *journal.Run, what string, cond func([]events.Event) bool) {
	r.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		recs, _ := journal.ReadAll(run)
		if cond(recs) {
			return
		}
		if has(recs, events.RunFinished, "") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	recs, _ := journal.ReadAll(run)
	var tail []string
	for _, e := range recs {
		if e.Type == events.StepFailed || e.Type == events.StepChecked && e.Check != nil && e.Check.State == "blocked" {
			tail = append(tail, fmt.Sprintf("%s %s %+v %+v", e.Type, e.Step, e.Error, e.Check))
		}
	}
	r.t.Fatalf("timed out waiting for %s\n%s\n%s", what, strings.Join(tail, "\n"), r.runnerLog())
}

func has(recs []events.Event, typ events.Type, step string) bool {
	for _, e := range recs {
		if e.Type == typ && e.Step == step {
			return true
		}
	}
	return false
}

// killDuring starts a detached run, SIGKILLs its runner once step is applying (after delay), and
// returns the run; it fails the test if the step had already finished when the kill landed.
func (r *rig) killDuring(step string, delay time.Duration, args ...string) *journal.Run {
	r.t.Helper()
	out, code := r.cairn(append(args, "--detach")...)
	if code != 0 {
		r.t.Fatalf("detached run: exit %d\n%s", code, out)
	}
	runs := r.runs()
	if len(runs) != 1 {
		r.t.Fatalf("want one run, have %d", len(runs))
	}
	run := runs[0]
	r.waitJournal(run, step+" applying", func(e []events.Event) bool { return has(e, events.StepApplying, step) })
	time.Sleep(delay)
	li, alive := journal.Holder(run)
	if !alive {
		r.t.Fatalf("runner not alive\n%s", r.runnerLog())
	}
	if err := syscall.Kill(li.PID, syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	for i := 0; i < 200 && syscall.Kill(li.PID, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	recs, _ := journal.ReadAll(run)
	if has(recs, events.StepApplied, step) {
		r.t.Fatalf("step %s had already finished when the runner was killed: the test did not kill it mid-step", step)
	}
	return run
}

// noStepRepeated checks that each step's work was applied at most once over the whole run.
func (r *rig) noStepRepeated(run *journal.Run) {
	r.t.Helper()
	recs, _ := journal.ReadAll(run)
	applied := map[string]int{}
	for _, e := range recs {
		if e.Type == events.StepApplied {
			applied[e.Step]++
		}
	}
	for s, n := range applied {
		if n > 1 {
			r.t.Errorf("step %s applied %d times", s, n)
		}
	}
}

func (r *rig) instance(id string) (found bool, encrypted bool, key string, host string, port int) {
	r.t.Helper()
	out, err := r.rds.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
	if err != nil || len(out.DBInstances) == 0 {
		return false, false, "", "", 0
	}
	i := out.DBInstances[0]
	if i.Endpoint != nil {
		host, port = aws.ToString(i.Endpoint.Address), int(aws.ToInt32(i.Endpoint.Port))
	}
	return true, aws.ToBool(i.StorageEncrypted), aws.ToString(i.KmsKeyId), host, port
}

func (r *rig) keyARN() string {
	out, err := r.kms.DescribeKey(context.Background(), &awskms.DescribeKeyInput{KeyId: aws.String(twin.DemoKeyAlias)})
	if err != nil {
		r.t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// inventory lists every instance and snapshot with its status: "nothing changed" compares two.
func (r *rig) inventory() string {
	ctx := context.Background()
	var lines []string
	is, err := r.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, i := range is.DBInstances {
		lines = append(lines, fmt.Sprintf("instance %s %s enc=%v", aws.ToString(i.DBInstanceIdentifier), aws.ToString(i.DBInstanceStatus), aws.ToBool(i.StorageEncrypted)))
	}
	ss, err := r.rds.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, s := range ss.DBSnapshots {
		lines = append(lines, "snapshot "+aws.ToString(s.DBSnapshotIdentifier))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// login connects to an instance's database as user.
func (r *rig) login(id, db, user, pw string) (*pgx.Conn, error) {
	found, _, _, host, port := r.instance(id)
	if !found {
		return nil, fmt.Errorf("instance %s not found", id)
	}
	return pgx.Connect(context.Background(), fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=require",
		host, port, db, pgcluster.QuoteValue(user), pgcluster.QuoteValue(pw)))
}

// fingerprint describes the demo application on an instance, as the master from the secret sees it:
// every table's rows, sequences, roles and their memberships, grants, default privileges, extensions.
func (r *rig) fingerprint(id string) string {
	r.t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, db := range []string{"app", "analytics"} {
		c, err := r.login(id, db, twin.DemoMaster, twin.DemoPassword)
		if err != nil {
			r.t.Fatalf("log in to %s/%s with the secret's credentials: %v", id, db, err)
		}
		queries := []string{
			`SELECT format('%s.%s', schemaname, relname) FROM pg_stat_user_tables`,
			`SELECT extname FROM pg_extension`,
			`SELECT format('%s.%s=%s', schemaname, sequencename, last_value) FROM pg_sequences`,
			`SELECT format('%s:%s', nspname, array_to_string(ARRAY(SELECT x::text FROM unnest(nspacl) x ORDER BY 1), ';')) FROM pg_namespace WHERE nspname IN ('shop', 'audit', 'reports')`,
			`SELECT format('%s.%s:%s', n.nspname, c.relname, array_to_string(ARRAY(SELECT x::text FROM unnest(c.relacl) x ORDER BY 1), ';')) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname IN ('shop', 'audit', 'reports') AND c.relkind IN ('r', 'v', 'S')`,
			`SELECT format('%s:%s', defaclobjtype, array_to_string(ARRAY(SELECT x::text FROM unnest(defaclacl) x ORDER BY 1), ';')) FROM pg_default_acl`,
			`SELECT format('%s(login=%s) in %s', r.rolname, r.rolcanlogin, (SELECT string_agg(g.rolname, '+' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid AND g.rolname NOT LIKE 'rds%')) FROM pg_roles r WHERE r.rolname NOT LIKE 'pg\_%' AND r.rolname NOT LIKE 'rds%'`,
		}
		for _, q := range queries {
			var s *string
			if err := c.QueryRow(ctx, "SELECT string_agg(x, ',' ORDER BY x) FROM ("+q+") AS s(x)").Scan(&s); err != nil {
				r.t.Fatalf("%s/%s: %s: %v", id, db, q, err)
			}
			fmt.Fprintf(&b, "%s: %s\n", db, aws.ToString(s))
		}
		for _, tb := range r.userTables(c) {
			var n int64
			var sum string
			if err := c.QueryRow(ctx, "SELECT count(*), coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM "+tb+" t").Scan(&n, &sum); err != nil {
				r.t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s: %s rows=%d md5=%s\n", db, tb, n, sum)
		}
		c.Close(ctx)
	}
	return b.String()
}

// userTables lists the user tables of c's database, quoted, in order.
func (r *rig) userTables(c *pgx.Conn) []string {
	r.t.Helper()
	rows, err := c.Query(context.Background(), `SELECT format('%I.%I', schemaname, relname) FROM pg_stat_user_tables ORDER BY 1`)
	if err != nil {
		r.t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		r.t.Fatal(err)
	}
	return tables
}

// createSecret stores a JSON secret in the twin.
func (r *rig) createSecret(name string, v any) {
	b, _ := json.Marshal(v)
	if _, err := r.sm.CreateSecret(context.Background(), &awssm.CreateSecretInput{Name: &name, SecretString: aws.String(string(b))}); err != nil {
		r.t.Fatal(err)
	}
}

// superuser connects to an instance's cluster as rdsadmin over its Unix socket (tests only: on RDS
// nobody can), to make the source hold something the target will refuse.
func (r *rig) superuser(id, db string) *pgx.Conn {
	r.t.Helper()
	out, err := r.rds.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
	if err != nil {
		r.t.Fatal(err)
	}
	dsn, err := twin.SuperuserConnString(filepath.Join(r.dir, "twin"), aws.ToString(out.DBInstances[0].DbiResourceId), db)
	if err != nil {
		r.t.Fatal(err)
	}
	c, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// neverWritten fails if any file cairn wrote (its state directory: journal, logs, answers; the dump
// directory) holds one of the secrets.
func (r *rig) neverWritten(secrets ...string) {
	r.t.Helper()
	for _, root := range []string{r.state, r.dump} {
		_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			for _, s := range secrets {
				if bytes.Contains(b, []byte(s)) {
					r.t.Errorf("%s holds a secret", p)
				}
			}
			return nil
		})
	}
}
