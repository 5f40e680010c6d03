package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Runtime is a client of the Lambda Runtime API (2018-06-01), which AWS and cairn's twin serve at
// AWS_LAMBDA_RUNTIME_API: next invocation, response, error, init error.
type Runtime struct {
	Base   string // http://host:port/2018-06-01
	Client *http.Client
}

// NewRuntime builds a client for the API at addr (host:port).
func NewRuntime(addr string) *Runtime {
	return &Runtime{Base: "http://" + addr + "/2018-06-01", Client: &http.Client{}}
}

// Invocation is one event to answer.
type Invocation struct {
	RequestID string
	Deadline  time.Time
	ARN       string
	Payload   []byte
}

// Next blocks until the next invocation.
func (r *Runtime) Next(ctx context.Context) (Invocation, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Base+"/runtime/invocation/next", nil)
	if err != nil {
		return Invocation{}, err
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return Invocation{}, fmt.Errorf("runtime API next: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 7<<20))
	if err != nil {
		return Invocation{}, fmt.Errorf("runtime API next: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Invocation{}, fmt.Errorf("runtime API next: status %d", resp.StatusCode)
	}
	inv := Invocation{RequestID: resp.Header.Get("Lambda-Runtime-Aws-Request-Id"), ARN: resp.Header.Get("Lambda-Runtime-Invoked-Function-Arn"), Payload: body}
	if inv.RequestID == "" {
		return inv, errors.New("runtime API next: no Lambda-Runtime-Aws-Request-Id")
	}
	if ms, err := strconv.ParseInt(resp.Header.Get("Lambda-Runtime-Deadline-Ms"), 10, 64); err == nil {
		inv.Deadline = time.UnixMilli(ms)
	}
	return inv, nil
}

// Respond sends an invocation's response.
func (r *Runtime) Respond(ctx context.Context, id string, payload []byte) error {
	return r.post(ctx, "/runtime/invocation/"+id+"/response", "", payload)
}

// Fail reports an invocation's error.
func (r *Runtime) Fail(ctx context.Context, id string, e *FuncError) error {
	return r.post(ctx, "/runtime/invocation/"+id+"/error", e.Type, errorPayload(e))
}

// InitFail reports that the function cannot start.
func (r *Runtime) InitFail(ctx context.Context, e *FuncError) error {
	return r.post(ctx, "/runtime/init/error", e.Type, errorPayload(e))
}

func errorPayload(e *FuncError) []byte {
	b, _ := json.Marshal(map[string]any{"errorMessage": e.Message, "errorType": e.Type})
	return b
}

func (r *Runtime) post(ctx context.Context, path, errType string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.Base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if errType != "" {
		req.Header.Set("Lambda-Runtime-Function-Error-Type", errType)
	}
	resp, err := r.Client.Do(req)
	if err != nil {
		return fmt.Errorf("runtime API %s: %w", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("runtime API %s: status %d", path, resp.StatusCode)
	}
	return nil
}
