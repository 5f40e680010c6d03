package awsstep

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/cairn-runbooks/cairn/steps"
)

// A read that could not look (not allowed, throttled) cannot tell, in the error's own words; a
// read that saw something wrong about the target is blocked.
func TestFailedReadsMapToTheContract(t *testing.T) {
	wrap := func(code, msg string) error {
		return fmt.Errorf("DescribeDBInstances app-db: %w", &smithy.GenericAPIError{Code: code, Message: msg})
	}
	for _, c := range []struct {
		err  error
		want steps.State
	}{
		{wrap("AccessDenied", "not authorized to perform rds:DescribeDBInstances"), steps.Unknown},
		{wrap("ExpiredToken", "the security token included in the request is expired"), steps.Unknown},
		{wrap("Throttling", "rate exceeded"), steps.Unknown},
		{wrap("InvalidParameterValue", "bad identifier"), steps.Blocked},
		{errors.New("KMS key alias/x is disabled"), steps.Blocked},
	} {
		got := unknownOr(c.err, fixAWS)
		if got.State != c.want || got.Reason != c.err.Error() {
			t.Errorf("%v: %s %q, want %s with the error's own text", c.err, got.State, got.Reason, c.want)
		}
	}
}

// A call AWS refused because its KMS key cannot be used carries the fix (enable the key, then
// resume) and says nothing was made; any other failure is left as it is.
func TestUnusableKeyFailuresCarryTheFix(t *testing.T) {
	env := &steps.Env{RunID: "run-1"}
	for _, code := range []string{"KMSKeyNotAccessibleFault", "DisabledException"} {
		err := withKMSFix(fmt.Errorf("CopyDBSnapshot a → b: %w", &smithy.GenericAPIError{Code: code, Message: "The specified KMS key [k] is disabled."}), "arn:k", "the encrypted copy b", env)
		fix := steps.FixOf(err)
		if !strings.Contains(fix, "aws kms enable-key --key-id arn:k") || !strings.Contains(fix, "`cairn resume run-1`") || !strings.Contains(err.Error(), "the encrypted copy b was not made") {
			t.Errorf("%s: %q / fix %q", code, err, fix)
		}
	}
	other := fmt.Errorf("CopyDBSnapshot: %w", &smithy.GenericAPIError{Code: "SnapshotQuotaExceeded"})
	if got := withKMSFix(other, "arn:k", "x", env); got != other || steps.FixOf(got) != "" {
		t.Errorf("another failure was changed: %v", got)
	}
}
