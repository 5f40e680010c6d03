package all

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// notYetUnderContract lists kinds whose contract test is still to be written. It may only shrink:
// the test fails if a kind here has gained one (take it off) or a new kind has none (write it).
var notYetUnderContract = []string{}

// Every registered step kind has a contract test: a test file that decodes that kind
// (steptest.Decode, or a subtest named for the kind) and runs steptest.Run or steptest.RunReadOnly on a real target. (The kind's
// name merely appearing in such a file, as "pgbackrest" in exec.LookPath("pgbackrest"), is not
// enough.)
func TestEveryKindHasAContractTest(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var contractFiles []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err == nil && regexp.MustCompile(`steptest\.(Run|RunReadOnly)\(`).Match(b) {
			contractFiles = append(contractFiles, string(b))
		}
		return nil
	})
	for _, kind := range Registry().Names() {
		decoded := regexp.MustCompile(`(steptest\.Decode\([^,]+,[^,]+,\s*|t\.Run\()"` + regexp.QuoteMeta(kind) + `"`)
		covered := slices.ContainsFunc(contractFiles, func(src string) bool { return decoded.MatchString(src) })
		listed := slices.Contains(notYetUnderContract, kind)
		switch {
		case !covered && !listed:
			t.Errorf("kind %s has no contract test (steptest.Run or RunReadOnly on a real target)", kind)
		case covered && listed:
			t.Errorf("kind %s now has a contract test: take it off notYetUnderContract", kind)
		}
	}
}

// Every registered kind has a row in steps/LOOKALIKES.md: what its Check accepts as done, what binds
// that proof to the target, and its look-alike case (or why it has none); and the table names no
// kind that is not registered.
func TestEveryKindHasALookAlikeRow(t *testing.T) {
	b, err := os.ReadFile("../LOOKALIKES.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := regexp.MustCompile("^\\| `([a-z0-9-]+)` \\|(.*)\\|$").FindStringSubmatch(line); m != nil {
			rows[m[1]] = strings.Count(m[2], "|") + 1
		}
	}
	reg := Registry()
	for _, kind := range reg.Names() {
		switch n, ok := rows[kind]; {
		case !ok:
			t.Errorf("kind %s has no row in steps/LOOKALIKES.md", kind)
		case n != 3:
			t.Errorf("kind %s: its row has %d cells after the name, want 3 (done when, bound by, look-alike)", kind, n)
		}
	}
	for kind := range rows {
		if _, ok := reg.Lookup(kind); !ok {
			t.Errorf("steps/LOOKALIKES.md has a row for %s, which is not a registered kind", kind)
		}
	}
}
