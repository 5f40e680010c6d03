package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// argvRecorder puts wrappers for the programs a run starts on PATH; each records its argv (one
// line per call) and runs the real program.
func argvRecorder(t *testing.T, names ...string) (pathDir, logFile string) {
	dir := testbed.TempDir(t)
	logFile = filepath.Join(dir, "argv.log")
	for _, n := range names {
		real := ""
		for _, d := range []string{"/usr/bin", "/bin", "/usr/local/bin"} {
			if _, err := os.Stat(filepath.Join(d, n)); err == nil {
				real = filepath.Join(d, n)
				break
			}
		}
		if real == "" {
			t.Fatalf("no %s to wrap", n)
		}
		script := "#!/bin/bash\nprintf '%s\\0' \"$0\" \"$@\" >> " + logFile + "\necho >> " + logFile +
			"\n[ -n \"${CAIRN_ROLE_PASSWORD:-}\" ] && echo \"ENV-LEAK $0\" >> " + logFile +
			"\nexec " + real + " \"$@\"\n"
		if err := os.WriteFile(filepath.Join(dir, n), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir, logFile
}

// A canary secret appears nowhere: not in stdout/stderr, the journal, the output log, the runner's
// log, the report, any child's argv, nor the server's statement log — on a run that succeeds and on
// one whose statement fails.
func TestCanarySecretAppearsNowhere(t *testing.T) {
	w := &world{t: t, bin: testbed.CairnBinary(t), state: filepath.Join(testbed.TempDir(t), "state")}
	w.pg = testbed.Postgres(t, testbed.WithSettings(map[string]string{"log_statement": "all", "log_min_error_statement": "error"}))
	pathDir, argvLog := argvRecorder(t, "psql", "sh", "grep")
	w.env = append(os.Environ(),
		"CAIRN_STATE_DIR="+w.state, "PATH="+pathDir+":"+os.Getenv("PATH"),
		"PGHOST="+w.pg.SocketDir, "PGPORT="+itoa(w.pg.Port), "PGUSER="+w.pg.Superuser, "PGDATABASE=postgres",
	)
	t.Cleanup(w.killRunners)
	canary := `Canary-7f3 'quote" back\slash`
	secretEnv := []string{"CAIRN_ROLE_PASSWORD=" + canary}

	// 1. a run that succeeds, including a child (psql) that logs in with the secret
	role := testbed.UniqueName(t, "can")
	var transcripts []string
	out, errOut, code := w.cairn(secretEnv, "run", "sample-role", "-p", "role="+role, "--yes", "--no-tui")
	if code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	transcripts = append(transcripts, out, errOut)
	// the secret did work: the role logs in with it
	if !strings.Contains(out, "read ok") {
		t.Fatalf("psql as the new role did not read:\n%s", out)
	}

	// 2. a run whose statement fails in the transaction that sets the password
	role2 := testbed.UniqueName(t, "can")
	w.pg.Exec(t, "postgres", "DROP TABLE IF EXISTS cairn_sample_applied; CREATE TABLE cairn_sample_applied (step int)")
	out, errOut, code = w.cairn(secretEnv, "run", "sample-role", "-p", "role="+role2, "--yes", "--no-tui", "--on-failure", "abort")
	if code == 0 {
		t.Fatalf("the failing run succeeded:\n%s", out)
	}
	if !strings.Contains(out, "invalid input syntax for type integer") {
		t.Fatalf("failure not shown:\n%s", out)
	}
	transcripts = append(transcripts, out, errOut)

	ids, _ := journal.List(w.state)
	for _, id := range ids {
		for _, format := range []string{"md", "json"} {
			rep, _, code := w.cairn(nil, "report", id, "--format", format)
			if code != 0 {
				t.Fatalf("report %s: %d", id, code)
			}
			transcripts = append(transcripts, rep)
		}
	}
	check := func(where, text string) {
		t.Helper()
		for _, form := range []string{canary, strings.ReplaceAll(canary, "'", "''"), "Canary-7f3"} {
			if strings.Contains(text, form) {
				t.Errorf("secret found in %s", where)
			}
		}
	}
	for i, s := range transcripts {
		check("transcript "+itoa(i), s)
	}
	filepath.Walk(w.state, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			b, _ := os.ReadFile(p)
			check(p, string(b))
		}
		return nil
	})
	argv, err := os.ReadFile(argvLog)
	if err != nil || !strings.Contains(string(argv), "psql") {
		t.Fatalf("argv recorder saw no psql: %v", err)
	}
	check("child argv", string(argv))
	if strings.Contains(string(argv), "ENV-LEAK") {
		t.Error("a child inherited the variable the secret was read from")
	}
	serverLog, err := os.ReadFile(filepath.Join(w.pg.Dir, "postgres.log"))
	if err != nil || !strings.Contains(string(serverLog), "SCRAM-SHA-256$") {
		t.Fatalf("server log should show the verifier statement (log_statement=all): %v", err)
	}
	check("server log", string(serverLog))
}
