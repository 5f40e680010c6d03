package awsstep

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// AddRole is the `rds-add-role` kind: associate an IAM role with a DB instance for one feature
// (Lambda, s3Import, …) and wait until the association is ACTIVE. Another role already associated for
// the same feature blocks it (an instance has one role per feature). Rollback removes the association.
type AddRole struct {
	Region   `yaml:",inline"`
	Instance ref.Template `yaml:"instance"`
	RoleArn  ref.Template `yaml:"role-arn"`
	Feature  ref.Template `yaml:"feature"`
}

// registerAddRole adds the `rds-add-role` kind.
func registerAddRole(r *steps.Registry) {
	r.Register("rds-add-role", "associate an IAM role with an RDS instance for a feature (Lambda, s3Import…) and wait until ACTIVE", func() steps.Step { return &AddRole{} })
}

// Validate checks the parameters.
func (a *AddRole) Validate() error {
	if a.Instance.IsZero() || a.RoleArn.IsZero() || a.Feature.IsZero() {
		return fmt.Errorf("give `instance:`, `role-arn:` and `feature:` (e.g. Lambda)")
	}
	return nil
}

// Describe lists the calls.
func (a *AddRole) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{
		call("rds AddRoleToDBInstance", "DBInstanceIdentifier", env.Describe(a.Instance), "RoleArn", env.Describe(a.RoleArn), "FeatureName", env.Describe(a.Feature)),
		{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBInstances " + env.Describe(a.Instance) + " until AssociatedRoles has the role with Status = ACTIVE"},
	}
}

// roleAssociation is what an rds-add-role step asks for, as this run reads it.
type roleAssociation struct {
	instance, roleARN, feature string
}

// association finds the instance's role for the feature.
func (a *AddRole) association(ctx context.Context, env *steps.Env) (c *Clients, want roleAssociation, found *rdstypes.DBInstanceRole, err error) {
	rv := resolving(env)
	want = roleAssociation{instance: rv.text(a.Instance), roleARN: rv.text(a.RoleArn), feature: rv.text(a.Feature)}
	if err = rv.err; err != nil {
		return nil, want, nil, err
	}
	if c, err = a.clients(ctx, env); err != nil {
		return nil, want, nil, err
	}
	inst, ok, err := c.Instance(ctx, want.instance)
	if err != nil {
		return c, want, nil, err
	}
	if !ok {
		return c, want, nil, fmt.Errorf("instance %s does not exist", want.instance)
	}
	for _, r := range inst.AssociatedRoles {
		if aws.ToString(r.FeatureName) == want.feature || aws.ToString(r.RoleArn) == want.roleARN {
			return c, want, &r, nil
		}
	}
	return c, want, nil, nil
}

// Check reads the instance's associated roles.
func (a *AddRole) Check(ctx context.Context, env *steps.Env) steps.Check {
	_, want, r, err := a.association(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	switch {
	case r == nil:
		return steps.ReadyTo(steps.Create, "instance %s has no role for %s → associate %s", want.instance, want.feature, want.roleARN)
	case aws.ToString(r.RoleArn) != want.roleARN || aws.ToString(r.FeatureName) != want.feature:
		return steps.BlockedBy(fmt.Sprintf("instance %s already has role %s for feature %s", want.instance, aws.ToString(r.RoleArn), aws.ToString(r.FeatureName)),
			fmt.Sprintf("give that role the permissions instead, or remove it: aws rds remove-role-from-db-instance --db-instance-identifier %s --role-arn %s --feature-name %s",
				want.instance, aws.ToString(r.RoleArn), aws.ToString(r.FeatureName)))
	case aws.ToString(r.Status) == "ACTIVE":
		return steps.AlreadyDone("role %s is associated with %s for %s (ACTIVE)", want.roleARN, want.instance, want.feature)
	}
	return steps.ReadyTo(steps.Create, "role %s is being associated with %s (%s) → wait for it", want.roleARN, want.instance, aws.ToString(r.Status))
}

// Apply associates the role (unless already) and waits for ACTIVE.
func (a *AddRole) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	c, want, r, err := a.association(ctx, env)
	if err != nil {
		return nil, err
	}
	if r != nil && (aws.ToString(r.RoleArn) != want.roleARN || aws.ToString(r.FeatureName) != want.feature) {
		return nil, fmt.Errorf("instance %s already has role %s for %s: nothing changed", want.instance, aws.ToString(r.RoleArn), aws.ToString(r.FeatureName))
	}
	if r == nil {
		if _, err := c.RDS.AddRoleToDBInstance(ctx, &rds.AddRoleToDBInstanceInput{DBInstanceIdentifier: &want.instance, RoleArn: &want.roleARN, FeatureName: &want.feature}); err != nil {
			return nil, fmt.Errorf("rds AddRoleToDBInstance %s: %w", want.instance, err)
		}
	}
	p := newPoller(env, "role "+want.roleARN+" on "+want.instance+" to be ACTIVE")
	for {
		_, _, r, err := a.association(ctx, env)
		if err != nil {
			return nil, err
		}
		status := "missing"
		if r != nil {
			status = aws.ToString(r.Status)
		}
		switch status {
		case "ACTIVE":
			env.Info(fmt.Sprintf("role %s is associated with %s for %s", want.roleARN, want.instance, want.feature))
			return steps.Outputs{}, nil
		case "INVALID":
			return nil, fmt.Errorf("RDS cannot assume role %s (status INVALID): its trust policy must let rds.amazonaws.com assume it", want.roleARN)
		}
		if err := p.wait(ctx, status); err != nil {
			return nil, err
		}
	}
}

// Verify reads the association back.
func (a *AddRole) Verify(ctx context.Context, env *steps.Env) error {
	_, want, r, err := a.association(ctx, env)
	if err != nil {
		return err
	}
	if r == nil || aws.ToString(r.RoleArn) != want.roleARN || aws.ToString(r.Status) != "ACTIVE" {
		found := "no role"
		if r != nil {
			found = aws.ToString(r.RoleArn) + " " + aws.ToString(r.Status)
		}
		return &steps.VerifyError{What: "role of " + want.instance + " for " + want.feature, Expected: want.roleARN + " ACTIVE", Found: found}
	}
	return nil
}

// Rollback removes the association this step made.
func (a *AddRole) Rollback(ctx context.Context, env *steps.Env) error {
	c, want, r, err := a.association(ctx, env)
	if err != nil {
		return err
	}
	if r == nil || aws.ToString(r.RoleArn) != want.roleARN {
		return nil
	}
	if _, err := c.RDS.RemoveRoleFromDBInstance(ctx, &rds.RemoveRoleFromDBInstanceInput{DBInstanceIdentifier: &want.instance, RoleArn: &want.roleARN, FeatureName: &want.feature}); err != nil && !IsNotFound(err) && errCode(err) != "DBInstanceRoleNotFound" {
		return fmt.Errorf("rds RemoveRoleFromDBInstance %s: %w", want.instance, err)
	}
	p := newPoller(env, "role "+want.roleARN+" to leave "+want.instance)
	for {
		_, _, r, err := a.association(ctx, env)
		if err != nil {
			return err
		}
		if r == nil {
			env.Info(fmt.Sprintf("role %s removed from %s", want.roleARN, want.instance))
			return nil
		}
		if err := p.wait(ctx, aws.ToString(r.Status)); err != nil {
			return err
		}
	}
}
