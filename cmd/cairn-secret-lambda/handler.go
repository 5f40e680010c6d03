package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Request is what the function accepts: the secret to read and either one key of its JSON object
// ("field") or several ("fields"). Nothing else is accepted.
type Request struct {
	SecretID string   `json:"secret_id"`
	Field    string   `json:"field,omitempty"`
	Fields   []string `json:"fields,omitempty"`
}

// FieldResponse answers a request with "field".
type FieldResponse struct {
	SecretID string          `json:"secret_id"`
	Field    string          `json:"field"`
	Value    json.RawMessage `json:"value"`
}

// FieldsResponse answers a request with "fields".
type FieldsResponse struct {
	SecretID string                     `json:"secret_id"`
	Values   map[string]json.RawMessage `json:"values"`
}

// FuncError is a function error: its type and message become the Runtime API's errorType and
// errorMessage. Messages name secret ids and keys, never a secret's content.
type FuncError struct {
	Type    string
	Message string
}

func (e *FuncError) Error() string { return e.Type + ": " + e.Message }

func ferr(typ, format string, args ...any) *FuncError {
	return &FuncError{Type: typ, Message: fmt.Sprintf(format, args...)}
}

// SecretReader reads a secret's current string value. Its errors must not carry the value.
type SecretReader interface {
	SecretString(ctx context.Context, id string) (string, error)
}

// Handler answers invocations.
type Handler struct {
	// Allowed are the secret ids (exactly as callers pass them) this function may read.
	Allowed map[string]bool
	Secrets SecretReader
}

const (
	maxFields   = 16
	maxFieldLen = 128
	maxIDLen    = 2048
)

// ParseAllowList reads the allow-list from its configuration: ids separated by commas or newlines.
func ParseAllowList(s string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, id := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		id = strings.TrimSpace(id)
		if id != "" {
			out[id] = true
		}
	}
	if len(out) == 0 {
		return nil, errors.New(AllowListEnv + " is empty: the function reads only the secret ids named there (comma-separated)")
	}
	return out, nil
}

// AllowListEnv is the environment variable holding the allow-list.
const AllowListEnv = "CAIRN_ALLOWED_SECRET_IDS"

// ParseRequest decodes and checks an invocation's payload.
func ParseRequest(payload []byte) (Request, error) {
	var r Request
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return r, ferr("Request.Invalid", "the payload must be a JSON object {\"secret_id\": …, \"field\": …} or {\"secret_id\": …, \"fields\": […]} with no other keys")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return r, ferr("Request.Invalid", "the payload must be one JSON object")
	}
	if r.SecretID == "" {
		return r, ferr("Request.Invalid", "secret_id is missing or empty")
	}
	if len(r.SecretID) > maxIDLen || !utf8.ValidString(r.SecretID) || strings.ContainsAny(r.SecretID, "\x00\n\r") {
		return r, ferr("Request.Invalid", "secret_id is not a valid secret name or ARN")
	}
	switch {
	case r.Field != "" && len(r.Fields) > 0:
		return r, ferr("Request.Invalid", "give either field or fields, not both")
	case r.Field == "" && len(r.Fields) == 0:
		return r, ferr("Request.Invalid", "give field (one key of the secret) or fields (several)")
	case len(r.Fields) > maxFields:
		return r, ferr("Request.Invalid", "at most %d fields", maxFields)
	}
	seen := map[string]bool{}
	for _, f := range append([]string{r.Field}, r.Fields...) {
		if f == "" && r.Field == "" {
			continue
		}
		if f == "" || len(f) > maxFieldLen || !utf8.ValidString(f) {
			return r, ferr("Request.Invalid", "a field name is empty or too long")
		}
		if seen[f] {
			return r, ferr("Request.Invalid", "field %q is asked for twice", f)
		}
		seen[f] = true
	}
	return r, nil
}

// Handle answers one invocation: the response payload, or a *FuncError.
func (h Handler) Handle(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := ParseRequest(payload)
	if err != nil {
		return nil, err
	}
	if !h.Allowed[req.SecretID] {
		return nil, ferr("Secret.NotAllowed", "secret %q is not in this function's allow-list (%s)", req.SecretID, AllowListEnv)
	}
	raw, err := h.Secrets.SecretString(ctx, req.SecretID)
	if err != nil {
		var fe *FuncError
		if errors.As(err, &fe) {
			return nil, fe
		}
		return nil, ferr("Secret.ReadFailed", "read secret %q: %v", req.SecretID, err)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &obj) != nil || obj == nil {
		// The decoder's message would quote the secret's text: say only what is wrong.
		return nil, ferr("Secret.NotJSON", "secret %q is not a JSON object", req.SecretID)
	}
	get := func(f string) (json.RawMessage, error) {
		v, ok := obj[f]
		if !ok || string(v) == "null" {
			return nil, ferr("Secret.MissingKey", "secret %q has no key %q", req.SecretID, f)
		}
		var str string
		if json.Unmarshal(v, &str) == nil && strings.ContainsRune(str, 0) {
			return nil, ferr("Secret.InvalidValue", "key %q of secret %q holds a NUL character, which a libpq connection string cannot carry", f, req.SecretID)
		}
		return v, nil
	}
	if req.Field != "" {
		v, err := get(req.Field)
		if err != nil {
			return nil, err
		}
		return json.Marshal(FieldResponse{SecretID: req.SecretID, Field: req.Field, Value: v})
	}
	out := FieldsResponse{SecretID: req.SecretID, Values: map[string]json.RawMessage{}}
	for _, f := range req.Fields {
		v, err := get(f)
		if err != nil {
			return nil, err
		}
		out.Values[f] = v
	}
	return json.Marshal(out)
}
