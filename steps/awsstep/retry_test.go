package awsstep

import (
	"context"
	"net"
	"net/http"
	"testing"
)

// An endpoint that refuses connections is given up on at the SDK's third attempt; any other
// retryable failure (here the same call's connection reset) goes on to cairn's eight.
func TestRetryPolicyGivesUpOnARefusingEndpointOnly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: a real ECONNREFUSED
	_, refused := http.Get("http://" + addr + "/")
	if refused == nil {
		t.Fatal("a closed port answered")
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_MAX_ATTEMPTS", "")
	cfg, err := LoadConfig(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	r, ok := cfg.Retryer().(refusedGivesUp)
	if !ok {
		t.Fatalf("cairn's retry policy is not in place: %T", cfg.Retryer())
	}
	if r.MaxAttempts() != DefaultMaxAttempts {
		t.Fatalf("max attempts %d, want %d", r.MaxAttempts(), DefaultMaxAttempts)
	}
	if _, err := r.RetryDelay(refusedAttempts-1, refused); err != nil {
		t.Fatalf("a refusal before the third attempt must be retried: %v", err)
	}
	if _, err := r.RetryDelay(refusedAttempts, refused); err == nil {
		t.Fatal("a refusal at the third attempt must end the retries")
	}
	reset := &net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}
	if _, err := r.RetryDelay(refusedAttempts, reset); err != nil {
		t.Fatalf("a connection closed mid-answer must go on being retried: %v", err)
	}
	t.Setenv("AWS_MAX_ATTEMPTS", "5")
	if cfg, _ = LoadConfig(context.Background(), ""); cfg.RetryMaxAttempts != 5 || cfg.Retryer != nil {
		t.Fatalf("AWS_MAX_ATTEMPTS=5 not left to the SDK: max attempts %d, cairn's retryer set %v", cfg.RetryMaxAttempts, cfg.Retryer != nil)
	}
}
