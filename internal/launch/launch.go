// Package launch starts runner processes: a new run (directory, meta, runbook copy) or an existing
// one (resume, rollback). A runner is its own process in its own session — a dropped terminal or ssh
// connection does not stop it — and gets its secret values on stdin, never argv or files.
package launch

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/runbooks"
)

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}

// NewRun creates a run directory for a runbook with resolved values.
func NewRun(stateDir string, rb *runbooks.Runbook, vals runbooks.Values, policy journal.Policy, who events.Actor, now time.Time, extra func(*journal.Meta)) (*journal.Run, error) {
	meta := journal.Meta{
		ID: journal.NewID(now), Runbook: rb.Name, Source: rb.Source, Params: map[string]string{},
		Policy: policy, Started: now, StartedBy: who.User, StarterUID: who.UID, Host: who.Host,
	}
	for k, v := range vals {
		if v.Secret {
			meta.Secrets = append(meta.Secrets, k)
		} else {
			meta.Params[k] = v.S
		}
	}
	if extra != nil {
		extra(&meta)
	}
	return journal.Create(stateDir, meta, rb.Text)
}

// Start spawns `cairn __runner` for a run in its own session and hands it the secrets on stdin.
// It returns the child's pid; the child is not waited for here beyond its start.
func Start(exe string, run *journal.Run, mode string, secrets map[string]string, environ []string) (int, error) {
	logf, err := run.OpenFile(journal.RunnerLog, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(exe, "__runner", "--run-dir", run.Dir, "--mode", mode)
	cmd.Env = environ
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start runner: %w", err)
	}
	if secrets == nil {
		secrets = map[string]string{}
	}
	if err := json.NewEncoder(in).Encode(secrets); err != nil {
		_ = cmd.Process.Kill()
		return 0, fmt.Errorf("hand secrets to the runner: %w", err)
	}
	in.Close()
	go func() { _ = cmd.Wait() }()
	return cmd.Process.Pid, nil
}

// Secrets picks the secret values out of resolved values.
func Secrets(vals runbooks.Values) map[string]string {
	out := map[string]string{}
	for k, v := range vals {
		if v.Secret && v.S != "" {
			out[k] = v.S
		}
	}
	return out
}

// Environ is the environment a runner gets: cairn's own, minus the variables the runbook reads
// secrets from (the runner receives those values on stdin, and its children must not inherit them).
func Environ(rb *runbooks.Runbook, environ []string) []string {
	drop := map[string]bool{}
	for _, p := range rb.Parameters {
		if p.Secret && p.Env != "" {
			drop[p.Env] = true
		}
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}
