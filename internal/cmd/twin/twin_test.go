package twin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	twinsrv "github.com/cairn-runbooks/cairn/internal/twin"
)

// Until the root command wires `twin`, the test binary stands in for cairn: run with
// CAIRN_TWIN_TEST_MAIN=1 it executes `twin …` from its arguments.
func TestMain(m *testing.M) {
	if os.Getenv("CAIRN_TWIN_TEST_MAIN") == "1" {
		os.Exit(testMain(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func testMain(args []string) int {
	exe, _ := os.Executable()
	f := &cmdutil.Factory{IO: &cmdutil.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}, Getenv: os.Getenv, Executable: exe}
	cmd := NewCmdTwin(f)
	if len(args) > 0 && args[0] == "twin" {
		args = args[1:]
	}
	cmd.SetArgs(args)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "cairn:", err)
		return 1
	}
	return 0
}

func testFactory(out, errOut *bytes.Buffer, env map[string]string) *cmdutil.Factory {
	return &cmdutil.Factory{IO: &cmdutil.IOStreams{Out: out, ErrOut: errOut}, Getenv: func(k string) string { return env[k] }}
}

func TestUpFlags(t *testing.T) {
	cmdtest.Table(t, newCmdUp, func(o *UpOptions) { o.IO, o.Executable = nil, "" }, []cmdtest.Case[UpOptions]{
		{Name: "defaults", Want: UpOptions{Dir: "/state/twin", Speed: "realistic"}},
		{Name: "all flags", Argv: []string{"--dir", "/d", "--port", "4566", "--speed", "fast", "--seed", "demo", "--rows", "50", "--detach"},
			Want: UpOptions{Dir: "/d", Port: 4566, Speed: "fast", Seed: "demo", Rows: 50, Detach: true}},
		{Name: "bad speed", Argv: []string{"--speed", "warp"}, Usage: "--speed must be fast or realistic"},
		{Name: "bad seed", Argv: []string{"--seed", "prod"}, Usage: "--seed must be demo"},
		{Name: "negative port", Argv: []string{"--port", "-1"}, Usage: "--rows and --port must not be negative"},
		{Name: "an argument", Argv: []string{"now"}, Usage: `unknown command "now"`},
	})
}

func TestDownFlags(t *testing.T) {
	cmdtest.Table(t, newCmdDown, func(o *DownOptions) { o.IO = nil }, []cmdtest.Case[DownOptions]{
		{Name: "defaults", Want: DownOptions{Dir: "/state/twin", Wait: 2 * time.Minute}},
		{Name: "dir", Argv: []string{"--dir", "/d"}, Want: DownOptions{Dir: "/d", Wait: 2 * time.Minute}},
	})
}

func TestExportLinesQuote(t *testing.T) {
	got := exportLines([]string{"A=x", `B=it's "q" \ y`})
	want := "export A='x'\nexport B='it'\\''s \"q\" \\ y'\n"
	if got != want {
		t.Fatalf("exportLines = %q, want %q", got, want)
	}
}

// TestTwinProcess runs the twin as its own process with the demo seed, reads the demo secret,
// logs in with it, restarts the twin, and stops it with `twin down`.
func TestTwinProcess(t *testing.T) {
	testbed.Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := testbed.Twin(t, testbed.TwinOptions{Seed: "demo", Rows: 2000, Binary: exe, Env: []string{"CAIRN_TWIN_TEST_MAIN=1"}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if p.Lookup("AWS_REGION") != "us-east-1" || p.Lookup("AWS_EC2_METADATA_DISABLED") != "true" {
		t.Fatalf("env = %v", p.Env)
	}
	checkDemo := func() {
		t.Helper()
		endpoint := p.Endpoint
		sm := awssm.NewFromConfig(twinsrv.AWSConfig(), func(o *awssm.Options) { o.BaseEndpoint = &endpoint })
		list, err := sm.ListSecrets(ctx, &awssm.ListSecretsInput{})
		if err != nil || len(list.SecretList) != 1 || aws.ToString(list.SecretList[0].Name) != twinsrv.DemoSecret {
			t.Fatalf("ListSecrets = %+v, %v; want the demo secret %s", list, err, twinsrv.DemoSecret)
		}
		out, err := sm.GetSecretValue(ctx, &awssm.GetSecretValueInput{SecretId: aws.String(twinsrv.DemoSecret)})
		if err != nil {
			t.Fatal(err)
		}
		var sec struct {
			Username, Password, Host, Dbname string
			Port                             int
		}
		if err := json.Unmarshal([]byte(*out.SecretString), &sec); err != nil {
			t.Fatal(err)
		}
		if !strings.ContainsAny(sec.Password, `"`) || !strings.Contains(sec.Password, `'`) || !strings.Contains(sec.Password, `\`) || !strings.Contains(sec.Password, " ") {
			t.Fatalf("demo password %q lacks one of \" ' \\ and space", sec.Password)
		}
		conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=verify-full sslrootcert=%s",
			sec.Host, sec.Port, sec.Dbname, sec.Username, pgcluster.QuoteValue(sec.Password), pgcluster.QuoteValue(p.Lookup("CAIRN_TWIN_CA_BUNDLE"))))
		if err != nil {
			t.Fatalf("log in with the demo secret: %v", err)
		}
		defer conn.Close(ctx)
		var customers, items int
		if err := conn.QueryRow(ctx, "SELECT (SELECT count(*) FROM shop.customers), (SELECT count(*) FROM shop.order_items)").Scan(&customers, &items); err != nil {
			t.Fatal(err)
		}
		if customers != 200 || items == 0 {
			t.Fatalf("demo customers=%d items=%d, want 200 and some", customers, items)
		}
	}
	checkDemo()
	// `cairn twin up` on the running twin prints its environment again (a second shell's eval).
	var upOut, upErr bytes.Buffer
	up := newCmdUp(testFactory(&upOut, &upErr, nil), nil)
	up.SetArgs([]string{"--dir", p.Dir, "--seed", "demo"})
	if err := up.ExecuteContext(ctx); err != nil {
		t.Fatalf("twin up on a running twin: %v (stderr %q)", err, upErr.String())
	}
	if want := "export AWS_ENDPOINT_URL=" + shellQuote(p.Endpoint) + "\n"; !strings.Contains(upOut.String(), want) {
		t.Fatalf("twin up on a running twin printed %q, want a line %q", upOut.String(), want)
	}
	if !strings.Contains(upErr.String(), "already running") {
		t.Fatalf("twin up on a running twin said %q on stderr", upErr.String())
	}
	p.Restart(t)
	checkDemo()

	var out, errOut bytes.Buffer
	cmd := newCmdDown(testFactory(&out, &errOut, nil), nil)
	cmd.SetArgs([]string{"--dir", p.Dir})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "stopped") {
		t.Fatalf("down said %q", errOut.String())
	}
	if n, err := stopClusters(ctx, p.Dir); err != nil || n != 0 {
		t.Fatalf("clusters still running after down: %d, %v", n, err)
	}
}
