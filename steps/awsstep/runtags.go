package awsstep

import (
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/steps"
)

// The tags that bind what a step makes (an instance, a snapshot) to the run that made it and the
// source it was made from. A name can be reused by anyone; these tags, checked against this run's id,
// tell this run's instance or snapshot from a look-alike left by another run or made by hand.
const (
	TagRunID            = "cairn:run-id"
	TagSourceResourceID = "cairn:source-resource-id"
)

// runTags are the tags a step adds to what it makes: tags (the source's, with any cairn: tag of an
// earlier run left out) plus this run's id and the source's DbiResourceId (when known).
func runTags(env *steps.Env, tags []rdstypes.Tag, sourceResourceID string) []rdstypes.Tag {
	out := make([]rdstypes.Tag, 0, len(tags)+2)
	for _, t := range tags {
		if !strings.HasPrefix(aws.ToString(t.Key), "cairn:") {
			out = append(out, t)
		}
	}
	out = append(out, rdstypes.Tag{Key: aws.String(TagRunID), Value: aws.String(env.RunID)})
	if sourceResourceID != "" {
		out = append(out, rdstypes.Tag{Key: aws.String(TagSourceResourceID), Value: aws.String(sourceResourceID)})
	}
	return out
}

// tagValue is the value of the tag key in tags; ok is false when there is none.
func tagValue(tags []rdstypes.Tag, key string) (string, bool) {
	for _, t := range tags {
		if aws.ToString(t.Key) == key {
			return aws.ToString(t.Value), true
		}
	}
	return "", false
}

// madeByThisRun says whether tags carry this run's id; why says whose they are otherwise.
func madeByThisRun(env *steps.Env, tags []rdstypes.Tag) (ok bool, why string) {
	run, has := tagValue(tags, TagRunID)
	switch {
	case !has:
		return false, "it carries no " + TagRunID + " tag: cairn did not make it in this run"
	case run != env.RunID:
		return false, fmt.Sprintf("it was made by run %q (tag %s), not by this run %q", run, TagRunID, env.RunID)
	}
	return true, ""
}

// instanceIsOurs says whether inst was made by this run; why says what it is otherwise.
func instanceIsOurs(env *steps.Env, inst rdstypes.DBInstance) (bool, string) {
	ok, why := madeByThisRun(env, inst.TagList)
	if ok {
		return true, ""
	}
	return false, fmt.Sprintf("instance %s (resource %s, created %s) is not this run's: %s",
		aws.ToString(inst.DBInstanceIdentifier), aws.ToString(inst.DbiResourceId), timeText(inst.InstanceCreateTime), why)
}

// fixForeignInstance is the fix for an instance under a step's name that this run did not make.
func fixForeignInstance(id string) string {
	return "it is left alone: if it is a leftover nothing needs, delete it (aws rds delete-db-instance --db-instance-identifier " + id +
		" --skip-final-snapshot), or rename it aside (aws rds modify-db-instance --db-instance-identifier " + id +
		" --new-db-instance-identifier " + id + "-old --apply-immediately), or choose another identifier; then plan again"
}
