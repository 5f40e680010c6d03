package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// Answers, approvals, notes and pause requests reach a live runner over its run's unix socket, and
// nowhere else: no file in the run directory is ever read as an answer. The runner takes the
// caller's uid from the kernel (SO_PEERCRED), so who answered is what the kernel says, not what
// the caller claims. With no live runner there is no socket to reach, and nothing can be answered.

// SocketFile is the runner's socket in its run directory (mode 0660, group of the state directory,
// in a shared state directory; 0600 otherwise).
const SocketFile = "runner.sock"

// RequestKind says what a request to the runner asks for.
type RequestKind string

// Request kinds.
const (
	AskAnswer RequestKind = "answer" // answer the open question (Answer set)
	AskNote   RequestKind = "note"   // add a note to the journal (Text set)
	AskPause  RequestKind = "pause"  // pause before the next step
	AskPing   RequestKind = "ping"   // is a runner there? (changes nothing)
)

// Request is one message to a runner. Who sent it is not part of it: the runner asks the kernel.
type Request struct {
	Kind   RequestKind    `json:"kind"`
	Answer *events.Answer `json:"answer,omitempty"` // its By is ignored
	Text   string         `json:"text,omitempty"`
	Via    string         `json:"via,omitempty"` // "cairn approve", "tui", … (a label, not an identity)
	// SudoUID is the caller's SUDO_UID. The runner honours it only when the kernel says the caller
	// is root (uid 0): then it names the person who ran sudo.
	SudoUID string `json:"sudo_uid,omitempty"`
}

// ReplyStatus is what the runner did with a request.
type ReplyStatus string

// Reply statuses.
const (
	ReplyDone       ReplyStatus = "done"        // answered, noted, pause requested, counted
	ReplyRefused    ReplyStatus = "refused"     // not accepted from this person (Message says why)
	ReplyNotWaiting ReplyStatus = "not-waiting" // the run is not waiting for that question
	ReplyBad        ReplyStatus = "bad-request"
)

// Reply is the runner's answer to a request.
type Reply struct {
	Status  ReplyStatus   `json:"status"`
	Message string        `json:"message"`
	By      *events.Actor `json:"by,omitempty"` // who the runner took the caller to be
}

// InboxItem is a request the runner keeps until its next step: a pause.
type InboxItem struct {
	Kind RequestKind   `json:"kind"`
	Text string        `json:"text,omitempty"`
	By   *events.Actor `json:"by,omitempty"`
}

// Peer is the caller as the kernel reports it at connect time (SO_PEERCRED, SO_PEERGROUPS).
type Peer struct {
	PID    int
	UID    int
	GID    int
	Groups []int // supplementary groups
}

// InGroup says whether the peer's primary or supplementary groups include gid.
func (p Peer) InGroup(gid int) bool {
	if p.GID == gid {
		return true
	}
	for _, g := range p.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// ErrNoRunner is returned when a run has no live runner to take a request.
var ErrNoRunner = errors.New("no live runner")

// maxRequest bounds one request: nothing a person types is longer.
const maxRequest = 64 * 1024

// Intake is a runner's listening socket.
type Intake struct {
	ln   *net.UnixListener
	path string
	wg   sync.WaitGroup
}

// Listen opens the run's socket. Only the holder of the run's lock calls it (so a socket left by a
// dead runner is stale and is replaced). In a shared state directory the socket is 0660 and
// belongs to the state directory's group, so its members can reach the runner; otherwise 0600.
func Listen(r *Run) (*Intake, error) {
	dir, err := os.Open(r.Dir)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", r.ID, err)
	}
	defer dir.Close()
	path := socketPath(r, dir)
	if err := unix.Unlinkat(int(dir.Fd()), SocketFile, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return nil, fmt.Errorf("run %s: remove stale socket: %w", r.ID, err)
	}
	mode := os.FileMode(0o600)
	if r.Shared {
		mode = 0o660
	}
	ln, err := listenWithMode(path, mode)
	if err != nil {
		return nil, fmt.Errorf("run %s: open the runner's socket: %w", r.ID, err)
	}
	ln.SetUnlinkOnClose(false) // Close unlinks relative to the directory, not by a path
	in := &Intake{ln: ln, path: r.Path(SocketFile)}
	if err := unix.Fchmodat(int(dir.Fd()), SocketFile, uint32(mode), 0); err != nil {
		ln.Close()
		return nil, fmt.Errorf("run %s: socket mode: %w", r.ID, err)
	}
	if r.Shared {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Dir(filepath.Dir(r.Dir)), &st); err == nil {
			if err := unix.Fchownat(int(dir.Fd()), SocketFile, -1, int(st.Gid), unix.AT_SYMLINK_NOFOLLOW); err != nil {
				ln.Close()
				return nil, fmt.Errorf("run %s: socket group: %w", r.ID, err)
			}
		}
	}
	return in, nil
}

// listenWithMode binds a unix socket whose file is never more open than mode: the socket's own
// mode is set before bind (the file gets it less the umask), and the caller sets it exactly after.
// The process umask is left alone: other goroutines may be creating files.
func listenWithMode(path string, mode os.FileMode) (*net.UnixListener, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if err := unix.Fchmod(fd, uint32(mode)); err != nil {
		return nil, fmt.Errorf("socket mode: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return nil, err
	}
	if err := unix.Listen(fd, 16); err != nil {
		return nil, err
	}
	l, err := net.FileListener(f)
	if err != nil {
		return nil, err
	}
	return l.(*net.UnixListener), nil
}

// socketPath names the socket for bind/connect. A unix socket path is at most 107 bytes; a
// longer run directory is reached through the directory's descriptor instead.
func socketPath(r *Run, dir *os.File) string {
	p := r.Path(SocketFile)
	if len(p) < 100 {
		return p
	}
	return "/proc/self/fd/" + strconv.Itoa(int(dir.Fd())) + "/" + SocketFile
}

// Serve takes requests until ctx ends, handing each with its caller to handle and writing back
// handle's reply. Each connection is one request.
func (in *Intake) Serve(ctx context.Context, handle func(Peer, Request) Reply) {
	go func() {
		<-ctx.Done()
		in.ln.Close()
	}()
	for {
		c, err := in.ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				in.wg.Wait()
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			defer c.Close()
			serveOne(c, handle)
		}()
	}
}

func serveOne(c *net.UnixConn, handle func(Peer, Request) Reply) {
	peer, err := peerOf(c)
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReaderSize(io.LimitReader(c, maxRequest), 4096).ReadBytes('\n')
	if err != nil {
		return
	}
	var req Request
	var rep Reply
	if err := json.Unmarshal(line, &req); err != nil {
		rep = Reply{Status: ReplyBad, Message: "not a cairn request: " + err.Error()}
	} else {
		rep = handle(peer, req)
	}
	_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	b, _ := json.Marshal(rep)
	_, _ = c.Write(append(b, '\n'))
}

// peerOf asks the kernel who is at the other end of a connection.
func peerOf(c *net.UnixConn) (Peer, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return Peer{}, err
	}
	var cred *unix.Ucred
	var groups []int
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
		if cerr == nil {
			groups, cerr = peerGroups(fd)
		}
	}); err != nil {
		return Peer{}, err
	}
	if cerr != nil {
		return Peer{}, cerr
	}
	return Peer{PID: int(cred.Pid), UID: int(cred.Uid), GID: int(cred.Gid), Groups: groups}, nil
}

// peerGroups reads SO_PEERGROUPS: the peer's supplementary groups at connect time, an array of
// gid_t (x/sys/unix has no typed getter for it).
func peerGroups(fd uintptr) ([]int, error) {
	for n := 64; n <= 65536; n *= 4 {
		buf := make([]uint32, n)
		size := uint32(4 * n)
		_, _, errno := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_PEERGROUPS,
			uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&size)), 0)
		if errno == unix.ERANGE {
			continue
		}
		if errno != 0 {
			return nil, fmt.Errorf("SO_PEERGROUPS: %w", errno)
		}
		out := make([]int, 0, size/4)
		for _, g := range buf[:size/4] {
			out = append(out, int(g))
		}
		return out, nil
	}
	return nil, errors.New("SO_PEERGROUPS: too many groups")
}

// Close stops listening and removes the socket.
func (in *Intake) Close() error {
	err := in.ln.Close()
	in.wg.Wait()
	_ = os.Remove(in.path)
	return err
}

// Send delivers a request to the run's live runner and returns its reply. A run with no live
// runner gives an error wrapping ErrNoRunner that says how to start one.
func Send(ctx context.Context, r *Run, req Request) (Reply, error) {
	_, rep, err := exchange(ctx, r, req)
	return rep, err
}

// Ping asks the run's live runner whether it is there, and the kernel which process it is: the
// Peer is the process that listens on the run's socket (SO_PEERCRED of the connection).
func Ping(ctx context.Context, r *Run) (Peer, error) {
	p, rep, err := exchange(ctx, r, Request{Kind: AskPing})
	if err == nil && rep.Status != ReplyDone {
		err = fmt.Errorf("run %s: its runner answered %s: %s", r.ID, rep.Status, rep.Message)
	}
	return p, err
}

func exchange(ctx context.Context, r *Run, req Request) (Peer, Reply, error) {
	var rep Reply
	dir, err := os.Open(r.Dir)
	if err != nil {
		return Peer{}, rep, fmt.Errorf("run %s: %w", r.ID, err)
	}
	defer dir.Close()
	d := net.Dialer{Timeout: 5 * time.Second}
	nc, err := d.DialContext(ctx, "unix", socketPath(r, dir))
	if err != nil {
		switch {
		case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
			return Peer{}, rep, fmt.Errorf("run %s: %w, so nothing can answer it or be noted in it now: `cairn resume %s` starts one (it asks its open question again)", r.ID, ErrNoRunner, r.ID)
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			return Peer{}, rep, fmt.Errorf("run %s: cannot reach its runner: %w (only the run's owner and members of its state directory's group can; `ls -l %s` shows them)", r.ID, err, r.Path(SocketFile))
		}
		return Peer{}, rep, fmt.Errorf("run %s: reach its runner: %w", r.ID, err)
	}
	c := nc.(*net.UnixConn)
	defer c.Close()
	peer, err := peerOf(c)
	if err != nil {
		return peer, rep, fmt.Errorf("run %s: who listens on its socket: %w", r.ID, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	}
	b, err := json.Marshal(req)
	if err != nil {
		return peer, rep, err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return peer, rep, fmt.Errorf("run %s: send to its runner: %w", r.ID, err)
	}
	line, err := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadBytes('\n')
	if err != nil {
		return peer, rep, fmt.Errorf("run %s: its runner did not reply (%v): `cairn attach %s` shows what it is doing", r.ID, err, r.ID)
	}
	if err := json.Unmarshal(line, &rep); err != nil {
		return peer, rep, fmt.Errorf("run %s: unreadable reply from its runner: %w", r.ID, err)
	}
	return peer, rep, nil
}

// Live reports whether the run has a runner that answers on its socket.
func Live(ctx context.Context, r *Run) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := Ping(ctx, r)
	return err == nil
}
