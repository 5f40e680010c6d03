package steptest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// fileStep writes one file with the given content. A naive one takes any file at the path for
// done; a bound one only a file with its content, and refuses to overwrite another.
type fileStep struct {
	path, content string
	naive         bool
}

func (f *fileStep) Describe(*steps.Env) []steps.Action {
	return []steps.Action{{Kind: steps.ActFile, Target: "local", Text: "write " + f.path}}
}

func (f *fileStep) Check(context.Context, *steps.Env) steps.Check {
	b, err := os.ReadFile(f.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return steps.ReadyTo(steps.Create, "write %s", f.path)
	case err != nil:
		return steps.CannotTell("%v", err)
	case f.naive || string(b) == f.content:
		return steps.AlreadyDone("%s is there", f.path)
	}
	return steps.BlockedBy(f.path+" holds other content", "move it aside")
}

func (f *fileStep) Apply(context.Context, *steps.Env) (steps.Outputs, error) {
	if _, err := os.Stat(f.path); err == nil && !f.naive {
		return nil, errors.New(f.path + " exists: not overwritten")
	}
	return nil, os.WriteFile(f.path, []byte(f.content), 0o600)
}

func (f *fileStep) Verify(context.Context, *steps.Env) error {
	if b, err := os.ReadFile(f.path); err != nil || string(b) != f.content {
		return &steps.VerifyError{What: f.path, Expected: f.content, Found: string(b)}
	}
	return nil
}

func (f *fileStep) Rollback(context.Context, *steps.Env) error { return os.Remove(f.path) }

func fileCase(t *testing.T, naive, withLookAlike bool) steptest.Case {
	path := filepath.Join(t.TempDir(), "f")
	c := steptest.Case{
		Step: &fileStep{path: path, content: "this target's", naive: naive},
		Env:  steptest.Env(t, nil),
		Probe: func(t testing.TB) string {
			b, err := os.ReadFile(path)
			if err != nil {
				return "absent"
			}
			return string(b)
		},
	}
	if withLookAlike {
		c.LookAlike = &steptest.LookAlike{
			What:   "a file at the path with another target's content",
			Plant:  func(t testing.TB) { os.WriteFile(path, []byte("another target's"), 0o600) },
			There:  func(t testing.TB) bool { b, _ := os.ReadFile(path); return string(b) == "another target's" },
			Remove: func(t testing.TB) { os.Remove(path) },
		}
	}
	return c
}

// A kind whose Check is bound to the target passes; one that takes any file at its address for
// done fails the contract, and so does a case with neither a look-alike nor a reason.
func TestLookAlikeProbe(t *testing.T) {
	if child := os.Getenv("STEPTEST_LOOKALIKE_CHILD"); child != "" {
		steptest.Run(t, fileCase(t, child == "naive", child == "naive"))
		return
	}
	steptest.Run(t, fileCase(t, false, true))
	for child, want := range map[string]string{
		"naive": "look-alike a file at the path with another target's content: check says done",
		"none":  "the case has no look-alike",
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLookAlikeProbe$", "-test.count=1")
		cmd.Env = append(os.Environ(), "STEPTEST_LOOKALIKE_CHILD="+child)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("%s: the contract should fail with %q; got %v:\n%s", child, want, err, out)
		}
	}
}
