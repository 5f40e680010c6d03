package ref

import (
	"errors"
	"strings"
	"testing"
)

func lookupOf(vals map[string]Value) Lookup {
	return func(r Ref) (Value, bool) {
		key := string(r.Scope) + "." + r.Name
		if r.Scope == Steps {
			key += "." + r.Output
		}
		v, ok := vals[key]
		return v, ok
	}
}

var vals = map[string]Value{
	"params.role":    {S: `app"; DROP TABLE x; --`},
	"params.pw":      {S: `p'a"s\s w`, Secret: true},
	"params.schema":  {S: "sales"},
	"steps.snap.arn": {Unknown: true},
	"params.list":    {List: []string{"a", "b"}},
}

func TestSQLRendering(t *testing.T) {
	tests := []struct {
		name     string
		tmpl     string
		wantSQL  string
		wantArgs []any
		wantErr  string
	}{
		{"bare reference is bound", "SELECT 1 FROM pg_roles WHERE rolname = ${params.role}", "SELECT 1 FROM pg_roles WHERE rolname = $1", []any{`app"; DROP TABLE x; --`}, ""},
		{"ident is quoted", "CREATE ROLE ${params.role | ident}", `CREATE ROLE "app""; DROP TABLE x; --"`, nil, ""},
		{"literal is quoted", "COMMENT ON SCHEMA s IS ${params.role|literal}", `COMMENT ON SCHEMA s IS 'app"; DROP TABLE x; --'`, nil, ""},
		{"secret binds", "SELECT ${params.pw}", "SELECT $1", []any{`p'a"s\s w`}, ""},
		{"secret never a literal", "SELECT ${params.pw | literal}", "", nil, "cannot be pasted"},
		{"secret never an identifier", "SELECT ${params.pw | ident}", "", nil, "cannot be an identifier"},
		{"unknown output", "SELECT ${steps.snap.arn}", "", nil, "known after apply"},
		{"two binds", "SELECT ${params.schema}, ${params.role}", "SELECT $1, $2", []any{"sales", `app"; DROP TABLE x; --`}, ""},
		{"escaped dollar", "SELECT '$${not}'", "SELECT '${not}'", nil, ""},
		{"list binds as array", "SELECT ${params.list}", "SELECT $1", []any{[]string{"a", "b"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm, err := Parse(tt.tmpl)
			if err != nil {
				t.Fatal(err)
			}
			sql, args, err := tm.SQL(lookupOf(vals))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("want error %q, got %v", tt.wantErr, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sql != tt.wantSQL {
				t.Errorf("sql = %q, want %q", sql, tt.wantSQL)
			}
			if len(args) != len(tt.wantArgs) {
				t.Fatalf("args = %v, want %v", args, tt.wantArgs)
			}
		})
	}
}

func TestScramNeverCarriesThePassword(t *testing.T) {
	tm := MustParse("ALTER ROLE x PASSWORD ${params.pw | scram}")
	sql, args, err := tm.SQL(lookupOf(vals))
	if err != nil {
		t.Fatal(err)
	}
	if len(args) != 0 || strings.Contains(sql, `p'a`) || !strings.Contains(sql, "SCRAM-SHA-256$4096:") {
		t.Fatalf("scram statement: %q %v", sql, args)
	}
}

// The verifier has PostgreSQL's shape, a fresh salt each time, and ScramMatches knows its password
// (and no other).
func TestScramVerifierShape(t *testing.T) {
	v, err := ScramVerifier("pencil")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(v, "$")
	if len(parts) != 3 || parts[0] != "SCRAM-SHA-256" || !strings.HasPrefix(parts[1], "4096:") {
		t.Fatalf("bad verifier %q", v)
	}
	if v2, _ := ScramVerifier("pencil"); v == v2 {
		t.Fatal("two verifiers share a salt")
	}
	if !ScramMatches(v, "pencil") || ScramMatches(v, "pencil ") || ScramMatches("md5abc", "pencil") {
		t.Fatal("ScramMatches is wrong about its own verifier")
	}
	if _, err := ScramVerifier(strings.Repeat("x", 1025)); err == nil {
		t.Fatal("a password libpq cannot log in with was accepted")
	}
}

func TestDescribeMasksSecretsAndUnknowns(t *testing.T) {
	tm := MustParse("psql -c ${params.schema} ${params.pw} ${steps.snap.arn}")
	got := tm.Describe(lookupOf(vals))
	if got != "psql -c sales •••• (known after apply)" {
		t.Fatalf("describe = %q", got)
	}
	sql := MustParse("SELECT ${params.pw}, ${params.schema | ident}").DescribeSQL(lookupOf(vals))
	if strings.Contains(sql, "p'a") || !strings.Contains(sql, "$1 = ••••") || !strings.Contains(sql, `"sales"`) {
		t.Fatalf("describe sql = %q", sql)
	}
}

func TestTextFillsOneArgument(t *testing.T) {
	got, err := MustParse("${params.role}").Text(lookupOf(vals))
	if err != nil || got != `app"; DROP TABLE x; --` {
		t.Fatalf("text = %q, %v", got, err)
	}
	_, err = MustParse("${steps.snap.arn}").Text(lookupOf(vals))
	if !errors.Is(err, ErrUnknown) {
		t.Fatalf("want ErrUnknown, got %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{"${params}", "${steps.x}", "${nope.x}", "${params.x | shout}", "${params.x"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded", s)
		}
	}
}

func TestCond(t *testing.T) {
	look := lookupOf(map[string]Value{
		"params.strategy": {S: "logical"},
		"params.keep":     {S: "true"},
		"params.off":      {S: "false"},
	})
	tests := []struct {
		cond string
		want bool
	}{
		{`${params.strategy} == "logical"`, true},
		{`${params.strategy} != "logical"`, false},
		{`${params.keep}`, true},
		{`!${params.keep}`, false},
		{`${params.off} || ${params.keep}`, true},
		{`${params.off} || ${params.keep} && ${params.strategy} == "x"`, false},
		{`${params.keep} && ${params.strategy} == "logical"`, true},
	}
	for _, tt := range tests {
		c, err := ParseCond(tt.cond)
		if err != nil {
			t.Fatalf("%s: %v", tt.cond, err)
		}
		got, err := c.Eval(look)
		if err != nil || got != tt.want {
			t.Errorf("%s = %v (%v), want %v", tt.cond, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "x == 1", `${params.a} > "1"`, `${params.a} == unquoted`} {
		if _, err := ParseCond(bad); err == nil {
			t.Errorf("ParseCond(%q) succeeded", bad)
		}
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"SELECT ${params.x}", "${steps.a.b | ident}", "$${x}", "${item}", "${", "}${params.x|literal|scram}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := Parse(s)
		if err != nil {
			return
		}
		look := func(r Ref) (Value, bool) { return Value{S: "v'\"\\"}, true }
		_, _, _ = tm.SQL(look)
		_, _ = tm.Text(look)
		_ = tm.Describe(look)
		_ = tm.DescribeSQL(look)
	})
}

// Every yes/no spelling cairn accepts reads the same; anything else is refused, never read as false.
func TestParseBool(t *testing.T) {
	for _, s := range []string{"true", "True", "TRUE", "t", "yes", "Y", "on", "1", " true "} {
		if b, err := ParseBool(s); err != nil || !b {
			t.Errorf("ParseBool(%q) = %v, %v; want true", s, b, err)
		}
	}
	for _, s := range []string{"false", "False", "f", "no", "N", "off", "0"} {
		if b, err := ParseBool(s); err != nil || b {
			t.Errorf("ParseBool(%q) = %v, %v; want false", s, b, err)
		}
	}
	for _, s := range []string{"", "maybe", "2", "yes please"} {
		if _, err := ParseBool(s); err == nil {
			t.Errorf("ParseBool(%q) accepted", s)
		}
	}
}
