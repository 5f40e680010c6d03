// Package twin is the `cairn twin` command: `up` runs the rehearsal twin (a local AWS for RDS, KMS,
// Secrets Manager and STS backed by real PostgreSQL) and prints the environment that points AWS tools
// at it; `down` stops it and its clusters. It changes nothing outside the twin's state directory.
package twin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	twinsrv "github.com/cairn-runbooks/cairn/internal/twin"
)

// Files the running twin keeps in its state directory.
const (
	pidFile = "twin.pid"
	envFile = "twin.env"
	logFile = "twin.log"
)

// UpOptions are the parsed flags of `cairn twin up`.
type UpOptions struct {
	IO         *cmdutil.IOStreams
	Executable string
	Dir        string
	Port       int
	Speed      string
	Seed       string
	Rows       int
	Detach     bool
}

// DownOptions are the parsed flags of `cairn twin down`.
type DownOptions struct {
	IO  *cmdutil.IOStreams
	Dir string
	// Wait is how long down waits for the twin to exit.
	Wait time.Duration
}

// NewCmdTwin builds `cairn twin` with its subcommands.
func NewCmdTwin(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "twin",
		Short: "Run the rehearsal twin: a local AWS (RDS, KMS, Secrets Manager) backed by real PostgreSQL",
	}
	cmd.AddCommand(newCmdUp(f, nil), newCmdDown(f, nil))
	return cmd
}

// defaultDir is where the twin keeps its state. As root, its clusters run as `postgres`, which cannot
// reach a home under /root, so unless CAIRN_STATE_DIR says otherwise root's twin lives in
// /var/lib/cairn/twin.
func defaultDir(f *cmdutil.Factory) string {
	if os.Geteuid() == 0 && f.Getenv("CAIRN_STATE_DIR") == "" {
		return "/var/lib/cairn/twin"
	}
	return filepath.Join(f.StateDir(), "twin")
}

func newCmdUp(f *cmdutil.Factory, runF func(context.Context, *UpOptions) error) *cobra.Command {
	o := &UpOptions{IO: f.IO, Executable: f.Executable}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the twin and print the environment to use (eval \"$(cairn twin up --detach)\")",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				o.Dir = defaultDir(f)
			}
			if o.Speed != string(twinsrv.SpeedFast) && o.Speed != string(twinsrv.SpeedRealistic) {
				return cmdutil.FlagErrorf("--speed must be fast or realistic, not %q", o.Speed)
			}
			if o.Seed != "" && o.Seed != twinsrv.SeedDemo {
				return cmdutil.FlagErrorf("--seed must be demo, not %q", o.Seed)
			}
			if o.Rows < 0 || o.Port < 0 || o.Port > 65535 {
				return cmdutil.FlagErrorf("--rows and --port must not be negative (and --port at most 65535)")
			}
			abs, err := filepath.Abs(o.Dir)
			if err != nil {
				return cmdutil.FlagErrorf("--dir: %w", err)
			}
			o.Dir = abs
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runUp(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "state directory (default $XDG_STATE_HOME/cairn/twin)")
	cmd.Flags().IntVar(&o.Port, "port", 0, "loopback port to listen on (0 picks a free one)")
	cmd.Flags().StringVar(&o.Speed, "speed", string(twinsrv.SpeedRealistic), "how fast statuses move: fast or realistic")
	cmd.Flags().StringVar(&o.Seed, "seed", "", "seed the twin once: demo (instance app-db, alias/cairn-demo, secret cairn/app-db/master)")
	cmd.Flags().IntVar(&o.Rows, "rows", 0, "rows of demo data (default 300000)")
	cmd.Flags().BoolVar(&o.Detach, "detach", false, "run in the background; return once the twin is ready")
	return cmd
}

func newCmdDown(f *cmdutil.Factory, runF func(context.Context, *DownOptions) error) *cobra.Command {
	o := &DownOptions{IO: f.IO, Wait: 2 * time.Minute}
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the twin and its PostgreSQL clusters (state is kept)",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Dir == "" {
				o.Dir = defaultDir(f)
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runDown(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Dir, "dir", "", "state directory (default $XDG_STATE_HOME/cairn/twin)")
	return cmd
}

// shellQuote quotes v for a POSIX shell.
func shellQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

// exportLines turns NAME=value lines into `export NAME='value'` lines that eval accepts.
func exportLines(env []string) string {
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(v))
	}
	return b.String()
}

// runningPID returns the pid in dir's pid file when that process is alive.
func runningPID(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, pidFile))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	err = syscall.Kill(pid, 0)
	return pid, err == nil || errors.Is(err, syscall.EPERM)
}

func runUp(ctx context.Context, o *UpOptions) error {
	if pid, ok := runningPID(o.Dir); ok {
		return printRunning(ctx, o, pid)
	}
	if o.Detach {
		return runDetached(ctx, o)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("twin up: %w", err)
	}
	_ = os.Remove(filepath.Join(o.Dir, envFile))
	if err := os.WriteFile(filepath.Join(o.Dir, pidFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("twin up: pid file: %w", err)
	}
	defer os.Remove(filepath.Join(o.Dir, pidFile))
	s, err := twinsrv.Start(ctx, twinsrv.Options{Dir: o.Dir, Port: o.Port, Speed: twinsrv.Speed(o.Speed), Seed: o.Seed, Rows: o.Rows})
	if err != nil {
		return fmt.Errorf("twin up: %w", err)
	}
	exports := exportLines(s.Env())
	// The env file appears only once the twin is ready: --detach waits for it.
	if err := fsutil.WriteAtomic(filepath.Join(o.Dir, envFile), []byte(exports), 0o644); err != nil {
		_ = s.Close(context.WithoutCancel(ctx))
		return fmt.Errorf("twin up: %w", err)
	}
	defer os.Remove(filepath.Join(o.Dir, envFile))
	fmt.Fprint(o.IO.Out, exports)
	fmt.Fprintf(o.IO.ErrOut, "# cairn twin serving %s (account 000000000000, state %s); stop with: cairn twin down --dir %s\n",
		s.Endpoint(), o.Dir, shellQuote(o.Dir))
	<-ctx.Done()
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	if err := s.Close(closeCtx); err != nil {
		return fmt.Errorf("twin up: %w", err)
	}
	return nil
}

// printRunning prints the environment of the twin already running in o.Dir (waiting until it is ready,
// if it is still starting), so `eval "$(cairn twin up …)"` works in a second shell too. The flags that
// shape a twin (--port, --speed, --seed, --rows) are the running twin's, not these.
func printRunning(ctx context.Context, o *UpOptions, pid int) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		b, err := os.ReadFile(filepath.Join(o.Dir, envFile))
		if err == nil {
			fmt.Fprint(o.IO.Out, string(b))
			fmt.Fprintf(o.IO.ErrOut, "# cairn twin already running in %s (pid %d); its --port, --speed and --seed stand. Stop it with: cairn twin down --dir %s\n",
				o.Dir, pid, shellQuote(o.Dir))
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("twin up: a twin is running in %s (pid %d) but its environment cannot be read: %w", o.Dir, pid, err)
		}
		if _, alive := runningPID(o.Dir); !alive {
			return fmt.Errorf("twin up: the twin in %s (pid %d) exited while starting; see %s, then run cairn twin up again",
				o.Dir, pid, filepath.Join(o.Dir, logFile))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("twin up: the twin in %s (pid %d) is still starting: %w", o.Dir, pid, ctx.Err())
		case <-tick.C:
		}
	}
}

// runDetached starts `cairn twin up` again in a new session, its output going to twin.log, and
// returns once the child has written the env file (or has died).
func runDetached(ctx context.Context, o *UpOptions) error {
	if o.Executable == "" {
		return errors.New("twin up --detach: the path of the cairn binary is unknown")
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("twin up --detach: %w", err)
	}
	_ = os.Remove(filepath.Join(o.Dir, envFile))
	log, err := os.OpenFile(filepath.Join(o.Dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("twin up --detach: %w", err)
	}
	defer log.Close()
	args := []string{"twin", "up", "--dir", o.Dir, "--port", strconv.Itoa(o.Port), "--speed", o.Speed, "--rows", strconv.Itoa(o.Rows)}
	if o.Seed != "" {
		args = append(args, "--seed", o.Seed)
	}
	cmd := exec.Command(o.Executable, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("twin up --detach: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("twin up --detach: %w (the twin, pid %d, may still be starting; see %s)", ctx.Err(), cmd.Process.Pid, filepath.Join(o.Dir, logFile))
		case err := <-exited:
			return fmt.Errorf("twin up --detach: the twin exited before it was ready (%v); see %s", err, filepath.Join(o.Dir, logFile))
		case <-tick.C:
			b, err := os.ReadFile(filepath.Join(o.Dir, envFile))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return fmt.Errorf("twin up --detach: %w", err)
			}
			fmt.Fprint(o.IO.Out, string(b))
			fmt.Fprintf(o.IO.ErrOut, "# cairn twin running in the background (pid %d, log %s); stop with: cairn twin down --dir %s\n",
				cmd.Process.Pid, filepath.Join(o.Dir, logFile), shellQuote(o.Dir))
			_ = cmd.Process.Release()
			return nil
		}
	}
}

func runDown(ctx context.Context, o *DownOptions) error {
	pid, ok := runningPID(o.Dir)
	if ok {
		if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("twin down: signal pid %d: %w", pid, err)
		}
		deadline := time.Now().Add(o.Wait)
		for {
			if _, alive := runningPID(o.Dir); !alive || syscall.Kill(pid, 0) != nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("twin down: pid %d still running after %s", pid, o.Wait)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("twin down: %w", ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	// Stop clusters a crashed twin left running.
	stopped, err := stopClusters(ctx, o.Dir)
	if err != nil {
		return fmt.Errorf("twin down: %w", err)
	}
	switch {
	case ok:
		fmt.Fprintf(o.IO.ErrOut, "twin in %s stopped (pid %d)\n", o.Dir, pid)
	case stopped > 0:
		fmt.Fprintf(o.IO.ErrOut, "no twin was running in %s; stopped %d cluster(s) it left behind\n", o.Dir, stopped)
	default:
		fmt.Fprintf(o.IO.ErrOut, "no twin running in %s\n", o.Dir)
	}
	return nil
}

func stopClusters(ctx context.Context, dir string) (int, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "pg", "*", "cluster.json"))
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, m := range matches {
		c, err := pgcluster.Open(filepath.Dir(m))
		if err != nil || !c.Running() {
			continue
		}
		if err := c.Stop(ctx); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
