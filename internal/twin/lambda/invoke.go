package lambda

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// Result is the outcome of one invocation, as Invoke's answer carries it.
type Result struct {
	StatusCode      int
	Payload         []byte
	FunctionError   string // "Unhandled" when the function failed; Payload then holds {errorMessage, errorType}
	LogResult       string // base64 of the log's last 4 KB, with LogType=Tail
	ExecutedVersion string
	FunctionARN     string
}

// maxPayload is Lambda's limit for a synchronous request and response.
const maxPayload = 6 << 20

func (s *Service) serveInvoke(w http.ResponseWriter, r *http.Request, name string) {
	payload, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil {
		writeError(w, awswire.Errorf("InvalidRequestContentException", "read body: %v", err))
		return
	}
	if len(payload) > maxPayload {
		writeError(w, &awswire.Error{Code: "RequestTooLargeException", Message: "Request must be smaller than 6291456 bytes for the InvokeFunction operation", Status: http.StatusRequestEntityTooLarge})
		return
	}
	res, err := s.Invoke(r.Context(), name, r.Header.Get("X-Amz-Invocation-Type"), r.Header.Get("X-Amz-Log-Type"), payload)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("X-Amzn-RequestId", awswire.RequestID())
	w.Header().Set("Content-Type", "application/json")
	if res.ExecutedVersion != "" {
		w.Header().Set("X-Amz-Executed-Version", res.ExecutedVersion)
	}
	if res.FunctionError != "" {
		w.Header().Set("X-Amz-Function-Error", res.FunctionError)
	}
	if res.LogResult != "" {
		w.Header().Set("X-Amz-Log-Result", res.LogResult)
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(res.Payload)
}

// Invoke runs one invocation of a function: invocationType RequestResponse (default), Event or DryRun;
// logType Tail returns the log's last 4 KB. A function error is a Result with FunctionError set, not an
// error; an error is an API error (no such function, bad request).
func (s *Service) Invoke(ctx context.Context, name, invocationType, logType string, payload []byte) (Result, error) {
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	if !json.Valid(payload) {
		return Result{}, awswire.Errorf("InvalidRequestContentException", "Could not parse request body into json: the payload is not valid JSON")
	}
	s.mu.Lock()
	f, err := s.findLocked(name)
	if err != nil {
		s.mu.Unlock()
		return Result{}, err
	}
	fn := *f
	mu := s.runMu[fn.Name]
	if mu == nil {
		mu = &sync.Mutex{}
		s.runMu[fn.Name] = mu
	}
	s.mu.Unlock()
	switch invocationType {
	case "", "RequestResponse":
	case "DryRun":
		return Result{StatusCode: http.StatusNoContent, FunctionARN: fn.ARN()}, nil
	case "Event":
		go func() {
			mu.Lock()
			defer mu.Unlock()
			_, _ = s.run(context.WithoutCancel(ctx), fn, payload)
		}()
		return Result{StatusCode: http.StatusAccepted, FunctionARN: fn.ARN()}, nil
	default:
		return Result{}, awswire.Errorf("InvalidParameterValueException", "1 validation error detected: Value '%s' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]", invocationType)
	}
	mu.Lock()
	defer mu.Unlock()
	res, tail := s.run(ctx, fn, payload)
	res.StatusCode, res.ExecutedVersion, res.FunctionARN = http.StatusOK, "$LATEST", fn.ARN()
	if logType == "Tail" {
		if len(tail) > 4096 {
			tail = tail[len(tail)-4096:]
		}
		res.LogResult = base64.StdEncoding.EncodeToString(tail)
	}
	return res, nil
}

// run runs one invocation in the function's execution environment, starting it when cold; it returns
// the result and the invocation's log lines.
func (s *Service) run(ctx context.Context, fn Function, payload []byte) (Result, []byte) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errResult("Runtime.Unavailable", "the twin is shutting down"), nil
	}
	sb := s.sandboxes[fn.Name]
	s.mu.Unlock()
	if sb == nil || sb.dead() {
		var err error
		if sb, err = s.startSandbox(fn); err != nil {
			return errResult("Runtime.InvalidEntrypoint", err.Error()), nil
		}
		s.mu.Lock()
		if old := s.sandboxes[fn.Name]; old != nil && old != sb {
			defer old.stop()
		}
		s.sandboxes[fn.Name] = sb
		s.mu.Unlock()
	}
	inv := &invocation{id: awswire.RequestID(), payload: payload, arn: fn.ARN(), done: make(chan Result, 1)}
	timeout := time.Duration(fn.Timeout) * time.Second
	inv.deadline = time.Now().Add(timeout)
	start := time.Now()
	sb.logs.begin(inv.id)
	res := sb.invoke(ctx, inv, timeout)
	took := time.Since(start)
	sb.logs.settle(60*time.Millisecond, 500*time.Millisecond)
	sb.logs.line(fmt.Sprintf("END RequestId: %s", inv.id))
	sb.logs.line(fmt.Sprintf("REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %d ms\tMemory Size: %d MB",
		inv.id, float64(took.Microseconds())/1000, took.Milliseconds()+1, fn.MemorySize))
	tail := sb.logs.end()
	if res.FunctionError != "" && sb.dead() {
		s.mu.Lock()
		if s.sandboxes[fn.Name] == sb {
			delete(s.sandboxes, fn.Name)
		}
		s.mu.Unlock()
		sb.stop()
	}
	return res, tail
}

// errResult is a function error as Lambda reports one: status 200, X-Amz-Function-Error Unhandled and
// {"errorMessage", "errorType"}.
func errResult(errType, msg string) Result {
	b, _ := json.Marshal(map[string]string{"errorMessage": msg, "errorType": errType})
	return Result{Payload: b, FunctionError: "Unhandled"}
}

// ErrorMessage reads errorMessage and errorType from a function error's payload.
func ErrorMessage(payload []byte) (msg, typ string) {
	var e struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(payload, &e) != nil {
		return strings.TrimSpace(string(payload)), ""
	}
	return e.ErrorMessage, e.ErrorType
}

var errStopped = errors.New("execution environment stopped")
