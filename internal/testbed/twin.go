package testbed

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TwinOptions say how Twin starts the rehearsal twin.
type TwinOptions struct {
	// Speed is fast (default) or realistic.
	Speed string
	// Seed "demo" seeds the demo application; Rows sizes it (keep it small in tests).
	Seed string
	Rows int
	// Binary runs `twin up`; default CairnBinary(t).
	Binary string
	// Env is added to the twin process's environment.
	Env []string
}

// TwinProc is a twin running as its own process (`cairn twin up`) in a TempDir.
type TwinProc struct {
	Dir      string
	Endpoint string
	Port     int
	// Env holds the NAME=value lines that point AWS SDKs and the CLI at the twin.
	Env []string

	opts   TwinOptions
	cmd    *exec.Cmd
	exited chan struct{}
	stderr *syncBuffer
}

// Twin starts a twin process on a free port with a fresh state directory and waits until it is
// ready; cleanup stops it. It skips when PostgreSQL's server binaries are missing.
func Twin(t testing.TB, opts TwinOptions) *TwinProc {
	t.Helper()
	if opts.Speed == "" {
		opts.Speed = "fast"
	}
	if opts.Binary == "" {
		opts.Binary = CairnBinary(t)
	}
	p := &TwinProc{Dir: filepath.Join(TempDir(t), "twin"), opts: opts}
	p.start(t)
	t.Cleanup(func() { p.Stop(t) })
	return p
}

// Lookup returns the value of one of the twin's environment variables.
func (p *TwinProc) Lookup(name string) string {
	for _, kv := range p.Env {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v
		}
	}
	return ""
}

func (p *TwinProc) start(t testing.TB) {
	t.Helper()
	args := []string{"twin", "up", "--dir", p.Dir, "--port", strconv.Itoa(p.Port), "--speed", p.opts.Speed}
	if p.opts.Seed != "" {
		args = append(args, "--seed", p.opts.Seed, "--rows", strconv.Itoa(p.opts.Rows))
	}
	cmd := exec.Command(p.opts.Binary, args...)
	cmd.Env = append(os.Environ(), p.opts.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	p.stderr = &syncBuffer{}
	cmd.Stderr = p.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("testbed twin: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("testbed twin: start %s: %v", p.opts.Binary, err)
	}
	p.cmd, p.exited = cmd, make(chan struct{})
	envc := make(chan []string, 1)
	go func() {
		var env []string
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line, ok := strings.CutPrefix(sc.Text(), "export ")
			if !ok {
				continue
			}
			k, v, _ := strings.Cut(line, "=")
			env = append(env, k+"="+shellUnquote(v))
			if k == "AWS_EC2_METADATA_DISABLED" {
				envc <- env
				env = nil
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() { _ = cmd.Wait(); close(p.exited) }()
	select {
	case env := <-envc:
		p.Env = env
	case <-p.exited:
		t.Fatalf("testbed twin: exited before it was ready:\n%s", p.stderr.String())
	case <-time.After(3 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("testbed twin: not ready after 3 minutes:\n%s", p.stderr.String())
	}
	p.Endpoint = p.Lookup("AWS_ENDPOINT_URL")
	port, err := strconv.Atoi(p.Endpoint[strings.LastIndex(p.Endpoint, ":")+1:])
	if err != nil {
		t.Fatalf("testbed twin: endpoint %q: %v", p.Endpoint, err)
	}
	p.Port = port
}

// Stop stops the twin with SIGTERM (it stops its clusters) and waits; it does nothing when the
// twin is not running.
func (p *TwinProc) Stop(t testing.TB) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	select {
	case <-p.exited:
	default:
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(2 * time.Minute):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.exited
			t.Errorf("testbed twin: did not stop within 2 minutes:\n%s", p.stderr.String())
		}
	}
	p.cmd = nil
}

// Kill ends the twin with SIGKILL, as a crash would: its clusters keep running until the next
// start or `cairn twin down` stops them.
func (p *TwinProc) Kill(t testing.TB) {
	t.Helper()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// Restart stops the twin (if running) and starts it again on the same directory and port.
func (p *TwinProc) Restart(t testing.TB) {
	t.Helper()
	p.Stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	waitPortFree(ctx, p.Port)
	p.start(t)
}

func waitPortFree(ctx context.Context, port int) {
	for ctx.Err() == nil {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// shellUnquote undoes the POSIX single quoting `cairn twin up` prints.
func shellUnquote(v string) string {
	if len(v) < 2 || v[0] != '\'' {
		return v
	}
	return strings.ReplaceAll(v[1:len(v)-1], `'\''`, `'`)
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
