package awsstep

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

func TestJudgeRefusesWhatCannotBeRebuilt(t *testing.T) {
	ok := rdstypes.DBInstance{DBInstanceIdentifier: aws.String("db"), Engine: aws.String("postgres"), DBInstanceStatus: aws.String("available")}
	if fs := judge(ok, true); len(fs) != 0 {
		t.Fatalf("a plain available postgres instance was refused: %+v", fs)
	}
	cases := []struct {
		name string
		mod  func(*rdstypes.DBInstance)
		del  bool
		want string
	}{
		{"engine not postgres", func(i *rdstypes.DBInstance) { i.Engine = aws.String("mysql") }, false, `runs engine "mysql", not postgres`},
		{"aurora", func(i *rdstypes.DBInstance) { i.Engine = aws.String("aurora-postgresql") }, false, "not postgres"},
		{"already encrypted", func(i *rdstypes.DBInstance) { i.StorageEncrypted = aws.Bool(true) }, false, "already encrypted"},
		{"not available", func(i *rdstypes.DBInstance) { i.DBInstanceStatus = aws.String("modifying") }, false, "is modifying, not available"},
		{"deletion protection when deleting", func(i *rdstypes.DBInstance) { i.DeletionProtection = aws.Bool(true) }, true, "deletion protection"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			i := ok
			c.mod(&i)
			fs := judge(i, c.del)
			if len(fs) != 1 || !strings.Contains(fs[0].Summary, c.want) || fs[0].Next == "" {
				t.Fatalf("want one finding %q with a fix, got %+v", c.want, fs)
			}
		})
	}
	dp := ok
	dp.DeletionProtection = aws.Bool(true)
	if fs := judge(dp, false); len(fs) != 0 {
		t.Fatalf("deletion protection must not matter when the source is kept: %+v", fs)
	}
}

func TestStandInPassword(t *testing.T) {
	real := `c"a'i\rn demo-7`
	a, b := standIn(real, "app-db"), standIn(real, "app-db")
	if a != b {
		t.Fatal("the stand-in must be recomputable on resume")
	}
	if a == standIn(real, "other") || a == standIn("other", "app-db") || strings.Contains(a, real) {
		t.Fatal("the stand-in must depend on the password and the instance, and not contain the password")
	}
	if strings.ContainsAny(a, `/"@ `) || len(a) < 8 || len(a) > 41 {
		t.Fatalf("RDS would refuse the stand-in %q", a)
	}
}

func TestSettingsRoundTrip(t *testing.T) {
	i := rdstypes.DBInstance{DBInstanceIdentifier: aws.String("db"), DBInstanceClass: aws.String("db.t3.medium"), Engine: aws.String("postgres"),
		Endpoint: &rdstypes.Endpoint{Port: aws.Int32(5433)}, DBParameterGroups: []rdstypes.DBParameterGroupStatus{{DBParameterGroupName: aws.String("pg15")}},
		DBSubnetGroup: &rdstypes.DBSubnetGroup{DBSubnetGroupName: aws.String("private")}, VpcSecurityGroups: []rdstypes.VpcSecurityGroupMembership{{VpcSecurityGroupId: aws.String("sg-1")}},
		TagList: []rdstypes.Tag{{Key: aws.String("app"), Value: aws.String("shop")}}, DeletionProtection: aws.Bool(true)}
	s, err := ParseSettings(SettingsOf(i).JSON())
	if err != nil {
		t.Fatal(err)
	}
	if s.Class != "db.t3.medium" || s.Port != 5433 || s.ParameterGroup != "pg15" || s.SubnetGroup != "private" || len(s.SecurityGroups) != 1 ||
		len(s.Tags) != 1 || aws.ToString(s.Tags[0].Value) != "shop" || !s.DeletionProtection {
		t.Fatalf("settings lost in the round trip: %+v", s)
	}
}
