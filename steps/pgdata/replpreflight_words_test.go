package pgdata

import (
	"strings"
	"testing"
)

// The replicate preflight's headline counts in words that agree with the number: one problem
// stops, two problems stop; one warning, two warnings.
func TestReplicationPreflightCountsInWords(t *testing.T) {
	for _, c := range []struct {
		f    replFindings
		want string
	}{
		{replFindings{refusals: []string{"a table has no key"}, fixes: []string{"add one"}}, "1 problem stops logical replication: a table has no key"},
		{replFindings{refusals: []string{"x", "y"}}, "2 problems stop logical replication: x; y"},
		{replFindings{warnings: []string{"w"}}, "nothing refused (1 warning)"},
		{replFindings{warnings: []string{"w", "v"}}, "nothing refused (2 warnings)"},
	} {
		if got := c.f.check().Reason; !strings.Contains(got, c.want) {
			t.Errorf("check says %q, want %q in it", got, c.want)
		}
	}
}
