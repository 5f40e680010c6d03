package runbooks_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/generic"
	"github.com/cairn-runbooks/cairn/steps/pg"
)

// stubKinds are the kinds the four real runbooks need, with the outputs later steps refer to.
var stubKinds = map[string][]string{
	"rds-preflight":     {"class", "port", "parameter-group", "subnet-group", "security-groups", "storage", "engine-version", "arn"},
	"kms-key":           {"key-arn"},
	"rds-snapshot":      {"snapshot-id", "snapshot-arn"},
	"rds-copy-snapshot": {"snapshot-id", "snapshot-arn"},
	"rds-restore":       {"endpoint", "port"},
	"rds-create":        {"endpoint", "port"},
	"rds-rename":        {"endpoint"},
	"rds-delete":        {"final-snapshot"},
	"pg-globals":        {"roles", "file"},
	"pg-quiesce":        {"wal-lsn"},
	"pg-dump":           {"dir", "databases", "counts"},
	"pg-restore":        {},
	"pg-verify-counts":  {},
	"secret-read":       {"username", "password", "host", "port", "dbname"},
	"os-user":           {"uid", "home"},
	"file-mode":         {},
	"file-write":        {"backup"},
	"pg-hba":            {},
	"pg-role":           {},
	"pg-setting":        {},
	"pg-restart":        {},
	"pgpass":            {},
	"pgbackrest":        {"stdout"},
	"ssh-keypair":       {"public-key", "fingerprint"},
	"ssh-remote":        {"stdout"},
	"authorized-key":    {"backup"},
	"sshd-config":       {"backup"},
	"cron-entry":        {},
	"rsync-command":     {"server-command"},
	"iam-role":          {"role-arn"},
	"rds-add-role":      {},
	"lambda-function":   {"function-arn"},
}

// stubRegistry has the generic kinds and a stub for every domain kind, whether or not a real kind of
// that name exists by now: the sketches prove the schema, not the kinds.
func stubRegistry() *steps.Registry {
	r := steps.NewRegistry()
	generic.Register(r)
	r.Register("sql", "SQL statements", func() steps.Step { return &pg.SQL{} })
	for name, outs := range stubKinds {
		if _, exists := r.Lookup(name); exists {
			continue
		}
		outs := outs
		r.Register(name, "stub", func() steps.Step { return &stub{outputs: outs} })
	}
	return r
}

// The schema can express the four real runbooks: their sketches load with stub kinds.
func TestSketchesOfTheFourRunbooksLoad(t *testing.T) {
	files, _ := filepath.Glob("testdata/sketches/*.yaml")
	if len(files) != 4 {
		t.Fatalf("want 4 sketches, have %v", files)
	}
	reg := stubRegistry()
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := runbooks.Load(f, data, reg)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if len(rb.Steps) < 5 {
			t.Errorf("%s: only %d steps", f, len(rb.Steps))
		}
	}
}
