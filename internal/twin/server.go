// Package twin is cairn's rehearsal twin: one local HTTP server that answers the AWS APIs runbooks
// call — RDS, STS and IAM on the Query protocol, KMS and Secrets Manager on JSON 1.1, Lambda on REST
// JSON — the way AWS does on the wire, where every DB instance is a real PostgreSQL cluster (with TLS and
// the aws_lambda stand-in, see package pgext) and every Lambda function really runs. Unmodified aws-sdk-go-v2 clients
// (BaseEndpoint / AWS_ENDPOINT_URL) and the AWS CLI (--endpoint-url) work against it.
//
// Requests are routed by X-Amz-Target (JSON 1.1), else by the service in the SigV4 credential scope of
// the Authorization header (rds or sts), else by the Query Version. Any signature is accepted; the
// account (000000000000) and region (us-east-1) are fixed. State lives in one directory and survives a
// restart. See README.md for what is emulated and what is not.
package twin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
	"github.com/cairn-runbooks/cairn/internal/twin/iam"
	"github.com/cairn-runbooks/cairn/internal/twin/kms"
	"github.com/cairn-runbooks/cairn/internal/twin/lambda"
	"github.com/cairn-runbooks/cairn/internal/twin/pgext"
	"github.com/cairn-runbooks/cairn/internal/twin/rds"
	"github.com/cairn-runbooks/cairn/internal/twin/secrets"
	"github.com/cairn-runbooks/cairn/internal/twin/sts"
)

// Speed says how fast statuses move.
type Speed string

const (
	// SpeedFast moves every transition in a few hundred milliseconds (tests).
	SpeedFast Speed = "fast"
	// SpeedRealistic takes tens of seconds per transition, so progress and waits are visible.
	SpeedRealistic Speed = "realistic"
)

// SeedDemo is the one seed there is: see Options.Seed.
const SeedDemo = "demo"

// Options configure a twin.
type Options struct {
	// Dir is the state directory (created if missing). Every parent must be searchable by the
	// postgres OS user when running as root.
	Dir string
	// Port is the loopback port to listen on; 0 picks a free one.
	Port int
	// Speed defaults to SpeedRealistic.
	Speed Speed
	// Seed "demo" creates, once per state directory, the demo instance app-db with an application's
	// data, the KMS alias alias/cairn-demo and the secret cairn/app-db/master.
	Seed string
	// Rows sizes the demo data (default 300000).
	Rows int
}

// Server is a running twin.
type Server struct {
	o       Options
	ln      net.Listener
	srv     *http.Server
	served  chan error
	kms     *kms.Service
	secrets *secrets.Service
	rds     *rds.Service
	iam     *iam.Service
	lambda  *lambda.Service
	tls     pgext.TLS

	closeOnce sync.Once
	closeErr  error
}

// Start opens the state in o.Dir, starts the clusters of existing instances, listens on 127.0.0.1 and,
// with a seed, seeds the twin before returning.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Dir == "" {
		return nil, errors.New("start twin: Options.Dir is empty")
	}
	var pace rds.Pace
	settings := map[string]string{}
	switch o.Speed {
	case SpeedFast:
		pace = rds.FastPace()
		settings = map[string]string{"fsync": "off", "synchronous_commit": "off"}
	case SpeedRealistic, "":
		o.Speed, pace = SpeedRealistic, rds.RealisticPace()
	default:
		return nil, fmt.Errorf("start twin: unknown speed %q (fast or realistic)", o.Speed)
	}
	if o.Seed != "" && o.Seed != SeedDemo {
		return nil, fmt.Errorf("start twin: unknown seed %q (demo)", o.Seed)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("start twin: state dir: %w", err)
	}
	if err := os.Chmod(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("start twin: state dir: %w", err)
	}
	s := &Server{o: o, served: make(chan error, 1)}
	var err error
	if s.kms, err = kms.Open(o.Dir); err != nil {
		return nil, fmt.Errorf("start twin: %w", err)
	}
	if s.secrets, err = secrets.Open(o.Dir); err != nil {
		return nil, fmt.Errorf("start twin: %w", err)
	}
	if s.iam, err = iam.Open(o.Dir); err != nil {
		return nil, fmt.Errorf("start twin: %w", err)
	}
	if s.tls, err = pgext.EnsureTLS(o.Dir); err != nil {
		return nil, fmt.Errorf("start twin: %w", err)
	}
	maps.Copy(settings, s.tls.Settings())
	if _, err := pgext.Install(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "twin: aws_commons/aws_lambda stand-ins not installed, CREATE EXTENSION aws_lambda will fail: %v\n", err)
	}
	if s.lambda, err = lambda.Open(lambda.Options{Dir: o.Dir, Endpoint: s.Endpoint, RoleExists: s.iam.RoleExists,
		AccessKeyID: DummyAccessKeyID, SecretAccessKey: DummySecretAccessKey}); err != nil {
		return nil, fmt.Errorf("start twin: %w", err)
	}
	// RDS lets rds_superuser members create subscriptions and publications for all tables; stock
	// PostgreSQL needs a server hook for that (see pgext.BuildAllowances). Without it the twin would
	// refuse what RDS allows, so it does not start.
	major, err := pgcluster.Installed()
	if err != nil {
		return nil, fmt.Errorf("start twin: %w", err)
	}
	cache, err := pgext.CacheDir()
	if err != nil {
		return nil, fmt.Errorf("start twin: %w", err)
	}
	hook, err := pgext.BuildAllowances(ctx, cache, major)
	if err != nil {
		return nil, fmt.Errorf("start twin: %w", err)
	}
	if s.rds, err = rds.Open(ctx, rds.Options{Dir: o.Dir, KMS: s.kms, Pace: pace, Settings: settings, Preload: []string{hook}, RoleExists: s.iam.RoleExists}); err != nil {
		return nil, fmt.Errorf("start twin: %w", err)
	}
	s.ln, err = net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", o.Port))
	if err != nil {
		_ = s.rds.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start twin: listen: %w", err)
	}
	if err := pgext.WriteEndpoint(o.Dir, s.Endpoint()); err != nil {
		_ = s.rds.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start twin: %w", err)
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { s.served <- s.srv.Serve(s.ln) }()
	if o.Seed == SeedDemo {
		if err := s.seedDemo(ctx); err != nil {
			_ = s.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("start twin: seed demo: %w", err)
		}
	}
	return s, nil
}

// Endpoint is the URL clients use (AWS_ENDPOINT_URL, --endpoint-url, BaseEndpoint).
func (s *Server) Endpoint() string {
	return "http://" + s.ln.Addr().String()
}

// Port is the port the twin listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// CABundle is the PEM file of the twin's CA, which every instance's certificate chains to: a
// client's sslrootcert for sslmode=verify-full.
func (s *Server) CABundle() string { return s.tls.CABundle }

// Env is the environment that points AWS SDKs and the AWS CLI at the twin, as NAME=value lines.
func (s *Server) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL=" + s.Endpoint(),
		"AWS_REGION=" + awswire.Region,
		"AWS_DEFAULT_REGION=" + awswire.Region,
		"AWS_ACCESS_KEY_ID=" + DummyAccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + DummySecretAccessKey,
		"CAIRN_TWIN_CA_BUNDLE=" + s.tls.CABundle,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// Dummy credentials: the twin accepts any signature, but SDKs will not sign without some.
const (
	DummyAccessKeyID     = "AKIACAIRNTWIN0000000"
	DummySecretAccessKey = "cairn-twin-accepts-any-signature"
)

// Close stops serving, finishes or pauses background work and stops every cluster. State stays on
// disk for the next Start.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *Server) close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.lambda.Close()
	if serr := <-s.served; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	if cerr := s.rds.Close(ctx); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close twin: %w", err)
	}
	return nil
}

// ServeHTTP routes one AWS request to its service.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		prefix, op, _ := strings.Cut(target, ".")
		switch prefix {
		case "TrentService":
			s.kms.ServeJSON(w, r, op)
		case "secretsmanager":
			s.secrets.ServeJSON(w, r, op)
		default:
			awswire.WriteJSONError(w, awswire.Errorf("UnknownOperationException", "The twin does not serve %s", target))
		}
		return
	}
	if lambda.Handles(r) {
		s.lambda.ServeHTTP(w, r)
		return
	}
	if r.URL.Path == ClockPath {
		s.serveClock(w, r)
		return
	}
	if r.URL.Path == pgext.Path {
		pgext.Handler{RDS: s.rds, Lambda: s.lambda}.ServeHTTP(w, r)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		awswire.WriteQueryError(w, awswire.Errorf("MalformedQueryString", "%v", err))
		return
	}
	form := awswire.Form(r.Form)
	action := form.String("Action")
	if action == "" {
		awswire.WriteQueryError(w, awswire.Errorf("MissingAction", "The request has no Action and no X-Amz-Target: the twin speaks the AWS Query and JSON 1.1 protocols"))
		return
	}
	switch service(r, form) {
	case "sts":
		sts.ServeQuery(w, action)
	case "rds":
		s.rds.ServeQuery(w, action, form)
	case "iam":
		s.iam.ServeQuery(w, action, form)
	default:
		awswire.WriteQueryError(w, awswire.Errorf("InvalidAction", "The twin serves no service for Action %s", action))
	}
}

// service names the Query service a request is for: the SigV4 credential scope
// (Credential=AKID/date/region/SERVICE/aws4_request), else the API version.
func service(r *http.Request, form awswire.Form) string {
	if _, cred, ok := strings.Cut(r.Header.Get("Authorization"), "Credential="); ok {
		cred, _, _ = strings.Cut(cred, ",")
		if parts := strings.Split(cred, "/"); len(parts) == 5 {
			return parts[3]
		}
	}
	switch form.String("Version") {
	case "2011-06-15":
		return "sts"
	case "2014-10-31":
		return "rds"
	case iam.Version:
		return "iam"
	}
	return ""
}

// ClockPath is where the twin's clock is read (GET) and moved forward (POST advance=<Go duration>),
// for tests and rehearsals that need a window to pass: {"now": RFC 3339}.
const ClockPath = "/_twin/clock"

// AdvanceClock moves the twin's clock forward by d: maintenance and backup windows passed are acted
// on (pending modifications applied, automated snapshots taken). It returns the twin's new time.
func (s *Server) AdvanceClock(d time.Duration) (time.Time, error) { return s.rds.AdvanceClock(d) }

func (s *Server) serveClock(w http.ResponseWriter, r *http.Request) {
	now := s.rds.Now()
	if r.Method == http.MethodPost {
		d, err := time.ParseDuration(r.FormValue("advance"))
		if err == nil {
			now, err = s.rds.AdvanceClock(d)
		}
		if err != nil {
			http.Error(w, "advance the twin's clock: "+err.Error(), http.StatusBadRequest)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"now\":%q}\n", now.UTC().Format(time.RFC3339Nano))
}
