// Package pgext gives the twin's instances what RDS gives its own beyond plain PostgreSQL: TLS with a CA
// bundle clients can verify against (sslmode=verify-full), and stand-ins for the aws_commons and
// aws_lambda extensions whose aws_lambda.invoke calls the twin's Lambda — only for an instance that has
// an IAM role associated with feature Lambda, as on RDS; and the rds_allowances server hook
// (hook/rds_allowances.c), loaded into every instance, which lets members of rds_superuser create
// subscriptions and publications FOR ALL TABLES and members of rds_replication use replication slots
// and logical replication connections, as on RDS, and enforces rds.force_ssl. That one needs a hook,
// not an extension file: the server checks these with hard-coded superuser() calls and the
// REPLICATION attribute, and TLS only through pg_hba.conf. BuildAllowances builds it with PGXS
// (postgresql-server-dev-<major>) into a cache directory keyed by its source.
//
// What it touches outside the twin's state directory: the extension files (aws_commons.control,
// aws_commons--1.2.sql, aws_lambda.control, aws_lambda--1.0.sql) in the share/extension directory of
// every installed PostgreSQL (/usr/share/postgresql/<v>/extension), because PostgreSQL 15 looks for
// extensions only there, and the line `trusted = true` in the control files of the contrib extensions
// RDS lets the master user create (dblink, pg_stat_statements, postgres_fdw, …); that needs root, as
// the test bed runs. Without it the twin still runs, and `CREATE EXTENSION aws_lambda` fails as on a
// server that lacks it.
package pgext

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
	"github.com/cairn-runbooks/cairn/internal/twin/lambda"
)

//go:embed ext/*
var extFiles embed.FS

// EndpointFile is the file, in the twin's state directory, that tells the aws_lambda stand-in where the
// twin listens; the stand-in finds it by walking up from the cluster's data directory.
const EndpointFile = "cairn-twin.endpoint"

// WriteEndpoint writes the twin's endpoint where the stand-in reads it.
func WriteEndpoint(dir, endpoint string) error {
	p := filepath.Join(dir, EndpointFile)
	if err := os.WriteFile(p, []byte(endpoint+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", EndpointFile, err)
	}
	return os.Chmod(p, 0o644)
}

// Install writes the extension stand-ins into every installed PostgreSQL's extension directory, where
// they differ from what is there. It returns the directories written to.
func Install(ctx context.Context) ([]string, error) {
	configs, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_config")
	if len(configs) == 0 {
		return nil, errors.New("no PostgreSQL server found under /usr/lib/postgresql")
	}
	var dirs []string
	var errs []error
	for _, pc := range configs {
		out, err := exec.CommandContext(ctx, pc, "--sharedir").Output()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s --sharedir: %w", pc, err))
			continue
		}
		dir := filepath.Join(strings.TrimSpace(string(out)), "extension")
		if err := installInto(dir); err == nil {
			err = trustExtensions(dir)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		dirs = append(dirs, dir)
	}
	return dirs, errors.Join(errs...)
}

func installInto(dir string) error {
	entries, err := fs.ReadDir(extFiles, "ext")
	if err != nil {
		return err
	}
	for _, e := range entries {
		want, err := fs.ReadFile(extFiles, "ext/"+e.Name())
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, e.Name())
		if have, err := os.ReadFile(dst); err == nil && bytes.Equal(have, want) {
			continue
		}
		if err := fsutil.WriteAtomic(dst, want, 0o644); err != nil {
			return fmt.Errorf("install the aws_lambda stand-in into %s (needs root): %w", dir, err)
		}
	}
	return nil
}

// rdsTrusted are the contrib extensions RDS lets the master user (a member of rds_superuser) create
// that stock PostgreSQL lets only a superuser create.
var rdsTrusted = []string{"dblink", "pg_stat_statements", "postgres_fdw", "pgstattuple", "pg_buffercache", "pg_prewarm"}

// trustExtensions marks rdsTrusted extensions trusted in dir: PostgreSQL lets a non-superuser create
// only a trusted extension (and then runs its script as the bootstrap superuser), which is what RDS
// gives rds_superuser for these.
func trustExtensions(dir string) error {
	var errs []error
	for _, name := range rdsTrusted {
		errs = append(errs, trustExtension(filepath.Join(dir, name+".control")))
	}
	return errors.Join(errs...)
}

func trustExtension(p string) error {
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if bytes.Contains(b, []byte("\ntrusted = true")) {
		return nil
	}
	b = append(bytes.TrimRight(b, "\n"), []byte("\n# cairn twin: creatable by rds_superuser members, as on RDS\ntrusted = true\n")...)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		return fmt.Errorf("mark %s trusted (needs root): %w", p, err)
	}
	return nil
}

// PortRoles finds, by the port its cluster listens on, the instance that calls and its Lambda role.
type PortRoles interface {
	PortRole(port int, feature string) (instanceID, roleArn string, err error)
}

// Invoker is the twin's Lambda.
type Invoker interface {
	Invoke(ctx context.Context, name, invocationType, logType string, payload []byte) (lambda.Result, error)
}

// Handler answers the stand-in's calls: POST /_twin/rds/lambda-invoke.
type Handler struct {
	RDS    PortRoles
	Lambda Invoker
}

// Path is where Handler listens.
const Path = "/_twin/rds/lambda-invoke"

type invokeRequest struct {
	Port           int     `json:"port"`
	FunctionName   string  `json:"function_name"`
	Region         *string `json:"region"`
	Payload        string  `json:"payload"`
	InvocationType *string `json:"invocation_type"`
	LogType        *string `json:"log_type"`
	Qualifier      *string `json:"qualifier"`
}

func (h Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != Path {
		fail(w, http.StatusNotFound, "invoke API failed", "no such twin path")
		return
	}
	var in invokeRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 7<<20)).Decode(&in); err != nil {
		fail(w, http.StatusBadRequest, "invoke API failed", "malformed request from the stand-in")
		return
	}
	id, role, err := h.RDS.PortRole(in.Port, "Lambda")
	if err != nil {
		fail(w, http.StatusBadRequest, "invoke API failed", "AWS Lambda client returned 'Unable to connect to endpoint'.")
		return
	}
	if role == "" {
		fail(w, http.StatusForbidden, "invoke API failed",
			fmt.Sprintf("AWS Lambda client returned 'no credentials: DB instance %s has no IAM role associated with feature Lambda (aws rds add-role-to-db-instance --db-instance-identifier %s --feature-name Lambda --role-arn …)'.", id, id))
		return
	}
	name := in.FunctionName
	if in.Region != nil && *in.Region != "" && *in.Region != awswire.Region {
		fail(w, http.StatusBadRequest, "invoke API failed", fmt.Sprintf("AWS Lambda client returned 'Function not found: the twin serves region %s only, not %s'.", awswire.Region, *in.Region))
		return
	}
	if i := strings.Index(name, ":function:"); i >= 0 && strings.HasPrefix(name, "arn:") {
		if parts := strings.Split(name, ":"); len(parts) >= 4 && parts[3] != awswire.Region {
			fail(w, http.StatusBadRequest, "invoke API failed", fmt.Sprintf("AWS Lambda client returned 'Function not found: %s (the twin serves region %s only)'.", name, awswire.Region))
			return
		}
	}
	if in.Qualifier != nil && *in.Qualifier != "" && *in.Qualifier != "$LATEST" {
		fail(w, http.StatusBadRequest, "invoke API failed", fmt.Sprintf("AWS Lambda client returned 'Function not found: %s:%s'.", name, *in.Qualifier))
		return
	}
	res, err := h.Lambda.Invoke(r.Context(), name, deref(in.InvocationType), deref(in.LogType), []byte(in.Payload))
	if err != nil {
		e := awswire.AsError(err)
		fail(w, http.StatusBadRequest, "invoke API failed", fmt.Sprintf("AWS Lambda client returned '%s'.", e.Message))
		return
	}
	out := map[string]any{"status_code": res.StatusCode, "payload": string(res.Payload), "executed_version": nullable(res.ExecutedVersion),
		"log_result": nullable(res.LogResult), "arn": res.FunctionARN}
	if res.FunctionError != "" {
		out["function_error"] = res.FunctionError
		out["error_details"] = string(res.Payload)
		out["payload"] = ""
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func fail(w http.ResponseWriter, code int, msg, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg, "detail": detail})
}
