package awsstep

import (
	"strings"
	"testing"
)

// A group of the step's name an earlier run made and left attached (a cut-back leaves it) is met
// with the two commands that put the instance's own group back and delete the copy; one not
// attached only needs deleting or another name.
func TestForeignGroupFixSaysHowToGetTheOwnGroupBack(t *testing.T) {
	attached := foreignGroupFix(&pgState{inst: "app-db", group: "app-db-logical", current: "app-db-logical"}, "app-postgres15")
	for _, want := range []string{
		"`aws rds modify-db-instance --db-instance-identifier app-db --db-parameter-group-name app-postgres15 --apply-immediately`",
		"`aws rds delete-db-parameter-group --db-parameter-group-name app-db-logical`", "next reboot",
	} {
		if !strings.Contains(attached, want) {
			t.Errorf("%q lacks %q", attached, want)
		}
	}
	loose := foreignGroupFix(&pgState{inst: "app-db", group: "app-db-logical", current: "app-postgres15"}, "app-postgres15")
	if strings.Contains(loose, "modify-db-instance") || !strings.Contains(loose, "delete-db-parameter-group --db-parameter-group-name app-db-logical") {
		t.Errorf("a group not attached: %q", loose)
	}
}
