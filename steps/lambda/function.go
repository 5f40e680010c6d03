package lambdastep

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
)

// BundleTag names, on a function cairn deployed, the bundle it carries.
const BundleTag = "cairn:bundle"

// Function is the `lambda-function` kind: deploy an embedded bundle as a Lambda function (runtime
// provided.al2023, handler bootstrap), idempotent by code SHA-256 and configuration. A function of
// that name that cairn did not deploy is never touched (Check says Blocked, with the fix). Outputs:
// the function's ARN and CodeSha256.
type Function struct {
	Region       ref.Template            `yaml:"region"`
	FunctionName ref.Template            `yaml:"function-name"`
	Bundle       ref.Template            `yaml:"bundle"`
	Architecture ref.Template            `yaml:"architecture"`
	RoleArn      ref.Template            `yaml:"role-arn"`
	Timeout      ref.Template            `yaml:"timeout"`
	Memory       ref.Template            `yaml:"memory"`
	Description  ref.Template            `yaml:"description"`
	Environment  map[string]ref.Template `yaml:"environment"`
}

// OutputNames declares the outputs.
func (f *Function) OutputNames() []string { return []string{"arn", "code-sha256"} }

// Validate checks the parameters.
func (f *Function) Validate() error {
	if f.FunctionName.IsZero() || f.Bundle.IsZero() || f.RoleArn.IsZero() {
		return errors.New("give `function-name:`, `bundle:` (cairn-secret-lambda) and `role-arn:` (the execution role)")
	}
	return nil
}

type wantFn struct {
	name, arch, role, desc string
	timeout, memory        int32
	env                    map[string]string
	bundle                 Bundle
}

func (f *Function) resolve(env *steps.Env) (wantFn, error) {
	var w wantFn
	var bundle, timeout, memory string
	for _, p := range []struct {
		t   ref.Template
		dst *string
		def string
	}{{f.FunctionName, &w.name, ""}, {f.Bundle, &bundle, ""}, {f.Architecture, &w.arch, "x86_64"}, {f.RoleArn, &w.role, ""},
		{f.Description, &w.desc, ""}, {f.Timeout, &timeout, "10"}, {f.Memory, &memory, "128"}} {
		v, err := env.Text(p.t)
		if err != nil {
			return w, err
		}
		if v == "" {
			v = p.def
		}
		*p.dst = v
	}
	t, err := strconv.Atoi(timeout)
	if err != nil || t < 1 || t > 900 {
		return w, fmt.Errorf("timeout %q: seconds from 1 to 900", timeout)
	}
	m, err := strconv.Atoi(memory)
	if err != nil || m < 128 || m > 10240 {
		return w, fmt.Errorf("memory %q: MB from 128 to 10240", memory)
	}
	w.timeout, w.memory = int32(t), int32(m)
	w.env = map[string]string{}
	for k, t := range f.Environment {
		v, err := env.Text(t)
		if err != nil {
			return w, err
		}
		w.env[k] = v
	}
	if w.bundle, err = LoadBundle(bundle, w.arch); err != nil {
		return w, err
	}
	return w, nil
}

// Describe lists the calls.
func (f *Function) Describe(env *steps.Env) []steps.Action {
	var envs []string
	for _, k := range slices.Sorted(maps.Keys(f.Environment)) {
		envs = append(envs, k+"="+env.Describe(f.Environment[k]))
	}
	code := "the embedded " + env.Describe(f.Bundle) + " zip for " + orDefault(env.Describe(f.Architecture), "x86_64")
	if b, err := LoadBundle(env.Describe(f.Bundle), orDefault(env.Describe(f.Architecture), "x86_64")); err == nil {
		code += fmt.Sprintf(" (%d bytes, CodeSha256 %s)", len(b.Zip), b.Sha256())
	} else {
		code += " — " + err.Error()
	}
	return []steps.Action{
		call("lambda CreateFunction (or UpdateFunctionCode + UpdateFunctionConfiguration when cairn deployed it before)",
			"FunctionName", env.Describe(f.FunctionName), "Runtime", "provided.al2023", "Handler", "bootstrap",
			"Architectures", orDefault(env.Describe(f.Architecture), "x86_64"), "Role", env.Describe(f.RoleArn),
			"Timeout", orDefault(env.Describe(f.Timeout), "10"), "MemorySize", orDefault(env.Describe(f.Memory), "128"),
			"Environment", strings.Join(envs, " "), "Code.ZipFile", code, "Tags", BundleTag+"="+env.Describe(f.Bundle)),
		{Kind: steps.ActWait, Target: "lambda", Text: "poll GetFunction " + env.Describe(f.FunctionName) + " until State = Active and LastUpdateStatus = Successful"},
	}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func call(op string, kv ...string) steps.Action {
	var b strings.Builder
	b.WriteString(op)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "\n  %s: %s", kv[i], kv[i+1])
	}
	return steps.Action{Kind: steps.ActAWS, Target: "lambda", Text: b.String()}
}

func (f *Function) client(ctx context.Context, env *steps.Env) (*lambda.Client, error) {
	region, err := env.Text(f.Region)
	if err != nil {
		return nil, err
	}
	cfg, err := awsstep.LoadConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	return lambda.NewFromConfig(cfg), nil
}

// Deployed is what GetFunction says about a function.
type Deployed struct {
	Exists     bool
	Ours       bool // tagged cairn:bundle=<bundle>
	Tag        string
	ARN        string
	CodeSha256 string
	Config     lambdatypes.FunctionConfiguration
}

// Look reads a function.
func Look(ctx context.Context, c *lambda.Client, name string) (Deployed, error) {
	out, err := c.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: &name})
	if err != nil {
		var nf *lambdatypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return Deployed{}, nil
		}
		return Deployed{}, fmt.Errorf("lambda GetFunction %s: %w", name, err)
	}
	d := Deployed{Exists: true, Tag: out.Tags[BundleTag]}
	if out.Configuration != nil {
		d.Config = *out.Configuration
		d.ARN, d.CodeSha256 = aws.ToString(out.Configuration.FunctionArn), aws.ToString(out.Configuration.CodeSha256)
	}
	return d, nil
}

// diff lists what differs between a deployed function and the wanted one.
func (w wantFn) diff(d Deployed) (code bool, conf []string) {
	code = d.CodeSha256 != w.bundle.Sha256()
	c := d.Config
	if len(c.Architectures) != 1 || string(c.Architectures[0]) != w.arch {
		code = true
	}
	if string(c.Runtime) != "provided.al2023" {
		conf = append(conf, "runtime")
	}
	if aws.ToString(c.Handler) != "bootstrap" {
		conf = append(conf, "handler")
	}
	if aws.ToString(c.Role) != w.role {
		conf = append(conf, "role")
	}
	if aws.ToInt32(c.Timeout) != w.timeout {
		conf = append(conf, "timeout")
	}
	if aws.ToInt32(c.MemorySize) != w.memory {
		conf = append(conf, "memory")
	}
	if aws.ToString(c.Description) != w.desc {
		conf = append(conf, "description")
	}
	have := map[string]string{}
	if c.Environment != nil {
		have = c.Environment.Variables
	}
	if !maps.Equal(have, w.env) {
		conf = append(conf, "environment")
	}
	return code, conf
}

// Check reads the function.
func (f *Function) Check(ctx context.Context, env *steps.Env) steps.Check {
	w, err := f.resolve(env)
	if errors.Is(err, ref.ErrUnknown) {
		return steps.CannotTell("%v", err)
	}
	if err != nil {
		return steps.BlockedBy(err.Error(), BuildHint)
	}
	c, err := f.client(ctx, env)
	if err != nil {
		return steps.BlockedBy(err.Error(), "check the AWS credentials and region")
	}
	d, err := Look(ctx, c, w.name)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !d.Exists {
		return steps.ReadyTo(steps.Create, "function %s does not exist → create it from the embedded %s (%s)", w.name, w.bundle.Name, w.bundle.Sha256())
	}
	if d.Tag != w.bundle.Name {
		return steps.BlockedBy(ForeignReason(w.name, d), ForeignFix(w.name))
	}
	code, conf := w.diff(d)
	switch {
	case !code && len(conf) == 0:
		return steps.AlreadyDone("function %s runs the embedded %s (%s) as configured", w.name, w.bundle.Name, w.bundle.Sha256())
	case code:
		return steps.ReadyTo(steps.Update, "function %s (deployed by cairn) has code %s, not %s → update its code", w.name, d.CodeSha256, w.bundle.Sha256())
	}
	return steps.ReadyTo(steps.Update, "function %s: %s differ → update its configuration", w.name, strings.Join(conf, ", "))
}

// ForeignReason says a function of that name exists that cairn did not deploy.
func ForeignReason(name string, d Deployed) string {
	return fmt.Sprintf("Lambda function %s already exists with other code (CodeSha256 %s) and was not deployed by cairn (no %s tag): cairn will not replace it", name, d.CodeSha256, BundleTag)
}

// ForeignFix is what to do about it.
func ForeignFix(name string) string {
	return fmt.Sprintf("choose another name (-p function-name=…), or, if that function is unused, delete it first: aws lambda delete-function --function-name %s", name)
}

// Apply creates or updates the function and waits until it is active with the new code.
func (f *Function) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	w, err := f.resolve(env)
	if err != nil {
		return nil, err
	}
	c, err := f.client(ctx, env)
	if err != nil {
		return nil, err
	}
	d, err := Look(ctx, c, w.name)
	if err != nil {
		return nil, err
	}
	if d.Exists && d.Tag != w.bundle.Name {
		return nil, errors.New(ForeignReason(w.name, d) + "; nothing changed")
	}
	vars := &lambdatypes.Environment{Variables: w.env}
	if !d.Exists {
		in := &lambda.CreateFunctionInput{FunctionName: &w.name, Runtime: lambdatypes.RuntimeProvidedal2023, Handler: aws.String("bootstrap"),
			Role: &w.role, Code: &lambdatypes.FunctionCode{ZipFile: w.bundle.Zip}, Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(w.arch)},
			Timeout: &w.timeout, MemorySize: &w.memory, Description: &w.desc, Environment: vars, Tags: map[string]string{BundleTag: w.bundle.Name}}
		// A role made seconds ago may not be assumable by Lambda yet (IAM is eventually consistent).
		p := newWait(env, "the execution role to be usable by Lambda")
		for {
			_, err = c.CreateFunction(ctx, in)
			var ipv *lambdatypes.InvalidParameterValueException
			if err == nil || !errors.As(err, &ipv) || !strings.Contains(aws.ToString(ipv.Message), "cannot be assumed") || time.Since(p.start) > 90*time.Second {
				break
			}
			if werr := p.wait(ctx); werr != nil {
				return nil, werr
			}
		}
		if err != nil {
			return nil, fmt.Errorf("lambda CreateFunction %s: %w", w.name, err)
		}
		env.Info("created function " + w.name)
	} else {
		code, conf := w.diff(d)
		if code {
			if _, err := c.UpdateFunctionCode(ctx, &lambda.UpdateFunctionCodeInput{FunctionName: &w.name, ZipFile: w.bundle.Zip,
				Architectures: []lambdatypes.Architecture{lambdatypes.Architecture(w.arch)}}); err != nil {
				return nil, fmt.Errorf("lambda UpdateFunctionCode %s: %w", w.name, err)
			}
			env.Info(fmt.Sprintf("updated the code of %s to %s", w.name, w.bundle.Sha256()))
			if _, err := f.wait(ctx, env, c, w.name); err != nil {
				return nil, err
			}
		}
		if len(conf) > 0 {
			if _, err := c.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: &w.name, Runtime: lambdatypes.RuntimeProvidedal2023,
				Handler: aws.String("bootstrap"), Role: &w.role, Timeout: &w.timeout, MemorySize: &w.memory, Description: &w.desc, Environment: vars}); err != nil {
				return nil, fmt.Errorf("lambda UpdateFunctionConfiguration %s: %w", w.name, err)
			}
			env.Info(fmt.Sprintf("updated the configuration of %s (%s)", w.name, strings.Join(conf, ", ")))
		}
	}
	d, err = f.wait(ctx, env, c, w.name)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("arn", d.ARN).Set("code-sha256", d.CodeSha256), nil
}

// wait polls until the function is Active and its last update Successful.
func (f *Function) wait(ctx context.Context, env *steps.Env, c *lambda.Client, name string) (Deployed, error) {
	p := newWait(env, "function "+name+" to be active")
	for {
		d, err := Look(ctx, c, name)
		if err != nil {
			return d, err
		}
		if !d.Exists {
			return d, fmt.Errorf("function %s disappeared", name)
		}
		st, up := d.Config.State, d.Config.LastUpdateStatus
		if st == lambdatypes.StateFailed || up == lambdatypes.LastUpdateStatusFailed {
			return d, fmt.Errorf("function %s failed: %s %s", name, aws.ToString(d.Config.StateReason), aws.ToString(d.Config.LastUpdateStatusReason))
		}
		if st == lambdatypes.StateActive && (up == "" || up == lambdatypes.LastUpdateStatusSuccessful) {
			return d, nil
		}
		if err := p.wait(ctx); err != nil {
			return d, err
		}
	}
}

// Observe reads the outputs of a function found deployed.
func (f *Function) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	w, err := f.resolve(env)
	if err != nil {
		return nil, err
	}
	c, err := f.client(ctx, env)
	if err != nil {
		return nil, err
	}
	d, err := Look(ctx, c, w.name)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("arn", d.ARN).Set("code-sha256", d.CodeSha256), nil
}

// Verify reads the function back: the embedded code, the configuration, active.
func (f *Function) Verify(ctx context.Context, env *steps.Env) error {
	w, err := f.resolve(env)
	if err != nil {
		return err
	}
	c, err := f.client(ctx, env)
	if err != nil {
		return err
	}
	d, err := Look(ctx, c, w.name)
	if err != nil {
		return err
	}
	code, conf := w.diff(d)
	if !d.Exists || code || len(conf) > 0 || d.Config.State != lambdatypes.StateActive {
		sort.Strings(conf)
		return &steps.VerifyError{What: "function " + w.name, Expected: "code " + w.bundle.Sha256() + ", configuration as described, Active",
			Found: fmt.Sprintf("exists=%t code %s, differing: %v, state %s", d.Exists, d.CodeSha256, conf, d.Config.State)}
	}
	return nil
}

// Rollback deletes the function when cairn deployed it.
func (f *Function) Rollback(ctx context.Context, env *steps.Env) error {
	name, err := env.Text(f.FunctionName)
	if err != nil {
		return err
	}
	bundle, err := env.Text(f.Bundle)
	if err != nil {
		return err
	}
	c, err := f.client(ctx, env)
	if err != nil {
		return err
	}
	d, err := Look(ctx, c, name)
	if err != nil {
		return err
	}
	if !d.Exists {
		return nil
	}
	if d.Tag != bundle {
		env.Info("function " + name + " was not deployed by cairn: left alone")
		return nil
	}
	if _, err := c.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: &name}); err != nil {
		var nf *lambdatypes.ResourceNotFoundException
		if !errors.As(err, &nf) {
			return fmt.Errorf("lambda DeleteFunction %s: %w", name, err)
		}
	}
	env.Info("deleted function " + name)
	return nil
}

type waiter struct {
	env   *steps.Env
	what  string
	start time.Time
	said  time.Time
	delay time.Duration
}

func newWait(env *steps.Env, what string) *waiter {
	now := time.Now()
	return &waiter{env: env, what: what, start: now, said: now, delay: 200 * time.Millisecond}
}

func (w *waiter) wait(ctx context.Context) error {
	if time.Since(w.said) >= 10*time.Second {
		w.said = time.Now()
		w.env.Info(fmt.Sprintf("Still waiting for %s… [%s elapsed]", w.what, time.Since(w.start).Round(time.Second)))
	}
	t := time.NewTimer(w.delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("stopped waiting for %s: %w", w.what, ctx.Err())
	case <-t.C:
	}
	w.delay = min(w.delay*3/2, 5*time.Second)
	return nil
}

// Register adds the kind.
func Register(r *steps.Registry) {
	r.Register("lambda-function", "deploy a Lambda function cairn embeds (provided.al2023), created or updated by code SHA; never one cairn did not deploy", func() steps.Step { return &Function{} })
}
