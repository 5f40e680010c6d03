package awsstep

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// ManagedTag marks what cairn created, so that rollback deletes only that.
const ManagedTag = "cairn:managed-by"

// IAMRole is the `iam-role` kind: an IAM role that one AWS service may assume, with one inline policy
// allowing exactly the listed actions on exactly the listed resources. The role is tagged
// cairn:managed-by=cairn when cairn creates it; a role of that name cairn did not create is never
// changed (Check says Blocked). The role holds cairn's inline policy and nothing else: another inline
// policy on it (added behind cairn's back, or left by an earlier policy-name) makes Check say Blocked
// with the delete-role-policy command, and Verify fail; cairn does not delete a policy it did not put.
// Rollback deletes the inline policy, and the role when cairn made it and nothing else is attached.
// Output: the role's ARN.
type IAMRole struct {
	Region      `yaml:",inline"`
	RoleName    ref.Template `yaml:"role-name"`
	Assume      ref.Template `yaml:"assume"` // service principal, e.g. rds.amazonaws.com
	Description ref.Template `yaml:"description"`
	PolicyName  ref.Template `yaml:"policy-name"`
	Allow       []Statement  `yaml:"allow"`
}

// registerIAMRole adds the `iam-role` kind.
func registerIAMRole(r *steps.Registry) {
	r.Register("iam-role", "an IAM role one service may assume, with one inline policy scoped to named resources; only roles cairn made are changed", func() steps.Step { return &IAMRole{} })
}

// Statement is one Allow statement of the inline policy. A statement whose resources all resolve
// to empty is left out (an optional KMS key, say).
type Statement struct {
	Actions   []string                           `yaml:"actions"`
	Resources []ref.Template                     `yaml:"resources"`
	Condition map[string]map[string]ref.Template `yaml:"condition"`
}

// OutputNames declares the outputs.
func (r *IAMRole) OutputNames() []string { return []string{"arn"} }

// Validate checks the parameters.
func (r *IAMRole) Validate() error {
	var p []string
	if r.RoleName.IsZero() {
		p = append(p, "give `role-name:`")
	}
	if r.Assume.IsZero() {
		p = append(p, "give `assume:` (the service principal that assumes the role, e.g. rds.amazonaws.com)")
	}
	if r.PolicyName.IsZero() {
		p = append(p, "give `policy-name:` (the role's inline policy)")
	}
	if len(r.Allow) == 0 {
		p = append(p, "give `allow:` (statements with actions and resources)")
	}
	for i, s := range r.Allow {
		if len(s.Actions) == 0 || len(s.Resources) == 0 {
			p = append(p, fmt.Sprintf("allow[%d]: give `actions:` and `resources:` (never \"*\")", i))
		}
		for _, a := range s.Actions {
			if a == "*" || strings.HasSuffix(a, ":*") {
				p = append(p, fmt.Sprintf("allow[%d]: action %q is a wildcard: name the actions", i, a))
			}
		}
		for _, res := range s.Resources {
			if strings.TrimSpace(res.Raw) == "*" {
				p = append(p, fmt.Sprintf("allow[%d]: resource \"*\": name the resources", i))
			}
		}
	}
	if len(p) > 0 {
		return errors.New(strings.Join(p, "; "))
	}
	return nil
}

// desired is the resolved role.
type desiredRole struct {
	name, desc, policyName string
	trust, policy          string // canonical JSON
}

func (r *IAMRole) resolve(env *steps.Env, describe bool) (desiredRole, error) {
	text := env.Text
	if describe {
		text = func(t ref.Template) (string, error) { return env.Describe(t), nil }
	}
	var d desiredRole
	var err error
	if d.name, err = text(r.RoleName); err != nil {
		return d, err
	}
	if d.desc, err = text(r.Description); err != nil {
		return d, err
	}
	if d.policyName, err = text(r.PolicyName); err != nil {
		return d, err
	}
	principal, err := text(r.Assume)
	if err != nil {
		return d, err
	}
	trust := map[string]any{"Version": "2012-10-17", "Statement": []any{map[string]any{
		"Effect": "Allow", "Principal": map[string]any{"Service": principal}, "Action": "sts:AssumeRole"}}}
	var stmts []any
	for _, s := range r.Allow {
		var res []string
		for _, t := range s.Resources {
			v, err := text(t)
			if err != nil {
				return d, err
			}
			if v != "" {
				res = append(res, v)
			}
		}
		if len(res) == 0 {
			continue
		}
		st := map[string]any{"Effect": "Allow", "Action": s.Actions, "Resource": res}
		if len(s.Condition) > 0 {
			cond := map[string]any{}
			for op, kv := range s.Condition {
				m := map[string]any{}
				for k, t := range kv {
					v, err := text(t)
					if err != nil {
						return d, err
					}
					m[k] = v
				}
				cond[op] = m
			}
			st["Condition"] = cond
		}
		stmts = append(stmts, st)
	}
	if len(stmts) == 0 {
		return d, errors.New("the role's policy would allow nothing: every statement's resources are empty")
	}
	d.trust = canonical(trust)
	d.policy = canonical(map[string]any{"Version": "2012-10-17", "Statement": stmts})
	return d, nil
}

func canonical(v any) string {
	b, _ := json.Marshal(v)
	var back any
	_ = json.Unmarshal(b, &back)
	out, _ := json.Marshal(back)
	return string(out)
}

// samePolicy compares a policy document as IAM returns it (URL-encoded) with a canonical one.
func samePolicy(encoded, want string) bool {
	doc, err := url.QueryUnescape(encoded)
	if err != nil {
		doc = encoded
	}
	var a, b any
	if json.Unmarshal([]byte(doc), &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	return reflect.DeepEqual(normalize(a), normalize(b))
}

// normalize makes single strings and one-element lists compare equal, as IAM treats them.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		if len(x) == 1 {
			return normalize(x[0])
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	}
	return v
}

// Describe lists the calls with the exact policy documents.
func (r *IAMRole) Describe(env *steps.Env) []steps.Action {
	d, err := r.resolve(env, true)
	if err != nil {
		return []steps.Action{call("iam CreateRole", "RoleName", env.Describe(r.RoleName), "error", err.Error())}
	}
	return []steps.Action{
		call("iam CreateRole", "RoleName", d.name, "AssumeRolePolicyDocument", d.trust, "Description", d.desc, "Tags", ManagedTag+"=cairn"),
		call("iam PutRolePolicy", "RoleName", d.name, "PolicyName", d.policyName, "PolicyDocument", d.policy),
	}
}

func (r *IAMRole) client(ctx context.Context, env *steps.Env) (*iam.Client, error) {
	region, err := env.Text(r.Region.Region)
	if err != nil {
		return nil, err
	}
	cfg, err := LoadConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	return iam.NewFromConfig(cfg), nil
}

type roleState struct {
	exists, managed, trustOK, policyOK bool
	arn                                string
	otherTrust                         string
	// others are the role's inline policies other than cairn's (policy-name). Attached managed
	// policies are not read: the IAM twin the contract tests run on has no ListAttachedRolePolicies.
	others []string
}

// extraPolicies says which inline policies beyond cairn's the role holds, and the commands deleting them.
func (st roleState) extraPolicies(role string) (what, fix string) {
	cmds := make([]string, len(st.others))
	for i, p := range st.others {
		cmds[i] = fmt.Sprintf("aws iam delete-role-policy --role-name %s --policy-name %s", role, p)
	}
	return strings.Join(st.others, ", "), strings.Join(cmds, " && ")
}

func (r *IAMRole) look(ctx context.Context, c *iam.Client, d desiredRole) (roleState, error) {
	var st roleState
	out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &d.name})
	if err != nil {
		var nse *iamtypes.NoSuchEntityException
		if errors.As(err, &nse) {
			return st, nil
		}
		return st, fmt.Errorf("iam GetRole %s: %w", d.name, err)
	}
	st.exists, st.arn = true, aws.ToString(out.Role.Arn)
	st.managed = slices.ContainsFunc(out.Role.Tags, func(t iamtypes.Tag) bool { return aws.ToString(t.Key) == ManagedTag })
	st.trustOK = samePolicy(aws.ToString(out.Role.AssumeRolePolicyDocument), d.trust)
	if !st.trustOK {
		st.otherTrust, _ = url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
	}
	pages := iam.NewListRolePoliciesPaginator(c, &iam.ListRolePoliciesInput{RoleName: &d.name})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return st, fmt.Errorf("iam ListRolePolicies %s: %w", d.name, err)
		}
		for _, p := range page.PolicyNames {
			if p != d.policyName {
				st.others = append(st.others, p)
			}
		}
	}
	pol, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &d.name, PolicyName: &d.policyName})
	if err != nil {
		var nse *iamtypes.NoSuchEntityException
		if errors.As(err, &nse) {
			return st, nil
		}
		return st, fmt.Errorf("iam GetRolePolicy %s/%s: %w", d.name, d.policyName, err)
	}
	st.policyOK = samePolicy(aws.ToString(pol.PolicyDocument), d.policy)
	return st, nil
}

// current resolves the role as described, opens the IAM client and reads the role in place.
func (r *IAMRole) current(ctx context.Context, env *steps.Env) (desiredRole, *iam.Client, roleState, error) {
	d, err := r.resolve(env, false)
	if err != nil {
		return d, nil, roleState{}, err
	}
	c, err := r.client(ctx, env)
	if err != nil {
		return d, nil, roleState{}, err
	}
	st, err := r.look(ctx, c, d)
	return d, c, st, err
}

// Check reads the role and its policy.
func (r *IAMRole) Check(ctx context.Context, env *steps.Env) steps.Check {
	d, err := r.resolve(env, false)
	if err != nil {
		return unknownOr(err, "")
	}
	c, err := r.client(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	st, err := r.look(ctx, c, d)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	switch {
	case !st.exists:
		return steps.ReadyTo(steps.Create, "role %s does not exist → create it with policy %s", d.name, d.policyName)
	case !st.managed:
		return steps.BlockedBy(fmt.Sprintf("IAM role %s exists and was not created by cairn (no %s tag): cairn will not change it", d.name, ManagedTag),
			fmt.Sprintf("choose another role name (-p role-name=…), or delete that role if it is unused (aws iam delete-role --role-name %s)", d.name))
	case !st.trustOK:
		return steps.BlockedBy(fmt.Sprintf("role %s may be assumed by something else than %s (%s)", d.name, env.Describe(r.Assume), st.otherTrust),
			fmt.Sprintf("choose another role name, or delete role %s (cairn made it: cairn rollback of the run that did)", d.name))
	case len(st.others) > 0:
		what, fix := st.extraPolicies(d.name)
		return steps.BlockedBy(fmt.Sprintf("role %s holds inline policies cairn did not put (%s) besides %s: the role is to hold only cairn's, and cairn does not delete policies it did not put", d.name, what, d.policyName),
			"read them (aws iam get-role-policy), then delete them if nothing needs them: "+fix)
	case st.policyOK:
		return steps.AlreadyDone("role %s and its policy %s are as described", d.name, d.policyName)
	}
	return steps.ReadyTo(steps.Update, "role %s exists; policy %s differs or is missing → put it", d.name, d.policyName)
}

// Apply creates the role when missing and puts the policy.
func (r *IAMRole) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	d, c, st, err := r.current(ctx, env)
	if err != nil {
		return nil, err
	}
	if st.exists && (!st.managed || !st.trustOK) {
		return nil, fmt.Errorf("IAM role %s exists and is not the one cairn makes: nothing changed", d.name)
	}
	if len(st.others) > 0 {
		what, fix := st.extraPolicies(d.name)
		return nil, steps.Failed("delete them if nothing needs them ("+fix+")", "IAM role %s holds inline policies cairn did not put (%s): nothing changed", d.name, what)
	}
	if !st.exists {
		in := &iam.CreateRoleInput{RoleName: &d.name, AssumeRolePolicyDocument: &d.trust,
			Tags: []iamtypes.Tag{{Key: aws.String(ManagedTag), Value: aws.String("cairn")}}}
		if d.desc != "" {
			in.Description = &d.desc
		}
		out, err := c.CreateRole(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("iam CreateRole %s: %w", d.name, err)
		}
		st.arn = aws.ToString(out.Role.Arn)
		env.Info("created IAM role " + st.arn)
	}
	if _, err := c.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &d.name, PolicyName: &d.policyName, PolicyDocument: &d.policy}); err != nil {
		return nil, fmt.Errorf("iam PutRolePolicy %s/%s: %w (the role exists; cairn rollback deletes it)", d.name, d.policyName, err)
	}
	env.Info(fmt.Sprintf("put policy %s on role %s", d.policyName, d.name))
	return steps.Outputs{}.Set("arn", st.arn), nil
}

// Observe reads the ARN of a role found in place.
func (r *IAMRole) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	_, _, st, err := r.current(ctx, env)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("arn", st.arn), nil
}

// Verify reads the role and policy back.
func (r *IAMRole) Verify(ctx context.Context, env *steps.Env) error {
	d, _, st, err := r.current(ctx, env)
	if err != nil {
		return err
	}
	if !st.exists || !st.trustOK || !st.policyOK || len(st.others) > 0 {
		return &steps.VerifyError{What: "IAM role " + d.name, Expected: "trust and policy " + d.policyName + " as described, and no other inline policy",
			Found: fmt.Sprintf("exists=%t trust ok=%t policy ok=%t other inline policies %v", st.exists, st.trustOK, st.policyOK, st.others)}
	}
	return nil
}

// Rollback deletes the policy, and the role when cairn created it and nothing else is left on it.
func (r *IAMRole) Rollback(ctx context.Context, env *steps.Env) error {
	d, c, st, err := r.current(ctx, env)
	if err != nil {
		return err
	}
	if !st.exists {
		return nil
	}
	if !st.managed {
		env.Info(fmt.Sprintf("role %s was not created by cairn: left alone", d.name))
		return nil
	}
	if _, err := c.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &d.name, PolicyName: &d.policyName}); err != nil {
		var nse *iamtypes.NoSuchEntityException
		if !errors.As(err, &nse) {
			return fmt.Errorf("iam DeleteRolePolicy %s/%s: %w", d.name, d.policyName, err)
		}
	}
	left, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &d.name})
	if err != nil {
		return fmt.Errorf("iam ListRolePolicies %s: %w", d.name, err)
	}
	if len(left.PolicyNames) > 0 {
		env.Info(fmt.Sprintf("role %s keeps other inline policies (%s): not deleted", d.name, strings.Join(left.PolicyNames, ", ")))
		return nil
	}
	if _, err := c.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: &d.name}); err != nil {
		return fmt.Errorf("iam DeleteRole %s: %w (its policy %s is deleted already)", d.name, err, d.policyName)
	}
	env.Info("deleted IAM role " + d.name)
	return nil
}
