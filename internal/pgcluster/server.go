package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Start starts the server and waits until it accepts connections; it does nothing when the
// server is already running. If Init picked the port and another process has taken it since,
// Start picks a new one (updating c.Port and cluster.json) and tries once more.
func (c *Cluster) Start(ctx context.Context) error {
	if c.Running() {
		return nil
	}
	acct, err := currentAccount()
	if err != nil {
		return fmt.Errorf("start cluster %s: %w", c.Dir, err)
	}
	err = c.pgctlStart(ctx, acct)
	if err == nil || !c.AutoPort || !c.portTaken(err) {
		return err
	}
	if c.Port, err = freePort(); err != nil {
		return fmt.Errorf("start cluster %s: %w", c.Dir, err)
	}
	if err := c.writeConf(acct, nil); err != nil {
		return fmt.Errorf("start cluster %s on a new port: %w", c.Dir, err)
	}
	if err := c.save(acct); err != nil {
		return fmt.Errorf("start cluster %s on a new port: %w", c.Dir, err)
	}
	return c.pgctlStart(ctx, acct)
}

// startError is a failed pg_ctl start with the server log written during the attempt.
type startError struct {
	err error
	log string
}

func (e *startError) Error() string {
	return fmt.Sprintf("%v; server log:\n%s", e.err, e.log)
}

func (e *startError) Unwrap() error { return e.err }

func (c *Cluster) pgctlStart(ctx context.Context, acct account) error {
	logPath := filepath.Join(c.Dir, logFile)
	var offset int64
	if fi, err := os.Stat(logPath); err == nil {
		offset = fi.Size()
	}
	// -l sends the server's output to the log, so it never holds the caller's stdout open.
	_, err := acct.run(ctx, c.BinPath("pg_ctl"), "start", "-D", c.DataDir, "-l", logPath, "-w", "-t", "60", "-s")
	if err == nil {
		return nil
	}
	return fmt.Errorf("start cluster %s: %w", c.Dir, &startError{err: err, log: tail(logPath, offset)})
}

func (c *Cluster) portTaken(err error) bool {
	var se *startError
	return errors.As(err, &se) && strings.Contains(se.log, "Address already in use")
}

// tail reads the log from offset, at most 4 KiB of its end.
func tail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size()-offset > 4096 {
		offset = fi.Size() - 4096
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(f)
	return strings.TrimSpace(string(b))
}

// Stop stops the server with pg_ctl stop -m fast and waits; it does nothing when it is not running.
func (c *Cluster) Stop(ctx context.Context) error {
	return c.stop(ctx, "fast")
}

func (c *Cluster) stop(ctx context.Context, mode string) error {
	if !c.Running() {
		return nil
	}
	acct, err := currentAccount()
	if err != nil {
		return fmt.Errorf("stop cluster %s: %w", c.Dir, err)
	}
	if _, err := acct.run(ctx, c.BinPath("pg_ctl"), "stop", "-D", c.DataDir, "-m", mode, "-w", "-t", "60", "-s"); err != nil && c.Running() {
		return fmt.Errorf("stop cluster %s: %w", c.Dir, err)
	}
	return nil
}

// Restart stops the server (if running) and starts it again.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.Stop(ctx); err != nil {
		return err
	}
	return c.Start(ctx)
}

// Running reports whether the postmaster named in postmaster.pid is alive.
func (c *Cluster) Running() bool {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return false
	}
	err = syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// Remove stops the server (immediately if a fast stop fails) and deletes the cluster directory.
func (c *Cluster) Remove(ctx context.Context) error {
	var errs []error
	if err := c.Stop(ctx); err != nil {
		errs = append(errs, err)
		if err := c.stop(ctx, "immediate"); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("remove cluster %s: %w", c.Dir, err))
	}
	return errors.Join(errs...)
}
