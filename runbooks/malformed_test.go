package runbooks_test

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps/all"
)

const header = "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: role\n    type: string\n    required: true\n  - name: jobs\n    type: int\n    default: \"4\"\n"

func TestMalformedRunbooks(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every fragment must be in the message
	}{
		{"unknown kind", header + "steps:\n  - id: a\n    kind: sqll\n    title: A\n", []string{"bad.yaml:13:11", `unknown kind "sqll"`, "use one of:", "sql"}},
		{"unknown parameter reference", header + "steps:\n  - id: a\n    kind: sql\n    title: A\n    with:\n      statements: [\"SELECT ${params.rol}\"]\n", []string{"bad.yaml:16", "unknown parameter in ${params.rol}", "declare it under `parameters:`"}},
		{"forward step reference", header + "steps:\n  - id: a\n    kind: sql\n    title: A\n    with:\n      statements: [\"SELECT ${steps.b.stdout}\"]\n  - id: b\n    kind: exec\n    title: B\n    with:\n      argv: [\"true\"]\n", []string{"unknown or later step \"b\"", "a step can only use outputs of steps before it"}},
		{"unknown output", header + "steps:\n  - id: a\n    kind: exec\n    title: A\n    with:\n      argv: [\"true\"]\n  - id: b\n    kind: sql\n    title: B\n    with:\n      statements: [\"SELECT ${steps.a.arn}\"]\n", []string{`step "a" has no output "arn"`, "has outputs: stdout"}},
		{"bad parameter type", "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: n\n    type: integer\nsteps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [\"true\"]}\n", []string{"bad.yaml:6", `unknown type "integer"`, "use one of string, int, bool, duration, enum"}},
		{"bad default for type", "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: n\n    type: int\n    default: lots\nsteps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [\"true\"]}\n", []string{`"lots" is not a whole number`}},
		{"duplicate id", header + "steps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [\"true\"]}\n  - id: a\n    kind: exec\n    title: A2\n    with: {argv: [\"true\"]}\n", []string{`duplicate step id "a" (first declared on line 12)`, "rename one"}},
		{"unknown field in with", header + "steps:\n  - id: a\n    kind: exec\n    title: A\n    with:\n      argvv: [\"true\"]\n", []string{"bad.yaml:16", "argvv", `step "a" (exec)`}},
		{"unknown top-level field", header + "stepz: []\n", []string{"bad.yaml:", "stepz"}},
		{"item without foreach", header + "steps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [\"echo\", \"${item}\"]}\n", []string{"${item} used without foreach"}},
		{"typed confirm without value", header + "steps:\n  - id: a\n    kind: exec\n    title: A\n    confirm: typed\n    with: {argv: [\"true\"]}\n", []string{"confirm: typed needs confirm_value"}},
		{"wrong schema", "schema: 2\nname: t\ntitle: T\nsteps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [\"true\"]}\n", []string{"bad.yaml:1:9", "schema is 2"}},
		{"secret in argv", "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: pw\n    secret: true\nsteps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [\"psql\", \"password=${params.pw}\"]}\n", []string{"bad.yaml:11:", `step "a": ${params.pw} is secret and may not be in a command line`, "pass it in the command's `env:`"}},
		{"secret in a run-as check's argv", "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: pw\n    secret: true\nsteps:\n  - id: a\n    kind: run-as\n    title: A\n    with:\n      user: postgres\n      argv: [\"true\"]\n      check: {argv: [\"sh\", \"-c\", \"echo ${params.pw}\"]}\n", []string{`${params.pw} is secret and may not be in a command line`}},
		{"secret in pgbackrest args", "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: pw\n    secret: true\nsteps:\n  - id: a\n    kind: pgbackrest\n    title: A\n    with: {config: /etc/x.conf, stanza: main, user: root, command: info, args: [\"--cipher-pass=${params.pw}\"]}\n", []string{`${params.pw} is secret and may not be in a command line`}},
		{"title on two lines", header + "steps:\n  - id: a\n    kind: exec\n    title: \"A\\n[b] done\"\n    with: {argv: [\"true\"]}\n", []string{"bad.yaml:14:", `step "a": title: "A\n[b] done" holds a line break`, "`notes:` hold the rest"}},
		{"secret default refused", "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: pw\n    secret: true\n    default: hunter2\nsteps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [\"true\"]}\n", []string{`secret parameter "pw" has a default`}},
		{"bad condition", header + "steps:\n  - id: a\n    kind: exec\n    title: A\n    when: ${params.role} > 3\n    with: {argv: [\"true\"]}\n", []string{"bad.yaml:", "only ==, !=, &&, || and !"}},
		{"unknown lookup", "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: instance\n    choices: rds\nsteps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [\"true\"]}\n", []string{"bad.yaml:6:14", `parameter "instance": unknown lookup "rds" in choices`, "use one of: rds-instances, rds-unencrypted, kms-keys, secrets, pg-roles, os-users, pg-clusters"}},
		{"lookup on a bool", "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: keep\n    type: bool\n    choices: os-users\nsteps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [\"true\"]}\n", []string{`parameter "keep": choices is for string parameters, not a bool one`}},
		{"sql without statements", header + "steps:\n  - id: a\n    kind: sql\n    title: A\n    with: {check: \"SELECT true\"}\n", []string{"give `statements:`"}},
	}
	reg := all.Registry()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runbooks.Load("bad.yaml", []byte(tt.yaml), reg)
			if err == nil {
				t.Fatal("loaded a malformed runbook")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
		})
	}
}

func TestAllProblemsReportedTogether(t *testing.T) {
	y := header + "steps:\n  - id: a\n    kind: nope\n    title: A\n  - id: a\n    kind: exec\n    title: B\n    with: {argv: [\"${params.zzz}\"]}\n"
	_, err := runbooks.Load("bad.yaml", []byte(y), all.Registry())
	ps, ok := err.(runbooks.Problems)
	if !ok || len(ps) != 3 {
		t.Fatalf("want 3 problems together, got %v", err)
	}
}

func TestResolveParameters(t *testing.T) {
	y := `schema: 1
name: t
title: T
parameters:
  - {name: instance, required: true, pattern: "[a-z][a-z0-9-]*"}
  - {name: target, default: "${params.instance}-enc"}
  - {name: strategy, type: enum, values: [snapshot-copy, logical], default: snapshot-copy}
  - {name: jobs, type: int, default: "2"}
  - {name: keep, type: bool}
  - {name: window, type: duration, default: 45m}
  - {name: pw, secret: true, env: T_PW, required: true}
steps:
  - {id: a, kind: exec, title: A, with: {argv: ["true"]}}
`
	rb, err := runbooks.Load("t.yaml", []byte(y), all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"T_PW": "s3cret"}
	src := runbooks.Sources{Getenv: func(k string) string { return env[k] }}
	vals, err := runbooks.Resolve(rb, map[string]string{"instance": "app-db"}, src)
	if err != nil {
		t.Fatal(err)
	}
	if vals["target"].S != "app-db-enc" || vals["strategy"].S != "snapshot-copy" || vals["keep"].S != "false" || !vals["pw"].Secret {
		t.Fatalf("resolved %+v", vals)
	}
	if vals.Plain()["pw"] != "••••" {
		t.Fatal("secret shown in plain values")
	}
	tests := []struct {
		given map[string]string
		want  string
	}{
		{map[string]string{}, "missing parameter instance: add -p instance=<value>"},
		{map[string]string{"instance": "App_DB"}, "does not match the pattern"},
		{map[string]string{"instance": "a", "strategy": "fast"}, `"fast" is not one of snapshot-copy, logical`},
		{map[string]string{"instance": "a", "jobs": "many"}, "not a whole number"},
		{map[string]string{"instance": "a", "pw": "x"}, "pw is secret and is never taken from a flag"},
		{map[string]string{"instance": "a", "nope": "x"}, "has no such parameter"},
	}
	for _, tt := range tests {
		_, err := runbooks.Resolve(rb, tt.given, src)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Resolve(%v) = %v, want %q", tt.given, err, tt.want)
		}
	}
	if _, err := runbooks.Resolve(rb, map[string]string{"instance": "a"}, runbooks.Sources{Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "set the environment variable T_PW") {
		t.Errorf("missing secret: %v", err)
	}
}

func TestParseAssignments(t *testing.T) {
	got, err := runbooks.ParseAssignments([]string{"a=1", "b=x=y", "c="})
	if err != nil || got["a"] != "1" || got["b"] != "x=y" || got["c"] != "" {
		t.Fatalf("%v %v", got, err)
	}
	for _, bad := range [][]string{{"a"}, {"=x"}, {"a=1", "a=2"}} {
		if _, err := runbooks.ParseAssignments(bad); err == nil {
			t.Errorf("accepted %v", bad)
		}
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(header + "steps:\n  - id: a\n    kind: sql\n    title: A\n    with:\n      statements: [\"SELECT ${params.role}\"]\n"))
	f.Add([]byte("schema: 1\nname: x\n"))
	f.Add([]byte("{]"))
	reg := all.Registry()
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = runbooks.Load("fuzz.yaml", data, reg)
	})
}

func FuzzParseAssignments(f *testing.F) {
	f.Add("a=1", "b=2")
	f.Add("=", "x")
	f.Fuzz(func(t *testing.T, a, b string) {
		got, err := runbooks.ParseAssignments([]string{a, b})
		if err == nil && len(got) == 0 {
			t.Fatal("no error and no values")
		}
	})
}
