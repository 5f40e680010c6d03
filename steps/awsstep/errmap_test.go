package awsstep

import (
	"errors"
	"fmt"
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
