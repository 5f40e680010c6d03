package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

type fakeSecrets map[string]string

func (f fakeSecrets) SecretString(ctx context.Context, id string) (string, error) {
	v, ok := f[id]
	if !ok {
		return "", ferr("Secret.NotFound", "secret %q does not exist", id)
	}
	return v, nil
}

const pw = `p"a's\s w0rd`

func handler() Handler {
	conn, _ := json.Marshal(map[string]any{"username": "app", "password": pw, "host": "db.example", "port": 5432, "dbname": "x"})
	return Handler{
		Allowed: map[string]bool{"remote": true, "binary": true, "text": true, "nul": true},
		Secrets: fakeSecrets{"remote": string(conn), "text": "plain " + pw, "nul": `{"password": "a\u0000b"}`},
	}
}

func TestAcceptedShapes(t *testing.T) {
	h := handler()
	out, err := h.Handle(context.Background(), []byte(`{"secret_id": "remote", "field": "password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var one FieldResponse
	if err := json.Unmarshal(out, &one); err != nil {
		t.Fatal(err)
	}
	var got string
	_ = json.Unmarshal(one.Value, &got)
	if one.SecretID != "remote" || one.Field != "password" || got != pw {
		t.Errorf("field answer %s", out)
	}
	out, err = h.Handle(context.Background(), []byte(`{"secret_id": "remote", "fields": ["host", "port", "password"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var many FieldsResponse
	if err := json.Unmarshal(out, &many); err != nil {
		t.Fatal(err)
	}
	if string(many.Values["port"]) != "5432" || string(many.Values["host"]) != `"db.example"` || len(many.Values) != 3 {
		t.Errorf("fields answer %s", out)
	}
	if !json.Valid(out) || out[0] != '{' {
		t.Errorf("the answer is not a JSON object: %s", out)
	}
}

func TestRefusedShapes(t *testing.T) {
	h := handler()
	cases := []struct{ payload, typ string }{
		{``, "Request.Invalid"},
		{`"remote"`, "Request.Invalid"},
		{`[]`, "Request.Invalid"},
		{`{}`, "Request.Invalid"},
		{`{"secret_id": ""}`, "Request.Invalid"},
		{`{"secret_id": "remote"}`, "Request.Invalid"},
		{`{"secret_id": "remote", "field": "password", "fields": ["host"]}`, "Request.Invalid"},
		{`{"secret_id": "remote", "field": "password", "extra": 1}`, "Request.Invalid"},
		{`{"secret_id": "remote", "fields": ["host", "host"]}`, "Request.Invalid"},
		{`{"secret_id": "remote", "field": "password"} {}`, "Request.Invalid"},
		{`{"secret_id": 7, "field": "password"}`, "Request.Invalid"},
		{`{"secret_name": "remote"}`, "Request.Invalid"},
		{`{"secret_id": "other", "field": "password"}`, "Secret.NotAllowed"},
		{`{"secret_id": "binary", "field": "password"}`, "Secret.NotFound"},
		{`{"secret_id": "text", "field": "password"}`, "Secret.NotJSON"},
		{`{"secret_id": "remote", "field": "token"}`, "Secret.MissingKey"},
		{`{"secret_id": "nul", "field": "password"}`, "Secret.InvalidValue"},
	}
	for _, c := range cases {
		_, err := h.Handle(context.Background(), []byte(c.payload))
		var fe *FuncError
		if !errors.As(err, &fe) || fe.Type != c.typ {
			t.Errorf("%s: got %v, want %s", c.payload, err, c.typ)
			continue
		}
		for _, frag := range []string{pw, "w0rd", "plain"} {
			if strings.Contains(fe.Message, frag) {
				t.Errorf("%s: the error carries secret material: %s", c.payload, fe.Message)
			}
		}
	}
}

func TestAllowList(t *testing.T) {
	if _, err := ParseAllowList(" , \n"); err == nil {
		t.Error("an empty allow-list is accepted")
	}
	m, err := ParseAllowList("a, arn:aws:secretsmanager:us-east-1:1:secret:b-Xy12Ab\nc")
	if err != nil || len(m) != 3 || !m["arn:aws:secretsmanager:us-east-1:1:secret:b-Xy12Ab"] {
		t.Errorf("allow-list %v %v", m, err)
	}
}
