// Package sts answers the one AWS Security Token Service call the twin needs, GetCallerIdentity, on the
// Query protocol, with the twin's fixed account (000000000000) so cairn can tell a run against the twin
// from one against a real AWS account.
package sts

import (
	"fmt"
	"net/http"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// Namespace is the XML namespace of STS answers.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// Identity is the caller every request is taken to come from.
type Identity struct {
	Account string
	Arn     string
	UserID  string `xml:"UserId"`
}

// TwinIdentity is the twin's fixed caller.
func TwinIdentity() Identity {
	return Identity{Account: awswire.Account, Arn: fmt.Sprintf("arn:aws:iam::%s:user/cairn-twin", awswire.Account),
		UserID: "AIDACAIRNTWIN00000000"}
}

// ServeQuery answers an STS Query request whose Action is action.
func ServeQuery(w http.ResponseWriter, action string) {
	if action != "GetCallerIdentity" {
		awswire.WriteQueryError(w, awswire.Errorf("InvalidAction", "The twin's STS does not implement %s", action))
		return
	}
	awswire.WriteQueryResult(w, action, Namespace, TwinIdentity())
}
