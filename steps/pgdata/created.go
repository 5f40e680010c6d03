package pgdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/steps"
)

// created is the work-dir record of the databases a restore or a streamed copy creates on its
// target: a name goes in before its database is created (OID 0), and its OID once it exists. Only a
// database in the record — with that OID, or still being created — is this run's: one of the same
// name found on the target otherwise (another run's, someone's) is never taken for a restored
// database, never dropped and never replaced.
type created struct {
	path string
	DBs  map[string]uint32 `json:"databases"`
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// createdBy reads the record of the step env runs (in the run's private work directory).
func createdBy(env *steps.Env) (*created, error) {
	c := &created{DBs: map[string]uint32{}}
	var err error
	if c.path, _, err = workRecord(env, "databases", "the record of the databases this run created", c); err != nil {
		return nil, err
	}
	return c, nil
}

// workRecord reads the step's record named name (pgdata-<step>-<name>.json in the run's work
// directory) into v. The path is "" outside a run (no work directory); found says whether the file
// was there. what names the record in an error.
func workRecord(env *steps.Env, name, what string, v any) (path string, found bool, err error) {
	if env.WorkDir == "" {
		return "", false, nil
	}
	path = filepath.Join(env.WorkDir, "pgdata-"+unsafeName.ReplaceAllString(env.StepID, "_")+"-"+name+".json")
	found, err = readRecord(path, what, v)
	return path, found, err
}

// readRecord reads the record at path into v; found says whether the file was there.
func readRecord(path, what string, v any) (bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("%s (%s): %w", what, path, err)
	}
	return true, nil
}

// saveRecord writes a record workRecord read (nothing outside a run), durably.
func saveRecord(path string, v any) error {
	if path == "" {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return writeDurable(filepath.Dir(path), filepath.Base(path), b)
}

// mark records db (with its OID, or 0 before it is created).
func (c *created) mark(db string, oid uint32) error {
	c.DBs[db] = oid
	return saveRecord(c.path, c)
}

// ours says whether the database db with oid on the target is this run's.
func (c *created) ours(db string, oid uint32) bool {
	v, ok := c.DBs[db]
	return ok && (v == 0 || v == oid)
}

// databaseOID is the OID of db on the server c is connected to (0 when it does not exist).
func databaseOID(ctx context.Context, c *pgx.Conn, db string) (uint32, error) {
	var oid uint32
	err := c.QueryRow(ctx, "SELECT oid FROM pg_database WHERE datname = $1", db).Scan(&oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return oid, err
}

// notOurs is the error for a database of the name on the target that this run did not create.
func notOurs(tgt dsn, db string, oid uint32) error {
	return foreign(fmt.Sprintf("a database %s (oid %d) is on %s, and this run did not create it: it is not taken for the restored %s, and not dropped", db, oid, tgt.Label, db),
		"the target is not fresh: find out whose it is; drop or rename it if it should not be there (DROP DATABASE "+ident(db)+"), then run again")
}

// recordCreated records db's OID on the target once it exists.
func (c *created) recordCreated(ctx context.Context, tgt dsn, db string) error {
	conn, err := tgt.connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	oid, err := databaseOID(ctx, conn, db)
	if err != nil {
		return err
	}
	return c.mark(db, oid)
}

// dropOurs drops db from the target when it is this run's; one that is not is refused.
func (c *created) dropOurs(ctx context.Context, tgt dsn, db string) error {
	conn, err := tgt.connect(ctx, "")
	if err != nil {
		return err
	}
	oid, err := databaseOID(ctx, conn, db)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil || oid == 0 {
		return err
	}
	if !c.ours(db, oid) {
		return notOurs(tgt, db, oid)
	}
	return dropDatabase(ctx, tgt, db)
}

// noneForeign checks that no database of the names dbs is on the target unless this run made it.
func (c *created) noneForeign(ctx context.Context, tgt dsn, dbs []string) error {
	conn, err := tgt.connect(ctx, "")
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, db := range dbs {
		oid, err := databaseOID(ctx, conn, db)
		if err != nil {
			return err
		}
		if oid != 0 && !c.ours(db, oid) {
			return notOurs(tgt, db, oid)
		}
	}
	return nil
}
