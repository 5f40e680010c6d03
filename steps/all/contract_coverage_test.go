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

// Every registered step kind has a contract test: a test file that decodes that kind and runs
// steptest.Run or steptest.RunReadOnly on a real target.
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
		quoted := `"` + kind + `"`
		covered := slices.ContainsFunc(contractFiles, func(src string) bool { return strings.Contains(src, quoted) })
		listed := slices.Contains(notYetUnderContract, kind)
		switch {
		case !covered && !listed:
			t.Errorf("kind %s has no contract test (steptest.Run or RunReadOnly on a real target)", kind)
		case covered && listed:
			t.Errorf("kind %s now has a contract test: take it off notYetUnderContract", kind)
		}
	}
}
