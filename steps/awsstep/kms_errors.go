package awsstep

import (
	"fmt"

	"github.com/cairn-runbooks/cairn/steps"
)

// kmsUnusable says whether err is AWS refusing a call because its KMS key cannot be used: RDS's
// KMSKeyNotAccessibleFault (disabled, pending deletion, or no grant for this identity), KMS's own
// DisabledException and KMSInvalidStateException.
func kmsUnusable(err error) bool {
	switch errCode(err) {
	case "KMSKeyNotAccessibleFault", "KMSKeyNotAccessible", "DisabledException", "KMSInvalidStateException", "KMSDisabledException":
		return true
	}
	return false
}

// withKMSFix is err (the call that failed, in its words) with the fix for an unusable key, what of
// the call's work exists (nothing: AWS refused it before starting) and the command to go on; other
// errors are returned as they are.
func withKMSFix(err error, key, made string, env *steps.Env) error {
	if !kmsUnusable(err) {
		return err
	}
	return steps.WithFix(fmt.Errorf("%w — the KMS key cannot be used; %s was not made", err, made),
		fmt.Sprintf("aws kms describe-key --key-id %s says why (KeyState): enable it (aws kms enable-key --key-id %s), or give this identity kms:CreateGrant and kms:Decrypt on it in the key policy; then `cairn resume %s` (retry)", key, key, env.DescribeRunID()))
}
