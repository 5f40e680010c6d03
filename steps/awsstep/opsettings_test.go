package awsstep

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/goccy/go-yaml"

	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// source is an instance whose every operational setting is not AWS's default.
func source() rdstypes.DBInstance {
	return rdstypes.DBInstance{DBInstanceIdentifier: aws.String("db"), DBInstanceClass: aws.String("db.m6g.large"), Engine: aws.String("postgres"),
		EngineVersion: aws.String("15.18"), StorageType: aws.String("gp3"), AllocatedStorage: aws.Int32(500), BackupRetentionPeriod: aws.Int32(14),
		OptionGroupMemberships: []rdstypes.OptionGroupMembership{{OptionGroupName: aws.String("app-og")}},
		PreferredBackupWindow:  aws.String("01:30-02:00"), PreferredMaintenanceWindow: aws.String("sat:22:00-sat:22:30"),
		AutoMinorVersionUpgrade: aws.Bool(false), IAMDatabaseAuthenticationEnabled: aws.Bool(true),
		EnabledCloudwatchLogsExports: []string{"upgrade", "postgresql"}, Iops: aws.Int32(15000), StorageThroughput: aws.Int32(750),
		MaxAllocatedStorage: aws.Int32(1000), CACertificateIdentifier: aws.String("rds-ca-ecc384-g1"),
		PerformanceInsightsEnabled: aws.Bool(true), PerformanceInsightsKMSKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/pi"),
		PerformanceInsightsRetentionPeriod: aws.Int32(93), MonitoringInterval: aws.Int32(15),
		MonitoringRoleArn: aws.String("arn:aws:iam::000000000000:role/em"), LicenseModel: aws.String("postgresql-license")}
}

func TestOpsRoundTrip(t *testing.T) {
	s, err := ParseSettings(SettingsOf(source()).JSON())
	if err != nil {
		t.Fatal(err)
	}
	want := Ops{OptionGroup: "app-og", BackupWindow: "01:30-02:00", MaintenanceWindow: "sat:22:00-sat:22:30", IAMAuth: true,
		LogExports: []string{"postgresql", "upgrade"}, Iops: 15000, StorageThroughput: 750, MaxAllocatedStorage: 1000, CACertificate: "rds-ca-ecc384-g1",
		PerformanceInsights: true, PIKMSKey: "arn:aws:kms:us-east-1:000000000000:key/pi", PIRetention: 93, MonitoringInterval: 15,
		MonitoringRole: "arn:aws:iam::000000000000:role/em", LicenseModel: "postgresql-license"}
	if s.Version != SettingsVersion || strings.Join(s.LogExports, ",") != strings.Join(want.LogExports, ",") {
		t.Fatalf("version %d, logs %v", s.Version, s.LogExports)
	}
	if !reflect.DeepEqual(s.Ops, want) {
		t.Fatalf("operational settings lost in the round trip:\n got %+v\nwant %+v", s.Ops, want)
	}
	if d := diffSettings(s, SettingsOf(source())); len(d) != 0 {
		t.Fatalf("the source differs from its own settings: %+v", d)
	}
}

// Settings recorded by an older cairn (a run resumed after an upgrade) still parse, and ask for no
// operational setting: none is sent, none verified.
func TestOlderSettingsAskForNoOps(t *testing.T) {
	old := `{"identifier":"app-db","class":"db.t3.medium","engine":"postgres","engine_version":"15.18","master_username":"cairn_admin",` +
		`"allocated_storage":20,"storage_type":"gp2","port":5432,"parameter_group":"app-postgres15","multi_az":false,"publicly_accessible":false,` +
		`"copy_tags_to_snapshot":true,"deletion_protection":false,"backup_retention":1,"tags":{"app":"shop"}}`
	s, err := ParseSettings(old)
	if err != nil {
		t.Fatal(err)
	}
	if s.Version != 0 || s.fields() != nil || s.afterRestore("x") != nil || len(diffSettings(s, SettingsOf(source()))) != 0 {
		t.Fatalf("older settings ask for operational settings: %+v", s)
	}
	// and the new JSON only adds members
	var m map[string]any
	if err := yaml.Unmarshal([]byte(SettingsOf(source()).JSON()), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"identifier", "class", "engine_version", "allocated_storage", "port", "backup_retention", "option_group", "monitoring_role_arn"} {
		if _, ok := m[k]; !ok {
			t.Errorf("settings JSON has no %q", k)
		}
	}
}

func TestProvisionedIO(t *testing.T) {
	cases := []struct {
		typ                  string
		size, iops, tput     int32
		wantIops, wantThrput string
	}{
		{"gp2", 100, 0, 0, "-", "-"},
		{"gp3", 20, 3000, 125, "-", "-"}, // the baseline RDS refuses to be given below 400 GiB
		{"gp3", 400, 12000, 500, "12000", "500"},
		{"gp3", 500, 15000, 750, "15000", "750"},
		{"io1", 100, 3000, 0, "3000", "-"},
		{"io2", 100, 5000, 0, "5000", "-"},
	}
	show := func(p *int32) string {
		if p == nil {
			return "-"
		}
		return fmt.Sprint(*p)
	}
	for _, c := range cases {
		s := Settings{StorageType: c.typ, AllocatedStorage: c.size, Ops: Ops{Iops: c.iops, StorageThroughput: c.tput}}
		i, tp := provisionedIO(s)
		if show(i) != c.wantIops || show(tp) != c.wantThrput {
			t.Errorf("%s %d GiB: iops %s throughput %s, want %s %s", c.typ, c.size, show(i), show(tp), c.wantIops, c.wantThrput)
		}
	}
}

func TestMismatchNamesEverySetting(t *testing.T) {
	want := SettingsOf(source())
	drifted := source()
	drifted.PreferredBackupWindow = aws.String("03:00-03:30")
	var verr *steps.VerifyError
	if err := mismatchError("db-enc", diffSettings(want, SettingsOf(drifted))); !errors.As(err, &verr) ||
		*verr != (steps.VerifyError{What: "PreferredBackupWindow of db-enc", Expected: "01:30-02:00", Found: "03:00-03:30"}) {
		t.Fatalf("one drifted setting: %v", err)
	}
	drifted.MonitoringInterval, drifted.PerformanceInsightsEnabled = aws.Int32(0), aws.Bool(false)
	err := mismatchError("db-enc", diffSettings(want, SettingsOf(drifted)))
	if !errors.As(err, &verr) || verr.What != "settings of db-enc (PreferredBackupWindow, EnablePerformanceInsights, PerformanceInsightsKMSKeyId, PerformanceInsightsRetentionPeriod, MonitoringInterval, MonitoringRoleArn)" ||
		!strings.Contains(verr.Expected, "MonitoringInterval=15") || !strings.Contains(verr.Found, "MonitoringRoleArn=(none)") {
		t.Fatalf("several drifted settings: %v", err)
	}
	if ms := only(diffSettings(want, SettingsOf(drifted)), false, afterRestoreFields); len(ms) != 1 || ms[0].name != "PreferredBackupWindow" {
		t.Fatalf("the restore's own settings among them: %+v", ms)
	}
}

// The plan lists every member each call sends: the restore what it takes, the ModifyDBInstance after
// it the rest (none of the restore's), CreateDBInstance all of them.
func TestDescribeListsEveryMember(t *testing.T) {
	env := steptest.Env(t, map[string]string{"settings": SettingsOf(source()).JSON(), "secret:pw": "x"})
	var r Restore
	if err := yaml.Unmarshal([]byte("snapshot: db-pre-kms-enc\nidentifier: db-enc\nsettings: ${params.settings}\nkms-key: alias/k\n"), &r); err != nil {
		t.Fatal(err)
	}
	acts := r.Describe(env)
	if len(acts) != 4 || !strings.HasPrefix(acts[0].Text, "rds RestoreDBInstanceFromDBSnapshot") || !strings.HasPrefix(acts[2].Text, "rds ModifyDBInstance") {
		t.Fatalf("restore plan: %+v", acts)
	}
	restore := []string{"OptionGroupName: app-og", "PreferredBackupWindow: 01:30-02:00", "AutoMinorVersionUpgrade: false", "EnableIAMDatabaseAuthentication: true",
		"EnableCloudwatchLogsExports: postgresql,upgrade", "Iops: 15000", "StorageThroughput: 750", "CACertificateIdentifier: rds-ca-ecc384-g1",
		"LicenseModel: postgresql-license", "BackupRetentionPeriod: 14", "DBParameterGroupName", "VpcSecurityGroupIds"}
	after := []string{"ApplyImmediately: true", "PreferredMaintenanceWindow: sat:22:00-sat:22:30", "MaxAllocatedStorage: 1000", "EnablePerformanceInsights: true",
		"PerformanceInsightsKMSKeyId: arn:aws:kms:us-east-1:000000000000:key/pi", "PerformanceInsightsRetentionPeriod: 93", "MonitoringInterval: 15",
		"MonitoringRoleArn: arn:aws:iam::000000000000:role/em"}
	for _, m := range restore {
		if m == "DBParameterGroupName" || m == "VpcSecurityGroupIds" {
			continue // not set by this source
		}
		if !strings.Contains(acts[0].Text, "\n  "+m) {
			t.Errorf("the restore's plan lacks %q:\n%s", m, acts[0].Text)
		}
	}
	for _, m := range after {
		if !strings.Contains(acts[2].Text, "\n  "+m) {
			t.Errorf("the ModifyDBInstance's plan lacks %q:\n%s", m, acts[2].Text)
		}
		if name, _, _ := strings.Cut(m, ":"); name != "ApplyImmediately" && strings.Contains(acts[0].Text, "\n  "+name+":") {
			t.Errorf("the restore's plan has %s, which RestoreDBInstanceFromDBSnapshot does not take", name)
		}
	}
	var c Create
	if err := yaml.Unmarshal([]byte("identifier: db-new\nsettings: ${params.settings}\nkms-key: alias/k\npassword: ${params.pw}\n"), &c); err != nil {
		t.Fatal(err)
	}
	t.Logf("the plan:\n%s\n%s\n%s\n%s", acts[0].Text, acts[1].Text, acts[2].Text, acts[3].Text)
	create := c.Describe(env)[0].Text
	for _, m := range append(restore[:10], after[1:]...) {
		if !strings.Contains(create, "\n  "+m) {
			t.Errorf("the create's plan lacks %q:\n%s", m, create)
		}
	}
	if !strings.Contains(create, "MasterUserPassword: ••••") {
		t.Errorf("the create's plan shows the password:\n%s", create)
	}
}
