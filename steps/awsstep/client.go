package awsstep

import (
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Region is embedded by every kind: the AWS region (empty: the standard chain's).
type Region struct {
	Region ref.Template `yaml:"region"`
}

// Clients are the AWS clients of one call.
type Clients struct {
	RDS     *rds.Client
	KMS     *kms.Client
	Secrets *secretsmanager.Client
}

// NewClients loads the standard configuration chain (LoadConfig) for region (empty: the chain's
// own).
func NewClients(ctx context.Context, env *steps.Env, region string) (*Clients, error) {
	cfg, err := LoadConfig(ctx, region)
	if err != nil {
		return nil, err
	}
	return &Clients{RDS: rds.NewFromConfig(cfg), KMS: kms.NewFromConfig(cfg), Secrets: secretsmanager.NewFromConfig(cfg)}, nil
}

// DefaultMaxAttempts and DefaultMaxBackoff are cairn's retry policy when the configuration chain
// sets no max_attempts (AWS_MAX_ATTEMPTS, a profile's max_attempts): a step inside a maintenance
// window must ride out a throttled Describe or a connection reset mid-answer, which the SDK's own
// three attempts, a few hundred milliseconds apart, did not (a verify failed in CI that way). The
// backoff is exponential with jitter, capped at 2 s rather than the SDK's 20 s: eight attempts span
// at most about 13 s.
const (
	DefaultMaxAttempts = 8
	DefaultMaxBackoff  = 2 * time.Second
)

// refusedAttempts is where an endpoint that refuses connections (nothing listens: a twin not
// started, a wrong AWS_ENDPOINT_URL) is given up on — the SDK's own count, so that such a mistake
// is reported in about a second, not after cairn's full policy.
const refusedAttempts = 3

// refusedGivesUp is a retryer that stops at refusedAttempts when the connection was refused.
type refusedGivesUp struct{ aws.RetryerV2 }

// RetryDelay hands back the refusal itself once refusedAttempts were made: the SDK then returns it.
func (r refusedGivesUp) RetryDelay(attempt int, err error) (time.Duration, error) {
	if attempt >= refusedAttempts && errors.Is(err, syscall.ECONNREFUSED) {
		return 0, err
	}
	return r.RetryerV2.RetryDelay(attempt, err)
}

// LoadConfig loads the standard AWS configuration chain (profiles, environment, AWS_ENDPOINT_URL)
// for region (empty: the chain's own), with cairn's retry policy unless the chain sets its own.
func LoadConfig(ctx context.Context, region string) (aws.Config, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return cfg, steps.Failed("pass -p region=… or set AWS_REGION", "no AWS region")
	}
	if cfg.RetryMaxAttempts == 0 && cfg.RetryMode != aws.RetryModeAdaptive {
		cfg.Retryer = func() aws.Retryer {
			return refusedGivesUp{retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts, o.MaxBackoff = DefaultMaxAttempts, DefaultMaxBackoff })}
		}
	}
	return cfg, nil
}

func (r Region) clients(ctx context.Context, env *steps.Env) (*Clients, error) {
	region, err := env.Text(r.Region)
	if err != nil {
		return nil, err
	}
	return NewClients(ctx, env, region)
}

// errCode is the AWS error code of err ("" if none).
func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// IsNotFound reports whether err says an instance, snapshot, key or secret does not exist.
func IsNotFound(err error) bool {
	switch errCode(err) {
	case "DBInstanceNotFound", "DBInstanceNotFoundFault", "DBSnapshotNotFound", "DBSnapshotNotFoundFault",
		"NotFoundException", "ResourceNotFoundException":
		return true
	}
	return false
}

// Instance describes one DB instance; ok is false when it does not exist (err nil).
func (c *Clients) Instance(ctx context.Context, id string) (rdstypes.DBInstance, bool, error) {
	out, err := c.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
	if err != nil {
		if IsNotFound(err) {
			return rdstypes.DBInstance{}, false, nil
		}
		return rdstypes.DBInstance{}, false, fmt.Errorf("DescribeDBInstances %s: %w", id, err)
	}
	if len(out.DBInstances) == 0 {
		return rdstypes.DBInstance{}, false, nil
	}
	return out.DBInstances[0], true, nil
}

// Snapshot describes one manual DB snapshot; ok is false when it does not exist.
func (c *Clients) Snapshot(ctx context.Context, id string) (rdstypes.DBSnapshot, bool, error) {
	out, err := c.RDS.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: &id})
	if err != nil {
		if IsNotFound(err) {
			return rdstypes.DBSnapshot{}, false, nil
		}
		return rdstypes.DBSnapshot{}, false, fmt.Errorf("DescribeDBSnapshots %s: %w", id, err)
	}
	if len(out.DBSnapshots) == 0 {
		return rdstypes.DBSnapshot{}, false, nil
	}
	return out.DBSnapshots[0], true, nil
}

// KeyARN resolves a key id, ARN or alias to its ARN and says whether it is enabled.
func (c *Clients) KeyARN(ctx context.Context, key string) (arn string, enabled bool, err error) {
	out, err := c.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &key})
	if err != nil {
		return "", false, err
	}
	return aws.ToString(out.KeyMetadata.Arn), out.KeyMetadata.Enabled, nil
}

// resolveKey resolves a KMS key id, ARN or alias to its ARN and says whether a resource whose
// storage is encrypted (and with kmsKeyID) is encrypted with that key: the one place a step compares
// an instance's or a snapshot's key with the key it was given.
func (c *Clients) resolveKey(ctx context.Context, key string, encrypted *bool, kmsKeyID *string) (arn string, match bool, err error) {
	arn, _, err = c.KeyARN(ctx, key)
	if err != nil {
		return "", false, err
	}
	return arn, aws.ToBool(encrypted) && aws.ToString(kmsKeyID) == arn, nil
}

// Credentials are a master user's name and password.
type Credentials struct {
	Username string
	Password string
}

// Endpoint is how to reach an instance's PostgreSQL.
type Endpoint struct {
	Host string
	Port int
}

// EndpointOf reads an instance's endpoint.
func EndpointOf(inst rdstypes.DBInstance) (Endpoint, error) {
	if inst.Endpoint == nil || inst.Endpoint.Address == nil {
		return Endpoint{}, fmt.Errorf("instance %s has no endpoint yet (status %s)", aws.ToString(inst.DBInstanceIdentifier), aws.ToString(inst.DBInstanceStatus))
	}
	return Endpoint{Host: *inst.Endpoint.Address, Port: int(aws.ToInt32(inst.Endpoint.Port))}, nil
}

// poller waits with growing delays (from 200 ms, ×1.5, up to max: 10 s unless a step gives its
// own) and says, every so often, that it is still waiting.
type poller struct {
	env   *steps.Env
	what  string
	start time.Time
	delay time.Duration
	max   time.Duration
	said  time.Time
}

func newPoller(env *steps.Env, what string) *poller {
	now := time.Now()
	return &poller{env: env, what: what, start: now, delay: 200 * time.Millisecond, max: 10 * time.Second, said: now}
}

// every caps the poller's sleeps at d (0 keeps the default): a wait inside the application's window
// must not sleep long past the moment it waits for.
func (p *poller) every(d time.Duration) *poller {
	if d > 0 {
		p.max, p.delay = d, min(p.delay, d)
	}
	return p
}

// wait sleeps before the next poll, the delay growing; it returns ctx's error when ctx ends.
func (p *poller) wait(ctx context.Context, status string) error {
	if err := p.sleep(ctx, status, p.delay); err != nil {
		return err
	}
	p.delay = min(p.delay*3/2, p.max)
	return nil
}

// confirm sleeps before a poll that confirms the last answer: soon — half the grown delay, at most
// a second — not a whole grown delay later.
func (p *poller) confirm(ctx context.Context, status string) error {
	return p.sleep(ctx, status, min(p.delay/2, time.Second))
}

func (p *poller) sleep(ctx context.Context, status string, d time.Duration) error {
	if time.Since(p.said) >= 10*time.Second {
		p.said = time.Now()
		p.env.Info(fmt.Sprintf("Still waiting for %s (%s)… [%s elapsed]", p.what, status, time.Since(p.start).Round(time.Second)))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return fmt.Errorf("stopped waiting for %s after %s: %w", p.what, time.Since(p.start).Round(time.Second), ctx.Err())
	case <-t.C:
	}
	return nil
}

func (p *poller) elapsed() string { return time.Since(p.start).Round(time.Second).String() }

// WaitInstance polls until the instance answers under id and is available, sleeping up to 10 s
// between polls (WaitInstanceEvery).
func (c *Clients) WaitInstance(ctx context.Context, env *steps.Env, id string) (rdstypes.DBInstance, error) {
	return c.WaitInstanceEvery(ctx, env, id, 0)
}

// WaitInstanceEvery polls until the instance answers under id and is available, sleeping at most
// every between polls (0: 10 s). It does not trust a single "available": after a rename the old
// status can linger, so it needs two answers in a row — the second taken soon after the first.
func (c *Clients) WaitInstanceEvery(ctx context.Context, env *steps.Env, id string, every time.Duration) (rdstypes.DBInstance, error) {
	p := newPoller(env, "instance "+id+" to be available").every(every)
	streak := 0
	for {
		inst, ok, err := c.Instance(ctx, id)
		if err != nil {
			return inst, err
		}
		status := "not answering yet"
		if ok {
			status = aws.ToString(inst.DBInstanceStatus)
			if failedStatus(status) {
				return inst, fmt.Errorf("instance %s is %s", id, status)
			}
			if status == "available" && aws.ToString(inst.DBInstanceIdentifier) == id {
				streak++
				if streak >= 2 {
					env.Info(fmt.Sprintf("instance %s is available (after %s)", id, p.elapsed()))
					return inst, nil
				}
			} else {
				streak = 0
			}
		}
		next := p.wait
		if streak == 1 {
			next = p.confirm
		}
		if err := next(ctx, status); err != nil {
			return inst, err
		}
	}
}

// failedStatus says whether an instance in status will not become available by waiting.
func failedStatus(status string) bool {
	return status == "failed" || status == "incompatible-restore" || status == "incompatible-parameters"
}

// WaitSettings polls, after a ModifyDBInstance, until the instance is available with no pending
// modifications and the settings named in names as in want, two answers in a row (AWS can still say
// available for a moment after the call). An instance that stays available without the settings is
// an error naming them.
func (c *Clients) WaitSettings(ctx context.Context, env *steps.Env, id string, want Settings, names []string) (rdstypes.DBInstance, error) {
	p := newPoller(env, "instance "+id+" to be available with its settings")
	streak, settled := 0, 0
	for {
		inst, ok, err := c.Instance(ctx, id)
		if err != nil {
			return inst, err
		}
		status := "not answering"
		if ok {
			status = aws.ToString(inst.DBInstanceStatus)
			pending := inst.PendingModifiedValues != nil && !reflect.ValueOf(*inst.PendingModifiedValues).IsZero()
			ms := only(diffSettings(want, SettingsOf(inst)), true, names)
			switch {
			case status != "available" || pending:
				streak, settled = 0, 0
			case len(ms) == 0:
				streak++
				if streak >= 2 {
					env.Info(fmt.Sprintf("instance %s is available with its settings (after %s)", id, p.elapsed()))
					return inst, nil
				}
			default:
				streak = 0
				settled++
				if settled >= 10 {
					return inst, fmt.Errorf("instance %s is available but ModifyDBInstance did not take: %w", id, mismatchError(id, ms))
				}
			}
		}
		if err := p.wait(ctx, status); err != nil {
			return inst, err
		}
	}
}

// WaitInstanceGone polls until the instance no longer answers.
func (c *Clients) WaitInstanceGone(ctx context.Context, env *steps.Env, id string) error {
	p := newPoller(env, "instance "+id+" to be deleted")
	for {
		inst, ok, err := c.Instance(ctx, id)
		if err != nil {
			return err
		}
		if !ok {
			env.Info(fmt.Sprintf("instance %s is gone (after %s)", id, p.elapsed()))
			return nil
		}
		if err := p.wait(ctx, aws.ToString(inst.DBInstanceStatus)); err != nil {
			return err
		}
	}
}

// WaitSnapshot polls until the snapshot is available, reporting PercentProgress as progress.
func (c *Clients) WaitSnapshot(ctx context.Context, env *steps.Env, id string) (rdstypes.DBSnapshot, error) {
	p := newPoller(env, "snapshot "+id)
	for {
		s, ok, err := c.Snapshot(ctx, id)
		if err != nil {
			return s, err
		}
		if !ok {
			return s, fmt.Errorf("snapshot %s disappeared while being created", id)
		}
		pct := aws.ToInt32(s.PercentProgress)
		if env.Out != nil {
			env.Out.Progress(float64(pct), 100, "%")
		}
		status := aws.ToString(s.Status)
		switch status {
		case "available":
			env.Info(fmt.Sprintf("snapshot %s is available (after %s)", id, p.elapsed()))
			return s, nil
		case "failed", "error":
			return s, fmt.Errorf("snapshot %s failed", id)
		}
		if err := p.wait(ctx, fmt.Sprintf("%s, %d%%", status, pct)); err != nil {
			return s, err
		}
	}
}

// DeleteSnapshot deletes a snapshot and waits until it is gone.
func (c *Clients) DeleteSnapshot(ctx context.Context, env *steps.Env, id string) error {
	_, err := c.RDS.DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: &id})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("DeleteDBSnapshot %s: %w", id, err)
	}
	env.Info("deleted snapshot " + id)
	return nil
}

// DeleteInstance deletes an instance cairn made, without a final snapshot, and waits until it is gone.
func (c *Clients) DeleteInstance(ctx context.Context, env *steps.Env, id string) error {
	_, err := c.RDS.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: &id, SkipFinalSnapshot: aws.Bool(true), DeleteAutomatedBackups: aws.Bool(true)})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("DeleteDBInstance %s: %w", id, err)
	}
	return c.WaitInstanceGone(ctx, env, id)
}

// call renders an AWS call for a plan.
func call(op string, kv ...string) steps.Action {
	var b strings.Builder
	b.WriteString(op)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "\n  %s: %s", kv[i], kv[i+1])
	}
	return steps.Action{Kind: steps.ActAWS, Target: strings.SplitN(op, " ", 2)[0], Text: b.String()}
}

// resolver reads a step's templates into named strings, keeping the first error, so a kind
// names what it reads instead of indexing a slice:
//
//	rv := resolving(env)
//	from, to := rv.text(r.From), rv.text(r.To)
//	if err := rv.err; err != nil { … }
//
// After an error the remaining texts are not read and are empty.
type resolver struct {
	env *steps.Env
	err error
}

func resolving(env *steps.Env) *resolver { return &resolver{env: env} }

// flag reads one yes/no template (steps.Env.Flag), unless an earlier one failed.
func (r *resolver) flag(t ref.Template) bool {
	if r.err != nil {
		return false
	}
	b, err := r.env.Flag(t)
	r.err = err
	return b
}

// text reads one template, unless an earlier one failed.
func (r *resolver) text(t ref.Template) string {
	if r.err != nil {
		return ""
	}
	s, err := r.env.Text(t)
	r.err = err
	return s
}

// unknownOr maps a failed read to the contract: a check that could not look (a reference known
// only after apply, AWS unreachable, not allowed to look, throttled) cannot tell — Unknown, in the
// error's own words, with the fix; a read that saw something wrong is Blocked.
func unknownOr(err error, fix string) steps.Check {
	if errors.Is(err, ref.ErrUnknown) {
		return steps.CannotTell("%v", err)
	}
	if CouldNotLook(err) {
		c := steps.CannotTell("%v", err)
		c.Fix = steps.FixOr(err, fix)
		return c
	}
	return steps.BlockedBy(err.Error(), steps.FixOr(err, fix))
}

// CouldNotLook reports whether err says the call never saw the target: the transport failed
// (connection, DNS, TLS, timeout, cancelled), the credentials could not be had, or AWS refused to
// let this identity look (permission, expired or unknown token) or to answer now (throttling, 5xx).
func CouldNotLook(err error) bool {
	var ne net.Error
	var se *v4.SigningError
	var ce *aws.RequestCanceledError
	switch {
	case errors.As(err, &ne), errors.As(err, &se), errors.As(err, &ce),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return true
	}
	switch errCode(err) {
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException", "AuthFailure",
		"AuthorizationError", "NotAuthorized", "ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId",
		"UnrecognizedClientException", "SignatureDoesNotMatch", "MissingAuthenticationToken", "IncompleteSignature",
		"InvalidAccessKeyId", "InvalidSignatureException", "Throttling", "ThrottlingException", "RequestLimitExceeded",
		"TooManyRequestsException", "ServiceUnavailable", "InternalFailure", "InternalError", "InternalServiceError":
		return true
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		code := re.HTTPStatusCode()
		return code == 0 || code == 401 || code == 403 || code == 429 || code >= 500
	}
	return false
}

const fixAWS = "check the AWS credentials and region (aws sts get-caller-identity) and that AWS_ENDPOINT_URL, if set, is right"

func statusOr(status string, exists bool) string {
	if !exists {
		return "missing"
	}
	return status
}
