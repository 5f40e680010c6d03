package awsstep_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// resettingProxy stands between cairn and the AWS endpoint and resets (TCP RST) each of the first
// drops connections once the answer has begun to arrive: the status line and headers are through,
// the body is not — what a load balancer or a NAT dropping a connection does to a Describe in a
// busy window.
type resettingProxy struct {
	ln    net.Listener
	to    string
	drops int32
	seen  atomic.Int32
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn // closed at cleanup: the SDK keeps its connections alive
}

func (p *resettingProxy) track(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conns = append(p.conns, c)
}

func (p *resettingProxy) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func startResettingProxy(t *testing.T, to string, drops int32) *resettingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &resettingProxy{ln: ln, to: to, drops: drops}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *resettingProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.track(c)
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.relay(c.(*net.TCPConn), p.seen.Add(1) <= p.drops) }()
	}
}

func (p *resettingProxy) relay(c *net.TCPConn, reset bool) {
	defer c.Close()
	up, err := net.Dial("tcp", p.to)
	if err != nil {
		return
	}
	defer up.Close()
	p.track(up)
	go func() { _, _ = io.Copy(up, c) }()
	if !reset {
		_, _ = io.Copy(c, up)
		return
	}
	// the status line, the headers and the first bytes of the body, then the reset
	var got []byte
	buf := make([]byte, 512)
	for {
		i := bytes.Index(got, []byte("\r\n\r\n"))
		if i >= 0 && len(got) >= i+4+16 {
			got = got[:i+4+16]
			break
		}
		n, err := up.Read(buf)
		if err != nil {
			return
		}
		got = append(got, buf[:n]...)
	}
	_, _ = c.Write(got)
	_ = c.SetLinger(0) // Close sends RST, not FIN
}

// A connection to AWS reset in the middle of an answer does not turn a step's check unknown (in a
// window, a failed verify): cairn's AWS calls are tried DefaultMaxAttempts times unless the
// configuration chain says otherwise — and with the SDK's own three attempts the same drops do fail
// the check, so the drops are real.
func TestCheckRidesOutConnectionsResetMidAnswer(t *testing.T) {
	tb := testbed.StartTwinSDK(t)
	u, err := url.Parse(tb.Twin.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	reg := steps.NewRegistry()
	awsstep.Register(reg)
	step := steptest.Decode(t, reg, "rds-logical-replication", "instance: app-db\ngroup: app-db-logical\n")
	check := func(t *testing.T, maxAttempts string, drops int32) (steps.Check, int32) {
		p := startResettingProxy(t, u.Host, drops)
		t.Setenv("AWS_ENDPOINT_URL", "http://"+p.ln.Addr().String())
		if maxAttempts != "" {
			t.Setenv("AWS_MAX_ATTEMPTS", maxAttempts)
		} else {
			os.Unsetenv("AWS_MAX_ATTEMPTS")
		}
		env := steptest.Env(t, map[string]string{})
		env.Environ = os.Environ()
		env.RunID = "run-dropped"
		return step.Check(context.Background(), env), p.seen.Load()
	}
	t.Run("default attempts", func(t *testing.T) {
		ch, conns := check(t, "", 4)
		if ch.State != steps.Ready {
			t.Fatalf("four connections reset mid-answer, then a good one: want the check ready, got %s: %s", ch.State, ch.Reason)
		}
		if conns <= 4 {
			t.Fatalf("the proxy saw %d connections: the drops were not exercised", conns)
		}
	})
	t.Run("the SDK's three attempts", func(t *testing.T) {
		if ch, _ := check(t, "3", 4); ch.State != steps.Unknown {
			t.Fatalf("with three attempts four drops must fail the read (else this test proves nothing): got %s: %s", ch.State, ch.Reason)
		}
	})
}
