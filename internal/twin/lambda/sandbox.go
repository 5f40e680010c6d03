package lambda

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// sandbox is one warm execution environment: a running bootstrap and the Runtime API it polls.
type sandbox struct {
	fn     string
	ln     net.Listener
	srv    *http.Server
	cmd    *exec.Cmd
	exited chan struct{}
	next   chan *invocation
	logs   *logSink

	mu       sync.Mutex
	inflight map[string]*invocation
	initErr  []byte
	stopOnce sync.Once
}

type invocation struct {
	id       string
	payload  []byte
	arn      string
	deadline time.Time
	done     chan Result
}

// RuntimeAPIVersion is the path prefix of the Lambda Runtime API.
const RuntimeAPIVersion = "/2018-06-01"

// startSandbox unpacks the function's code and starts its bootstrap against a fresh Runtime API.
func (s *Service) startSandbox(fn Function) (*sandbox, error) {
	dir := s.fnDir(fn.Name)
	task := filepath.Join(dir, "task")
	if err := unzip(filepath.Join(dir, "code.zip"), task); err != nil {
		return nil, err
	}
	boot := filepath.Join(task, "bootstrap")
	if st, err := os.Stat(boot); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("Couldn't find valid bootstrap(s): [%s] (the zip must hold an executable named bootstrap at its root)", "/var/task/bootstrap")
	}
	if want := hostArch(); len(fn.Architectures) == 1 && fn.Architectures[0] != want {
		return nil, fmt.Errorf("the function is built for %s and the twin runs on %s: deploy the %s build to rehearse", fn.Architectures[0], want, want)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("runtime API: %w", err)
	}
	logf, err := os.OpenFile(s.LogPath(fn.Name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("function log: %w", err)
	}
	sb := &sandbox{fn: fn.Name, ln: ln, exited: make(chan struct{}), next: make(chan *invocation), inflight: map[string]*invocation{},
		logs: &logSink{file: logf}}
	sb.srv = &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = sb.srv.Serve(ln) }()

	cmd := exec.Command(boot)
	cmd.Dir = task
	cmd.Env = s.functionEnv(fn, ln.Addr().String(), task)
	cmd.Stdout, cmd.Stderr = sb.logs, sb.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	}
	if err := cmd.Start(); err != nil {
		sb.srv.Close()
		logf.Close()
		return nil, fmt.Errorf("start bootstrap: %v", err)
	}
	sb.cmd = cmd
	go func() { _ = cmd.Wait(); close(sb.exited) }()
	return sb, nil
}

func hostArch() string {
	if runtime.GOARCH == "arm64" {
		return "arm64"
	}
	return "x86_64"
}

// functionEnv is the environment Lambda gives a provided.* runtime, plus AWS_ENDPOINT_URL (the twin).
func (s *Service) functionEnv(fn Function, api, task string) []string {
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + api,
		"_HANDLER=" + fn.Handler,
		"LAMBDA_TASK_ROOT=" + task,
		"LAMBDA_RUNTIME_DIR=" + task,
		"AWS_LAMBDA_FUNCTION_NAME=" + fn.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(fn.MemorySize),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_LOG_STREAM_NAME=twin",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=" + awswire.Region,
		"AWS_DEFAULT_REGION=" + awswire.Region,
		"AWS_ACCESS_KEY_ID=" + s.o.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + s.o.SecretAccessKey,
		"AWS_SESSION_TOKEN=cairn-twin-session",
		"AWS_EC2_METADATA_DISABLED=true",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin:/bin",
	}
	if s.o.Endpoint != nil {
		env = append(env, "AWS_ENDPOINT_URL="+s.o.Endpoint())
	}
	for k, v := range fn.Env {
		env = append(env, k+"="+v)
	}
	return env
}

func (sb *sandbox) dead() bool {
	select {
	case <-sb.exited:
		return true
	default:
		return false
	}
}

// stop kills the bootstrap (its whole process group) and closes the Runtime API.
func (sb *sandbox) stop() {
	sb.stopOnce.Do(func() {
		if sb.cmd != nil && sb.cmd.Process != nil {
			_ = syscall.Kill(-sb.cmd.Process.Pid, syscall.SIGKILL)
			select {
			case <-sb.exited:
			case <-time.After(5 * time.Second):
			}
		}
		_ = sb.srv.Close()
		sb.logs.close()
	})
}

// invoke hands the invocation to the runtime and waits for its answer, the timeout or the runtime's end.
func (sb *sandbox) invoke(ctx context.Context, inv *invocation, timeout time.Duration) Result {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	timedOut := func() Result {
		sb.logs.line(fmt.Sprintf("%s Task timed out after %.2f seconds", time.Now().UTC().Format(time.RFC3339), timeout.Seconds()))
		sb.stop()
		return errResult("Sandbox.Timedout", fmt.Sprintf("RequestId: %s Error: Task timed out after %.2f seconds", inv.id, timeout.Seconds()))
	}
	select {
	case sb.next <- inv:
	case <-sb.exited:
		return sb.exitResult(inv.id)
	case <-timer.C:
		return timedOut()
	case <-ctx.Done():
		return errResult("Runtime.Cancelled", "the caller went away")
	}
	select {
	case res := <-inv.done:
		return res
	case <-sb.exited:
		return sb.exitResult(inv.id)
	case <-timer.C:
		return timedOut()
	case <-ctx.Done():
		sb.stop()
		return errResult("Runtime.Cancelled", "the caller went away")
	}
}

func (sb *sandbox) exitResult(id string) Result {
	sb.mu.Lock()
	initErr := sb.initErr
	sb.mu.Unlock()
	if initErr != nil {
		msg, typ := ErrorMessage(initErr)
		if typ == "" {
			typ = "Runtime.Unknown"
		}
		return errResult(typ, msg)
	}
	state := "exited"
	if sb.cmd.ProcessState != nil {
		state = sb.cmd.ProcessState.String()
	}
	return errResult("Runtime.ExitError", fmt.Sprintf("RequestId: %s Error: Runtime exited with error: %s", id, state))
}

// ServeHTTP is the Runtime API the bootstrap polls.
func (sb *sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, RuntimeAPIVersion)
	switch {
	case r.Method == http.MethodGet && path == "/runtime/invocation/next":
		select {
		case inv := <-sb.next:
			sb.mu.Lock()
			sb.inflight[inv.id] = inv
			sb.mu.Unlock()
			h := w.Header()
			h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
			h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(inv.deadline.UnixMilli(), 10))
			h.Set("Lambda-Runtime-Invoked-Function-Arn", inv.arn)
			h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(inv.payload)
		case <-r.Context().Done():
		}
	case r.Method == http.MethodPost && path == "/runtime/init/error":
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		sb.mu.Lock()
		sb.initErr = errorBody(body, r.Header.Get("Lambda-Runtime-Function-Error-Type"))
		sb.mu.Unlock()
		runtimeStatus(w, http.StatusAccepted)
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/runtime/invocation/"):
		rest := strings.TrimPrefix(path, "/runtime/invocation/")
		id, what, _ := strings.Cut(rest, "/")
		sb.mu.Lock()
		inv := sb.inflight[id]
		delete(sb.inflight, id)
		sb.mu.Unlock()
		if inv == nil {
			runtimeError(w, http.StatusBadRequest, "InvalidRequestID", "unknown or already answered request id "+id)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
		if err != nil || len(body) > maxPayload {
			inv.done <- errResult("Function.ResponseSizeTooLarge", "Response payload size exceeded maximum allowed payload size (6291556 bytes).")
			runtimeError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "response too large")
			return
		}
		switch what {
		case "response":
			inv.done <- Result{Payload: body}
		case "error":
			inv.done <- Result{Payload: errorBody(body, r.Header.Get("Lambda-Runtime-Function-Error-Type")), FunctionError: "Unhandled"}
		default:
			runtimeError(w, http.StatusNotFound, "NotFound", "no such Runtime API path")
			return
		}
		runtimeStatus(w, http.StatusAccepted)
	default:
		runtimeError(w, http.StatusNotFound, "NotFound", "no such Runtime API path: "+r.Method+" "+r.URL.Path)
	}
}

// errorBody keeps a runtime's {errorMessage, errorType} body, or builds one from its error type header.
func errorBody(body []byte, typ string) []byte {
	var e map[string]any
	if json.Unmarshal(body, &e) == nil && e["errorMessage"] != nil {
		return body
	}
	if typ == "" {
		typ = "Runtime.Unknown"
	}
	b, _ := json.Marshal(map[string]string{"errorMessage": "the runtime reported an error without a message", "errorType": typ})
	return b
}

func runtimeStatus(w http.ResponseWriter, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"status":"OK"}`))
}

func runtimeError(w http.ResponseWriter, code int, typ, msg string) {
	b, _ := json.Marshal(map[string]string{"errorType": typ, "errorMessage": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

// unzip extracts a function's zip into dir (replacing what was there), keeping executable bits.
func unzip(zipPath, dir string) error {
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return fmt.Errorf("Could not unzip the function's code: %v", err)
	}
	defer zr.Close()
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range zr.File {
		name := filepath.Clean(f.Name)
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("Could not unzip the function's code: entry %q leaves the task directory", f.Name)
		}
		dst := filepath.Join(dir, name)
		if f.FileInfo().IsDir() {
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if f.Mode()&0o111 != 0 {
			mode = 0o755
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
		if err != nil {
			rc.Close()
			return err
		}
		_, err = io.Copy(out, io.LimitReader(rc, 250<<20))
		rc.Close()
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// logSink is a function's log: the file, and the current invocation's lines for LogType=Tail.
type logSink struct {
	mu   sync.Mutex
	file *os.File
	cur  *bytes.Buffer
	last time.Time // when the function last wrote
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = time.Now()
	if l.cur != nil {
		l.cur.Write(p)
	}
	if l.file != nil {
		_, _ = l.file.Write(p)
	}
	return len(p), nil
}

func (l *logSink) line(s string) { _, _ = l.Write([]byte(s + "\n")) }

func (l *logSink) begin(id string) {
	l.mu.Lock()
	l.cur = &bytes.Buffer{}
	l.mu.Unlock()
	l.line(fmt.Sprintf("START RequestId: %s Version: $LATEST", id))
}

// settle waits until the function's output has been quiet for a moment (at most max): its log lines
// travel through a pipe and can arrive just after its response, as on AWS, where the tail still
// holds them.
func (l *logSink) settle(quiet, max time.Duration) {
	start := time.Now()
	deadline := start.Add(max)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		since := time.Since(l.last)
		l.mu.Unlock()
		// quiet since the last line, and long enough since the response for the pipe to drain
		if since >= quiet && time.Since(start) >= quiet {
			return
		}
		time.Sleep(quiet / 5)
	}
}

func (l *logSink) end() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cur == nil {
		return nil
	}
	b := l.cur.Bytes()
	l.cur = nil
	return b
}

func (l *logSink) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != nil {
		_ = l.file.Close()
		l.file = nil
	}
}
