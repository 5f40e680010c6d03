package awsstep

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// A snapshot name a run would create, taken by one an earlier cairn run made, names that run and
// the one command for each case (it ended: delete it; it is to be finished: resume it) — never
// "resume the run that made it" of a run rolled back.
func TestTakenSnapshotNamesTheRunThatMadeIt(t *testing.T) {
	ours := takenSnapshot("app-db-pre-kms", rdstypes.DBSnapshot{TagList: []rdstypes.Tag{{Key: aws.String(TagRunID), Value: aws.String("20261204-1")}}})
	for _, want := range []string{"cairn run 20261204-1 made it", "rolled back", "`aws rds delete-db-snapshot --db-snapshot-identifier app-db-pre-kms`", "`cairn resume 20261204-1`"} {
		if !strings.Contains(ours.Summary+" "+ours.Next, want) {
			t.Errorf("%q lacks %q", ours.Summary+" / "+ours.Next, want)
		}
	}
	other := takenSnapshot("app-db-pre-kms", rdstypes.DBSnapshot{})
	if strings.Contains(other.Summary+other.Next, "cairn resume") || !strings.Contains(other.Next, "delete-db-snapshot --db-snapshot-identifier app-db-pre-kms") {
		t.Errorf("a snapshot no run made: %q / %q", other.Summary, other.Next)
	}
}
