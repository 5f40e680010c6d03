package rdsencrypt_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/twin"
)

// parameterGroups lists every DB parameter group and the group each instance uses, with its
// status: a run refused at its preflight must leave both as they were (no copied group, no reboot).
func (r *rig) parameterGroups() string {
	ctx := context.Background()
	gs, err := r.rds.DescribeDBParameterGroups(ctx, &awsrds.DescribeDBParameterGroupsInput{})
	if err != nil {
		r.t.Fatal(err)
	}
	var lines []string
	for _, g := range gs.DBParameterGroups {
		lines = append(lines, "group "+aws.ToString(g.DBParameterGroupName))
	}
	is, err := r.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, i := range is.DBInstances {
		for _, g := range i.DBParameterGroups {
			lines = append(lines, fmt.Sprintf("instance %s uses %s (%s)", aws.ToString(i.DBInstanceIdentifier), aws.ToString(g.DBParameterGroupName), aws.ToString(g.ParameterApplyStatus)))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// The README's demo with strategy=replicate: on RDS the roles' passwords cannot be dumped, so a
// run that does not give them for every login role (app_ro, app_rw) would lock the application out
// at the swap. It is refused at the preflight, before the reboot, the parameter group and the new
// instance — as is a typo'd passwords-secret or credentials-secret, each naming its parameter,
// with the next thing to do.
func TestReplicateRefusesMissingPasswordsAndSecretsBeforeAnythingChanges(t *testing.T) {
	r := newRig(t)
	before := r.inventory() + "\n" + r.parameterGroups()
	for _, c := range []struct {
		name   string
		params []string
		want   []string
	}{
		{"no passwords-secret", nil, []string{"login roles app_ro, app_rw would have no password on the new instance", "-p passwords-secret=<secret>"}},
		{"a typo'd passwords-secret", []string{"passwords-secret=cairn/app-db/rolez"},
			[]string{"passwords-secret cairn/app-db/rolez: no such secret", "-p passwords-secret=<name>"}},
		{"a typo'd credentials-secret", []string{"credentials-secret=cairn/app-db/mastr", "passwords-secret=cairn/app-db/rolez"},
			[]string{"credentials-secret cairn/app-db/mastr: no such secret", "aws secretsmanager list-secrets", "-p credentials-secret=<name>", "passwords-secret cairn/app-db/rolez: no such secret"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"run", "rds-encrypt"}, r.params(append([]string{"strategy=replicate", "keep-old=true"}, c.params...)...)...)
			out, code := r.cairn(append(args, "--rehearsal", "--yes", "--confirm", "reboot="+twin.DemoInstance)...)
			if code == 0 {
				t.Fatalf("the run succeeded:\n%s", out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("the run does not say %q:\n%s", w, out)
				}
			}
			if !strings.Contains(out, "next:") {
				t.Errorf("no next: line:\n%s", out)
			}
			if strings.Contains(out, "StatusCode: 400") {
				t.Errorf("the raw SDK error is shown instead of the parameter and its fix:\n%s", out)
			}
			if after := r.inventory() + "\n" + r.parameterGroups(); after != before {
				t.Fatalf("the refused run changed AWS:\nbefore:\n%s\nafter:\n%s", before, after)
			}
		})
	}
}
