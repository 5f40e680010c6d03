// Package proc starts the child processes steps run: argv only (never a shell unless the runbook
// writes `sh -c` itself), in their own process group, killed if cairn dies (Pdeathsig), with secrets
// passed through the environment or stdin — never argv — and every output line streamed to the
// step's sink. Each child is reported to a recorder so a resumed run can find leftovers.
package proc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-runbooks/cairn/steps"
)

// Cmd is one command to run.
type Cmd struct {
	Argv  []string
	Env   []string // full environment (KEY=VALUE); nil means inherit the step env's Environ
	Dir   string
	Stdin io.Reader
	// Credential runs the child as another OS user (cairn runs as root on database hosts).
	Credential *syscall.Credential
	// Quiet suppresses streaming (checks and verifies whose output is only read).
	Quiet bool
}

// Result is what a finished command left.
type Result struct {
	ExitCode int
	Stdout   string // captured (also streamed unless Quiet)
	Stderr   string
}

// ExitError is a command that ran and failed.
type ExitError struct {
	Argv0    string
	ExitCode int
	Stderr   string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited with status %d", e.Argv0, e.ExitCode)
	if s := strings.TrimSpace(lastLines(e.Stderr, 5)); s != "" {
		msg += ": " + s
	}
	return msg
}

// Run starts the command, streams its lines to env.Out, waits, and returns its result. A non-zero
// exit is an *ExitError (the Result is still filled). ctx cancellation kills the whole group.
func Run(ctx context.Context, env *steps.Env, c Cmd) (Result, error) {
	if len(c.Argv) == 0 {
		return Result{}, errors.New("empty command")
	}
	cmd := exec.Command(c.Argv[0], c.Argv[1:]...)
	cmd.Env = c.Env
	if cmd.Env == nil && env != nil {
		cmd.Env = env.Environ
	}
	cmd.Dir = c.Dir
	cmd.Stdin = c.Stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, Credential: c.Credential}
	outR, outW := io.Pipe()
	errR, errW := io.Pipe()
	cmd.Stdout, cmd.Stderr = outW, errW
	if err := cmd.Start(); err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("start %s: %w", c.Argv[0], err)
	}
	pid := cmd.Process.Pid
	if env != nil && env.Children != nil {
		env.Children.Started(pid, c.Argv[0])
	}
	var wg sync.WaitGroup
	var stdout, stderr strings.Builder
	pump := func(r io.Reader, stream string, into *strings.Builder) {
		defer wg.Done()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
		for sc.Scan() {
			line := sc.Text()
			into.WriteString(line + "\n")
			if !c.Quiet && env != nil && env.Out != nil {
				env.Out.Line(stream, line)
			}
		}
		_, _ = io.Copy(io.Discard, r)
	}
	wg.Add(2)
	go pump(outR, "stdout", &stdout)
	go pump(errR, "stderr", &stderr)
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		outW.Close()
		errW.Close()
		done <- err
	}()
	var werr error
	select {
	case werr = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-pid, syscall.SIGTERM)
		select {
		case werr = <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			werr = <-done
		}
	}
	wg.Wait()
	if env != nil && env.Children != nil {
		env.Children.Exited(pid)
	}
	res := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if ctx.Err() != nil {
		res.ExitCode = -1
		return res, fmt.Errorf("%s stopped: %w", c.Argv[0], ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		res.ExitCode = ee.ExitCode()
		return res, &ExitError{Argv0: c.Argv[0], ExitCode: res.ExitCode, Stderr: res.Stderr}
	}
	if werr != nil {
		return res, fmt.Errorf("%s: %w", c.Argv[0], werr)
	}
	return res, nil
}

// Output runs a command quietly and returns its stdout (for checks and probes).
func Output(ctx context.Context, env *steps.Env, argv ...string) (string, error) {
	r, err := Run(ctx, env, Cmd{Argv: argv, Quiet: true})
	return r.Stdout, err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
