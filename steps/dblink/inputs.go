package dblink

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The values pasted into connect_remote's body each have a pattern of their own, checked before any
// statement is built: the body is code run by a SECURITY DEFINER function, and a value that could end
// a literal or the dollar quote around the body would become code.
var (
	// rootCertRE is an absolute path of plain path characters (no space, quote, $ or backslash).
	rootCertRE = regexp.MustCompile(`^(/[A-Za-z0-9._+@=,-]+)+$`)
	// regionRE is an AWS region name: us-east-1, eu-central-2, us-gov-west-1, cn-northwest-1.
	regionRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	// lambdaARNRE is a Lambda function's ARN, optionally with a version or alias.
	lambdaARNRE = regexp.MustCompile(`^arn:aws[a-z-]*:lambda:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:function:[A-Za-z0-9_-]{1,64}(:(\$LATEST|[A-Za-z0-9_-]{1,128}))?$`)
)

// checkRootCert refuses an ssl-root-cert that is not a plain absolute path.
func checkRootCert(s string) error {
	if !rootCertRE.MatchString(s) || len(s) > 4096 {
		return fmt.Errorf("ssl-root-cert %q: the absolute path of the CA bundle on the database server, of letters, digits and . _ + @ = , - only (no spaces, quotes, $ or backslashes)", s)
	}
	return nil
}

// checkRegion refuses a region that is not an AWS region name; empty means the instance's own.
func checkRegion(what, s string) error {
	if s != "" && !regionRE.MatchString(s) {
		return fmt.Errorf("%s %q is not an AWS region name such as us-east-1", what, s)
	}
	return nil
}

// checkLambdaARN refuses a function-arn that is not a Lambda function's ARN.
func checkLambdaARN(s string) error {
	if !lambdaARNRE.MatchString(s) {
		return fmt.Errorf("function-arn %q is not a Lambda function's ARN (arn:aws:lambda:<region>:<account>:function:<name>)", s)
	}
	return nil
}

// dollarQuote wraps a function body in a dollar quote whose tag does not occur in the body, so that
// nothing in the body can end the quote: $cairn_fn_<12 hex digits of the body's SHA-256>$, with a
// counter added should that tag occur in it all the same.
func dollarQuote(body string) string {
	sum := sha256.Sum256([]byte(body))
	base := "cairn_fn_" + hex.EncodeToString(sum[:6])
	tag := "$" + base + "$"
	for i := 1; strings.Contains(body, tag); i++ {
		tag = "$" + base + "_" + strconv.Itoa(i) + "$"
	}
	return tag + body + tag
}
