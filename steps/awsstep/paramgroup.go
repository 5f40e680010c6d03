package awsstep

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// LogicalReplication is the `rds-logical-replication` kind: it gives the instance a parameter group
// with `rds.logical_replication = 1` (and, when given, `max_slot_wal_keep_size`, so a stalled slot
// cannot fill the disk). The instance's own group is never modified — a default group cannot be, and
// a custom one may be shared with other instances: it is copied (CopyDBParameterGroup) under Group,
// the copy's description naming this run, the parameters set on the copy (rds.logical_replication
// is static: ApplyMethod pending-reboot), and the copy attached with ApplyImmediately. The parameter
// takes effect at the next reboot: the `rds-reboot` step, its own confirmation.
//
// Check says done when the instance's group is Group, made by this run (its description), with the
// parameters; a group of that name made otherwise is blocked, never modified. Rollback attaches the
// instance's previous group again (pending reboot: wal_level stays logical until the next reboot)
// and deletes the copy.
type LogicalReplication struct {
	Region   `yaml:",inline"`
	Instance ref.Template `yaml:"instance"`
	Group    ref.Template `yaml:"group"`
	// MaxSlotWALKeepSize is max_slot_wal_keep_size in MB ("" leaves the group's value).
	MaxSlotWALKeepSize ref.Template `yaml:"max-slot-wal-keep-size"`
}

func registerLogicalReplication(r *steps.Registry) {
	r.Register("rds-logical-replication", "copy the instance's parameter group with rds.logical_replication=1 and attach it (applied at the reboot)", func() steps.Step { return &LogicalReplication{} })
}

// OutputNames declares the outputs.
func (l *LogicalReplication) OutputNames() []string { return []string{"group", "previous-group"} }

// Validate checks the parameters.
func (l *LogicalReplication) Validate() error {
	if l.Instance.IsZero() || l.Group.IsZero() {
		return fmt.Errorf("give `instance:` and `group:` (the name of the copy with rds.logical_replication)")
	}
	return nil
}

func groupDescription(env *steps.Env, from string) string {
	return fmt.Sprintf("cairn run %s: %s with rds.logical_replication=1", orNone(env.RunID), from)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Describe lists the calls.
func (l *LogicalReplication) Describe(env *steps.Env) []steps.Action {
	inst, g := env.Describe(l.Instance), env.Describe(l.Group)
	params := "ParameterName=rds.logical_replication, ParameterValue=1, ApplyMethod=pending-reboot"
	if k := env.Describe(l.MaxSlotWALKeepSize); k != "" {
		params += "; ParameterName=max_slot_wal_keep_size, ParameterValue=" + k + ", ApplyMethod=immediate"
	}
	return []steps.Action{
		call("rds DescribeDBInstances", "DBInstanceIdentifier", inst),
		call("rds DescribeDBParameterGroups", "DBParameterGroupName", g+"  (absent, or this run's copy: its description names the run — another's is refused)"),
		call("rds DescribeDBParameters", "DBParameterGroupName", g+"  (when it exists: rds.logical_replication, max_slot_wal_keep_size)"),
		call("rds CopyDBParameterGroup", "SourceDBParameterGroupIdentifier", "<the instance's group>", "TargetDBParameterGroupIdentifier", g, "TargetDBParameterGroupDescription", fmt.Sprintf("cairn run %s: <the instance's group> with rds.logical_replication=1", env.DescribeRunID())),
		call("rds ModifyDBParameterGroup", "DBParameterGroupName", g, "Parameters", params),
		call("rds ModifyDBInstance", "DBInstanceIdentifier", inst, "DBParameterGroupName", g, "ApplyImmediately", "true"),
		{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBInstances " + inst + " until available with DBParameterGroups[0] = " + g + " (pending-reboot until the reboot step)"},
		call("rds DescribeDBParameterGroups", "DBParameterGroupName", g+"  (a resumed apply: the group it was copied from, out of its description — the rollback re-attaches it)"),
	}
}

// pgState is what the kind reads.
type pgState struct {
	c                        *Clients
	inst, group, keep        string
	current, applyStatus     string
	status                   string // the instance's DBInstanceStatus
	groupExists, groupIsOurs bool
	groupHas                 bool
	why                      string
}

func (l *LogicalReplication) read(ctx context.Context, env *steps.Env) (*pgState, error) {
	rv := resolving(env)
	st := &pgState{inst: rv.text(l.Instance), group: strings.ToLower(rv.text(l.Group))}
	if err := rv.err; err != nil {
		return nil, err
	}
	var err error
	if !l.MaxSlotWALKeepSize.IsZero() {
		if st.keep, err = env.Text(l.MaxSlotWALKeepSize); err != nil {
			return nil, err
		}
	}
	if st.c, err = l.clients(ctx, env); err != nil {
		return nil, err
	}
	inst, ok, err := st.c.Instance(ctx, st.inst)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("instance %s does not exist", st.inst)
	}
	st.status = aws.ToString(inst.DBInstanceStatus)
	if len(inst.DBParameterGroups) > 0 {
		st.current, st.applyStatus = aws.ToString(inst.DBParameterGroups[0].DBParameterGroupName), aws.ToString(inst.DBParameterGroups[0].ParameterApplyStatus)
	}
	gs, err := st.c.RDS.DescribeDBParameterGroups(ctx, &rds.DescribeDBParameterGroupsInput{DBParameterGroupName: aws.String(st.group)})
	if err != nil && errCode(err) != "DBParameterGroupNotFound" {
		return nil, fmt.Errorf("DescribeDBParameterGroups %s: %w", st.group, err)
	}
	if err == nil && len(gs.DBParameterGroups) > 0 {
		st.groupExists = true
		desc := aws.ToString(gs.DBParameterGroups[0].Description)
		st.groupIsOurs = strings.HasPrefix(desc, fmt.Sprintf("cairn run %s: ", orNone(env.RunID)))
		if !st.groupIsOurs {
			st.why = fmt.Sprintf("parameter group %s exists and was not made by this run (its description: %q)", st.group, desc)
		}
		vals, err := groupParams(ctx, st.c, st.group, "rds.logical_replication", "max_slot_wal_keep_size")
		if err != nil {
			return nil, err
		}
		st.groupHas = vals["rds.logical_replication"] == "1" && (st.keep == "" || vals["max_slot_wal_keep_size"] == st.keep)
	}
	return st, nil
}

// groupParams reads the named parameters' values in a group.
func groupParams(ctx context.Context, c *Clients, group string, names ...string) (map[string]string, error) {
	out := map[string]string{}
	p := rds.NewDescribeDBParametersPaginator(c.RDS, &rds.DescribeDBParametersInput{DBParameterGroupName: aws.String(group)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("DescribeDBParameters %s: %w", group, err)
		}
		for _, x := range page.Parameters {
			for _, n := range names {
				if aws.ToString(x.ParameterName) == n {
					out[n] = aws.ToString(x.ParameterValue)
				}
			}
		}
	}
	return out, nil
}

// Check says whether the instance has this run's group with the parameters.
func (l *LogicalReplication) Check(ctx context.Context, env *steps.Env) steps.Check {
	st, err := l.read(ctx, env)
	if err != nil {
		return unknownOr(err, "check the instance's identifier and AWS access")
	}
	if st.groupExists && !st.groupIsOurs {
		return steps.BlockedBy(st.why+": it is not modified or attached by cairn", foreignGroupFix(st, previousGroup(ctx, st.c, st.group)))
	}
	if st.current == st.group && st.groupHas {
		return steps.AlreadyDone("%s has parameter group %s with rds.logical_replication=1 (%s)", st.inst, st.group, st.applyStatus)
	}
	return steps.ReadyTo(steps.Update, "copy %s's parameter group %s to %s with rds.logical_replication=1 and attach it (takes effect at the reboot step)", st.inst, st.current, st.group)
}

// Apply copies, sets and attaches.
func (l *LogicalReplication) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	st, err := l.read(ctx, env)
	if err != nil {
		return nil, err
	}
	if st.groupExists && !st.groupIsOurs {
		return nil, steps.Unchanged(errors.New(st.why + ": refusing to modify or attach it"))
	}
	previous := st.current
	if st.current == st.group { // a resumed apply: the previous group is in the copy's description
		previous = ""
	}
	if !st.groupExists {
		if _, err := st.c.RDS.CopyDBParameterGroup(ctx, &rds.CopyDBParameterGroupInput{SourceDBParameterGroupIdentifier: aws.String(st.current),
			TargetDBParameterGroupIdentifier: aws.String(st.group), TargetDBParameterGroupDescription: aws.String(groupDescription(env, st.current))}); err != nil {
			return nil, fmt.Errorf("CopyDBParameterGroup %s → %s: %w", st.current, st.group, err)
		}
		env.Info(fmt.Sprintf("parameter group %s copied to %s", st.current, st.group))
	}
	params := []rdstypes.Parameter{{ParameterName: aws.String("rds.logical_replication"), ParameterValue: aws.String("1"), ApplyMethod: rdstypes.ApplyMethodPendingReboot}}
	if st.keep != "" {
		params = append(params, rdstypes.Parameter{ParameterName: aws.String("max_slot_wal_keep_size"), ParameterValue: aws.String(st.keep), ApplyMethod: rdstypes.ApplyMethodImmediate})
	}
	if _, err := st.c.RDS.ModifyDBParameterGroup(ctx, &rds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String(st.group), Parameters: params}); err != nil {
		return nil, fmt.Errorf("ModifyDBParameterGroup %s: %w", st.group, err)
	}
	if st.current != st.group {
		if _, err := st.c.RDS.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(st.inst), DBParameterGroupName: aws.String(st.group), ApplyImmediately: aws.Bool(true)}); err != nil {
			return nil, fmt.Errorf("ModifyDBInstance %s DBParameterGroupName %s: %w", st.inst, st.group, err)
		}
	}
	inst, err := st.c.WaitInstance(ctx, env, st.inst)
	if err != nil {
		return nil, err
	}
	if len(inst.DBParameterGroups) > 0 {
		env.Info(fmt.Sprintf("%s has parameter group %s (%s): rds.logical_replication takes effect at the reboot", st.inst, st.group, aws.ToString(inst.DBParameterGroups[0].ParameterApplyStatus)))
	}
	if previous == "" {
		previous = previousGroup(ctx, st.c, st.group)
	}
	return steps.Outputs{}.Set("group", st.group).Set("previous-group", previous), nil
}

// foreignGroupFix is what to do about a group of the step's name this run did not make. Attached
// to the instance, it is most likely the copy of an earlier run that was cut back (a cut-back gives
// the source its name back but leaves its parameter group): unless that run is to be resumed, the
// instance's own group (prev, out of the copy's description) goes back on and the copy is deleted.
func foreignGroupFix(st *pgState, prev string) string {
	del := "aws rds delete-db-parameter-group --db-parameter-group-name " + st.group
	if st.current != st.group {
		return fmt.Sprintf("give `group` another name, or delete that group if it is not in use (%s)", del)
	}
	if prev == "" {
		prev = "<its previous group>"
	}
	return fmt.Sprintf("%s uses it: if the run that made it has ended, attach %s again and delete the copy — `aws rds modify-db-instance --db-instance-identifier %s --db-parameter-group-name %s --apply-immediately`, then `%s` (logical replication stays on until %s's next reboot); else resume that run", st.inst, prev, st.inst, prev, del, st.inst)
}

// previousGroup reads the group a copy was made from, out of its description.
func previousGroup(ctx context.Context, c *Clients, group string) string {
	gs, err := c.RDS.DescribeDBParameterGroups(ctx, &rds.DescribeDBParameterGroupsInput{DBParameterGroupName: aws.String(group)})
	if err != nil || len(gs.DBParameterGroups) == 0 {
		return ""
	}
	_, rest, _ := strings.Cut(aws.ToString(gs.DBParameterGroups[0].Description), ": ")
	from, _, _ := strings.Cut(rest, " with ")
	return from
}

// Observe reads the outputs when found done.
func (l *LogicalReplication) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	st, err := l.read(ctx, env)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("group", st.group).Set("previous-group", previousGroup(ctx, st.c, st.group)), nil
}

// Verify proves the instance has the group with the parameters.
func (l *LogicalReplication) Verify(ctx context.Context, env *steps.Env) error {
	if ch := l.Check(ctx, env); ch.State != steps.Done {
		return &steps.VerifyError{What: "parameter group", Expected: "this run's group with rds.logical_replication=1 attached", Found: ch.Reason}
	}
	return nil
}

// Rollback attaches the previous group again and deletes the copy — after an apply that stopped
// half-way too: a copy never attached is only deleted, and an instance still busy (modifying, or
// rebooting after the reboot step stopped as well) is waited for, since RDS refuses to modify it.
func (l *LogicalReplication) Rollback(ctx context.Context, env *steps.Env) error {
	st, err := l.read(ctx, env)
	if err != nil {
		return err
	}
	if !st.groupExists || !st.groupIsOurs {
		return nil
	}
	if st.current == st.group {
		prev := previousGroup(ctx, st.c, st.group)
		if prev == "" {
			return steps.Failed("attach the instance's previous group by hand (aws rds modify-db-instance --db-instance-identifier "+st.inst+" --db-parameter-group-name <it> --apply-immediately)", "the group %s was copied from cannot be read from its description", st.group)
		}
		if st.status != "available" {
			if _, err := st.c.WaitInstance(ctx, env, st.inst); err != nil {
				return err
			}
		}
		if _, err := st.c.RDS.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(st.inst), DBParameterGroupName: aws.String(prev), ApplyImmediately: aws.Bool(true)}); err != nil {
			return fmt.Errorf("ModifyDBInstance %s DBParameterGroupName %s: %w", st.inst, prev, err)
		}
		if _, err := st.c.WaitInstance(ctx, env, st.inst); err != nil {
			return err
		}
		// rds.logical_replication is static: the running server keeps wal_level=logical until it
		// restarts. The rollback does not reboot — an outage is not a rollback's to take
		// unasked; without this run's slots the cost is only the extra WAL logical decoding writes.
		env.Info(fmt.Sprintf("%s has parameter group %s again, pending its next reboot: logical replication (wal_level=logical) stays on until then — "+
			"harmless without replication slots, but more WAL; to end it now, a short outage: aws rds reboot-db-instance --db-instance-identifier %s", st.inst, prev, st.inst))
	}
	if _, err := st.c.RDS.DeleteDBParameterGroup(ctx, &rds.DeleteDBParameterGroupInput{DBParameterGroupName: aws.String(st.group)}); err != nil {
		return fmt.Errorf("DeleteDBParameterGroup %s: %w", st.group, err)
	}
	return nil
}

// Reboot is the `rds-reboot` kind: RebootDBInstance, to apply parameters that wait for it
// (ParameterApplyStatus pending-reboot), then wait until the instance is available and the group
// in-sync. A reboot is a short outage — connections are refused while it lasts (a minute or two on
// RDS) — so the runbook marks it destructive and confirmed, and places it before the window. Check
// says done when nothing waits for a reboot (read live). It cannot be rolled back, and changes
// nothing that is configured.
type Reboot struct {
	Region   `yaml:",inline"`
	Instance ref.Template `yaml:"instance"`
}

func registerReboot(r *steps.Registry) {
	r.Register("rds-reboot", "RebootDBInstance to apply pending-reboot parameters, and wait until in-sync (a short outage)", func() steps.Step { return &Reboot{} })
}

// Validate checks the parameters.
func (r *Reboot) Validate() error {
	if r.Instance.IsZero() {
		return fmt.Errorf("give `instance:`")
	}
	return nil
}

// Describe lists the calls.
func (r *Reboot) Describe(env *steps.Env) []steps.Action {
	inst := env.Describe(r.Instance)
	return []steps.Action{
		call("rds DescribeDBInstances", "DBInstanceIdentifier", inst+"  (ParameterApplyStatus: nothing to do when in-sync)"),
		call("rds RebootDBInstance", "DBInstanceIdentifier", inst),
		{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBInstances " + inst + " until available with ParameterApplyStatus in-sync   -- connections are refused meanwhile (about 1–2 minutes on RDS)"},
	}
}

func (r *Reboot) status(ctx context.Context, env *steps.Env) (*Clients, string, string, error) {
	id, err := env.Text(r.Instance)
	if err != nil {
		return nil, "", "", err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return nil, id, "", err
	}
	inst, ok, err := c.Instance(ctx, id)
	if err != nil {
		return c, id, "", err
	}
	if !ok {
		return c, id, "", fmt.Errorf("instance %s does not exist", id)
	}
	st := ""
	for _, g := range inst.DBParameterGroups {
		if s := aws.ToString(g.ParameterApplyStatus); s != "in-sync" {
			st = s
		}
	}
	return c, id, st, nil
}

// Check says whether parameters wait for a reboot.
func (r *Reboot) Check(ctx context.Context, env *steps.Env) steps.Check {
	_, id, st, err := r.status(ctx, env)
	if err != nil {
		return unknownOr(err, "check the instance's identifier and AWS access")
	}
	if st == "" {
		return steps.AlreadyDone("%s: no parameter waits for a reboot (in-sync)", id)
	}
	return steps.ReadyTo(steps.Update, "reboot %s to apply its parameters (%s) — connections are refused while it reboots (ETA about 1–2 minutes on RDS)", id, st)
}

// Apply reboots and waits.
func (r *Reboot) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	c, id, _, err := r.status(ctx, env)
	if err != nil {
		return nil, err
	}
	if _, err := c.RDS.RebootDBInstance(ctx, &rds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String(id)}); err != nil {
		return nil, fmt.Errorf("RebootDBInstance %s: %w", id, err)
	}
	env.Info("rebooting " + id)
	p := newPoller(env, "instance "+id+" to come back with its parameters applied")
	for {
		inst, err := c.WaitInstance(ctx, env, id)
		if err != nil {
			return nil, err
		}
		if len(inst.DBParameterGroups) == 0 || aws.ToString(inst.DBParameterGroups[0].ParameterApplyStatus) == "in-sync" {
			return nil, nil
		}
		if err := p.wait(ctx, aws.ToString(inst.DBParameterGroups[0].ParameterApplyStatus)); err != nil {
			return nil, err
		}
	}
}

// Verify proves nothing waits for a reboot.
func (r *Reboot) Verify(ctx context.Context, env *steps.Env) error {
	if ch := r.Check(ctx, env); ch.State != steps.Done {
		return &steps.VerifyError{What: "parameters", Expected: "in-sync", Found: ch.Reason}
	}
	return nil
}

// Rollback: a reboot cannot be undone, and changed nothing that is configured.
func (r *Reboot) Rollback(context.Context, *steps.Env) error {
	return steps.NotReversible("a reboot cannot be undone; it changed nothing that is configured (the parameter group step's rollback attaches the previous group again, which takes effect at the instance's next reboot)")
}
