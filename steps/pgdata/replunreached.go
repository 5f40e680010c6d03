package pgdata

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
)

// replTarget is the replication's record of its target instance, written before anything is
// created on it: a rollback that cannot reach the target by its name asks RDS for it by its
// DbiResourceId (which stays with it across renames and is never reused), and only when RDS has no
// such instance are its subscriptions known to have gone with it.
type replTarget struct {
	Instance   string `json:"instance"`
	ResourceID string `json:"resource_id"`
}

// targetRecord reads the record, one per run (the cut-back's pg-replication-drop reads the
// replicate step's); path is "" outside a run.
func targetRecord(env *steps.Env) (rec replTarget, path string, err error) {
	if env.WorkDir == "" {
		return rec, "", nil
	}
	path = filepath.Join(env.WorkDir, "pgdata-replication-target.json")
	_, err = readRecord(path, "the record of the replication's target", &rec)
	return rec, path, err
}

// recordTarget writes the record (nothing for a server that is not an RDS instance).
func recordTarget(env *steps.Env, tgt dsn) error {
	if tgt.ResourceID == "" {
		return nil
	}
	rec, path, err := targetRecord(env)
	if err != nil || (rec.ResourceID == tgt.ResourceID && rec.Instance == tgt.Instance) {
		return err
	}
	return saveRecord(path, replTarget{Instance: tgt.Instance, ResourceID: tgt.ResourceID})
}

// targetLeft is the error of a rollback that left the subscriptions on a target it cannot reach.
type targetLeft struct{ msg string }

func (e *targetLeft) Error() string { return e.msg }

// targetGone says whether the target the rollback cannot reach (terr) is proved deleted: RDS has no
// instance with its recorded DbiResourceId. Otherwise it gives, as an error with its fix, what is
// left on it: the subscriptions of dbs (still streaming, or retrying) and the databases this run
// created there.
func (r *Replicate) targetGone(ctx context.Context, env *steps.Env, terr error, dbs []string, oids map[string]uint32, own *created) (bool, error) {
	rec, _, err := targetRecord(env)
	if err != nil {
		return false, err
	}
	label := r.Target.describe(env)
	where := label
	if rec.ResourceID != "" {
		id, err := instanceByResourceID(ctx, env, r.Target, rec.ResourceID)
		if err != nil {
			return false, fmt.Errorf("the target cannot be reached (%v), and looking for it by its DbiResourceId %s failed: %w", terr, rec.ResourceID, err)
		}
		if id == "" {
			env.Info(fmt.Sprintf("the target instance %s (DbiResourceId %s) no longer exists: its subscriptions and databases went with it", rec.Instance, rec.ResourceID))
			return true, nil
		}
		where = "instance " + id + " (DbiResourceId " + rec.ResourceID + ")"
		if id != rec.Instance {
			where += ", renamed from " + rec.Instance
		}
	}
	var fix []string
	for _, db := range dbs {
		s := ident(slotName(env, oids[db]))
		fix = append(fix, fmt.Sprintf("%s: ALTER SUBSCRIPTION %s DISABLE; ALTER SUBSCRIPTION %s SET (slot_name = NONE); DROP SUBSCRIPTION %s;", db, s, s, s))
	}
	for _, db := range sortedKeys(own.DBs) {
		fix = append(fix, "DROP DATABASE "+ident(db)+";")
	}
	again := "then run the rollback again"
	if rec.ResourceID != "" && !strings.HasPrefix(where, label) {
		again = fmt.Sprintf("or give it its name back (aws rds modify-db-instance --db-instance-identifier <its identifier now> --new-db-instance-identifier %s --apply-immediately) and run the rollback again, which does this itself; then run the rollback again", rec.Instance)
	}
	return false, &steps.FixError{Fix: fmt.Sprintf("on %s, as the master: %s — %s", where, strings.Join(fix, " "), again),
		Err: &targetLeft{fmt.Sprintf("the target %s cannot be reached (%v) and is not proved deleted: this run's subscriptions on it were NOT dropped (they may still be enabled, retrying their slots) nor the databases it created there; this run's slots and publications on the source were dropped", label, terr)}}
}

// instanceByResourceID is the identifier of the instance with DbiResourceId id in s's region now,
// "" when RDS has none (it was deleted: resource ids are never reused).
func instanceByResourceID(ctx context.Context, env *steps.Env, s Server, id string) (string, error) {
	region, err := env.OptionalText(s.Region)
	if err != nil {
		return "", err
	}
	c, err := awsstep.NewClients(ctx, env, region)
	if err != nil {
		return "", err
	}
	out, err := c.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{Filters: []rdstypes.Filter{{Name: aws.String("dbi-resource-id"), Values: []string{id}}}})
	if err != nil {
		return "", err
	}
	if len(out.DBInstances) == 0 {
		return "", nil
	}
	return aws.ToString(out.DBInstances[0].DBInstanceIdentifier), nil
}
