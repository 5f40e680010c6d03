package twin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// cliDriver runs real AWS CLI command lines — the CLI's own clidriver, as /usr/bin/aws runs it — many
// in one Python process, so a table of command lines costs one interpreter start, not one each.
const cliDriver = `import io, json, sys, contextlib
import awscli.clidriver
res = []
for argv in json.load(sys.stdin):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = awscli.clidriver.create_clidriver().main(argv)
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 1
    res.append({"rc": rc, "out": out.getvalue(), "err": err.getvalue()})
json.dump(res, sys.stdout)
`

// cliTool is one installed AWS CLI: its name and the Python that imports it.
type cliTool struct{ name, python string }

// awsCLIs are the AWS CLIs the fidelity suite drives, where installed: Debian's v2 first, then a v1
// from pip.
func awsCLIs() []cliTool {
	var out []cliTool
	for _, c := range []cliTool{{"v2", "/usr/bin/python3"}, {"v1", "/root/.pyenv/versions/3.11.7/bin/python3"}} {
		if exec.Command(c.python, "-c", "import awscli.clidriver").Run() == nil {
			out = append(out, c)
		}
	}
	return out
}

// cliResult is one command line's exit code, stdout and stderr.
type cliResult struct {
	RC  int    `json:"rc"`
	Out string `json:"out"`
	Err string `json:"err"`
}

// runCLI runs the command lines (without the leading "aws") with python's AWS CLI against the twin.
func runCLI(t *testing.T, ctx context.Context, python string, env []string, lines [][]string) []cliResult {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "drive.py")
	if err := os.WriteFile(script, []byte(cliDriver), 0o644); err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(lines)
	cmd := exec.CommandContext(ctx, python, script)
	cmd.Env = append(env, "HOME="+dir, "PATH=/usr/bin:/bin", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1")
	cmd.Stdin = strings.NewReader(string(in))
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("AWS CLI driver: %v\n%s", err, stderr)
	}
	var res []cliResult
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(lines) {
		t.Fatalf("AWS CLI driver answered %d results for %d lines (%v): %s", len(res), len(lines), err, out)
	}
	return res
}

// cliCase is one command line and what a script reading its answer relies on.
type cliCase struct {
	args []string
	// want maps a path into the JSON answer ("DBInstances.0.Endpoint.Port", "#SecretList" for a
	// length) to its expected value as fmt.Sprint prints it; "*" only asks that it exists.
	want map[string]string
	// err, when set, is the error code the CLI must report (exit code not 0), and msg part of its message.
	err, msg string
	// once marks a case that changes the twin: only the first CLI runs it.
	once bool
}

// check asserts a case's result.
func (c cliCase) check(t *testing.T, cli string, r cliResult) {
	t.Helper()
	line := cli + ": aws " + strings.Join(c.args, " ")
	if c.err != "" {
		if r.RC == 0 {
			t.Errorf("%s: exit 0, want error %s\n%s", line, c.err, r.Out)
			return
		}
		if !strings.Contains(r.Err, "("+c.err+")") || !strings.Contains(r.Err, c.msg) {
			t.Errorf("%s: stderr %q, want error (%s) with %q", line, strings.TrimSpace(r.Err), c.err, c.msg)
		}
		return
	}
	if r.RC != 0 {
		t.Errorf("%s: exit %d: %s", line, r.RC, strings.TrimSpace(r.Err))
		return
	}
	var v any
	if strings.TrimSpace(r.Out) != "" {
		if err := json.Unmarshal([]byte(r.Out), &v); err != nil {
			t.Errorf("%s: not JSON: %v\n%s", line, err, r.Out)
			return
		}
	}
	for path, want := range c.want {
		got, ok := jsonPath(v, path)
		if !ok {
			t.Errorf("%s: no %s in %s", line, path, abbrev(r.Out))
			continue
		}
		if want != "*" && got != want {
			t.Errorf("%s: %s = %s, want %s", line, path, got, want)
		}
	}
}

// jsonPath follows a dotted path (numbers index arrays); a leading # gives the length.
func jsonPath(v any, path string) (string, bool) {
	length := strings.HasPrefix(path, "#")
	for _, p := range strings.Split(strings.TrimPrefix(path, "#"), ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				return "", false
			}
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(x) {
				return "", false
			}
			v = x[n]
		default:
			return "", false
		}
	}
	if length {
		switch x := v.(type) {
		case []any:
			return strconv.Itoa(len(x)), true
		case map[string]any:
			return strconv.Itoa(len(x)), true
		}
		return "", false
	}
	return fmt.Sprint(v), true
}

func abbrev(s string) string {
	if len(s) > 600 {
		return s[:600] + "…"
	}
	return s
}
