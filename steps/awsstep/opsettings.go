package awsstep

import (
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/steps"
)

// Ops are the source's operational settings a careful DBA expects a rebuilt instance to keep: its
// option group, backup and maintenance windows, minor-version upgrades, IAM authentication, log
// exports, provisioned IOPS and throughput, storage autoscaling, server certificate, Performance
// Insights and Enhanced Monitoring, and license model. Each has its API member name in the plan and
// in a verify error.
//
// CreateDBInstance takes them all. RestoreDBInstanceFromDBSnapshot (SDK rds v1.133) takes no
// PreferredMaintenanceWindow, MaxAllocatedStorage, Performance Insights or monitoring members: those
// are set right after the restore by one ModifyDBInstance (ApplyImmediately), which the step waits
// for.
type Ops struct {
	OptionGroup             string   `json:"option_group,omitempty"`
	BackupWindow            string   `json:"backup_window,omitempty"`
	MaintenanceWindow       string   `json:"maintenance_window,omitempty"`
	AutoMinorVersionUpgrade bool     `json:"auto_minor_version_upgrade,omitempty"`
	IAMAuth                 bool     `json:"iam_database_authentication,omitempty"`
	LogExports              []string `json:"cloudwatch_logs_exports,omitempty"`
	// Iops and StorageThroughput are as DescribeDBInstances reports them: gp3 below 400 GiB reports
	// its baseline (3000, 125), which RDS refuses to be given explicitly (see provisionedIO).
	Iops                int32  `json:"iops,omitempty"`
	StorageThroughput   int32  `json:"storage_throughput,omitempty"`
	MaxAllocatedStorage int32  `json:"max_allocated_storage,omitempty"`
	CACertificate       string `json:"ca_certificate,omitempty"`
	PerformanceInsights bool   `json:"performance_insights,omitempty"`
	PIKMSKey            string `json:"performance_insights_kms_key,omitempty"`
	PIRetention         int32  `json:"performance_insights_retention,omitempty"`
	MonitoringInterval  int32  `json:"monitoring_interval,omitempty"`
	MonitoringRole      string `json:"monitoring_role_arn,omitempty"`
	LicenseModel        string `json:"license_model,omitempty"`
}

// OpsOf reads an instance's operational settings.
func OpsOf(i rdstypes.DBInstance) Ops {
	o := Ops{
		BackupWindow: aws.ToString(i.PreferredBackupWindow), MaintenanceWindow: aws.ToString(i.PreferredMaintenanceWindow),
		AutoMinorVersionUpgrade: aws.ToBool(i.AutoMinorVersionUpgrade), IAMAuth: aws.ToBool(i.IAMDatabaseAuthenticationEnabled),
		LogExports: slices.Sorted(slices.Values(i.EnabledCloudwatchLogsExports)),
		Iops:       aws.ToInt32(i.Iops), StorageThroughput: aws.ToInt32(i.StorageThroughput), MaxAllocatedStorage: aws.ToInt32(i.MaxAllocatedStorage),
		CACertificate: aws.ToString(i.CACertificateIdentifier), PerformanceInsights: aws.ToBool(i.PerformanceInsightsEnabled),
		MonitoringInterval: aws.ToInt32(i.MonitoringInterval), LicenseModel: aws.ToString(i.LicenseModel),
	}
	if len(i.OptionGroupMemberships) > 0 {
		o.OptionGroup = aws.ToString(i.OptionGroupMemberships[0].OptionGroupName)
	}
	if o.PerformanceInsights {
		o.PIKMSKey, o.PIRetention = aws.ToString(i.PerformanceInsightsKMSKeyId), aws.ToInt32(i.PerformanceInsightsRetentionPeriod)
	}
	if o.MonitoringInterval > 0 {
		o.MonitoringRole = aws.ToString(i.MonitoringRoleArn)
	}
	if len(o.LogExports) == 0 {
		o.LogExports = nil
	}
	return o
}

// Summary is one line for plans and logs.
func (o Ops) Summary() string {
	pi := "off"
	if o.PerformanceInsights {
		pi = fmt.Sprintf("%d days", o.PIRetention)
	}
	mon := "off"
	if o.MonitoringInterval > 0 {
		mon = fmt.Sprintf("every %ds", o.MonitoringInterval)
	}
	return fmt.Sprintf("option group %s, backup window %s, maintenance window %s, IAM auth %v, logs %v, Performance Insights %s, Enhanced Monitoring %s",
		o.OptionGroup, o.BackupWindow, o.MaintenanceWindow, o.IAMAuth, o.LogExports, pi, mon)
}

// provisionedIO says whether IOPS and throughput are given explicitly for this storage: io1/io2
// (IOPS only), and gp3 from 400 GiB. Below 400 GiB gp3 has a fixed baseline, and RDS for
// PostgreSQL refuses IOPS or throughput there ("You can't specify IOPS or storage throughput for
// engine postgres and a storage size less than 400"), although DescribeDBInstances reports them.
func provisionedIO(s Settings) (iops, throughput *int32) {
	switch s.StorageType {
	case "io1", "io2":
		if s.Iops > 0 {
			iops = aws.Int32(s.Iops)
		}
	case "gp3":
		if s.AllocatedStorage >= 400 {
			if s.Iops > 0 {
				iops = aws.Int32(s.Iops)
			}
			if s.StorageThroughput > 0 {
				throughput = aws.Int32(s.StorageThroughput)
			}
		}
	}
	return iops, throughput
}

// optString is nil for "" (a member not sent).
func optString(v string) *string {
	if v == "" {
		return nil
	}
	return aws.String(v)
}

// toRestore puts into a restore what it takes of the operational settings (and the backup
// retention, which a restore otherwise leaves at the snapshot's default).
func (s Settings) toRestore(in *rds.RestoreDBInstanceFromDBSnapshotInput) {
	in.BackupRetentionPeriod = aws.Int32(s.BackupRetention)
	if s.Version < 2 {
		return
	}
	in.OptionGroupName, in.PreferredBackupWindow = optString(s.OptionGroup), optString(s.BackupWindow)
	in.AutoMinorVersionUpgrade, in.EnableIAMDatabaseAuthentication = aws.Bool(s.AutoMinorVersionUpgrade), aws.Bool(s.IAMAuth)
	in.EnableCloudwatchLogsExports = s.LogExports
	in.Iops, in.StorageThroughput = provisionedIO(s)
	in.CACertificateIdentifier, in.LicenseModel = optString(s.CACertificate), optString(s.LicenseModel)
}

// afterRestore is the ModifyDBInstance that sets, right after a restore, the operational settings
// RestoreDBInstanceFromDBSnapshot cannot take; nil when there are none (older settings).
func (s Settings) afterRestore(id string) *rds.ModifyDBInstanceInput {
	if s.Version < 2 {
		return nil
	}
	in := &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(id), ApplyImmediately: aws.Bool(true),
		PreferredMaintenanceWindow: optString(s.MaintenanceWindow)}
	if s.MaxAllocatedStorage > 0 {
		in.MaxAllocatedStorage = aws.Int32(s.MaxAllocatedStorage)
	}
	if s.PerformanceInsights {
		in.EnablePerformanceInsights, in.PerformanceInsightsKMSKeyId = aws.Bool(true), optString(s.PIKMSKey)
		if s.PIRetention > 0 {
			in.PerformanceInsightsRetentionPeriod = aws.Int32(s.PIRetention)
		}
	}
	if s.MonitoringInterval > 0 {
		in.MonitoringInterval, in.MonitoringRoleArn = aws.Int32(s.MonitoringInterval), optString(s.MonitoringRole)
	}
	return in
}

// afterRestoreFields are the API names of the settings afterRestore sets (as field names in diffs).
var afterRestoreFields = []string{"PreferredMaintenanceWindow", "MaxAllocatedStorage", "EnablePerformanceInsights",
	"PerformanceInsightsKMSKeyId", "PerformanceInsightsRetentionPeriod", "MonitoringInterval", "MonitoringRoleArn"}

// toCreate puts the operational settings into a CreateDBInstance, which takes them all.
func (s Settings) toCreate(in *rds.CreateDBInstanceInput) {
	if s.Version < 2 {
		return
	}
	in.OptionGroupName, in.PreferredBackupWindow, in.PreferredMaintenanceWindow = optString(s.OptionGroup), optString(s.BackupWindow), optString(s.MaintenanceWindow)
	in.AutoMinorVersionUpgrade, in.EnableIAMDatabaseAuthentication = aws.Bool(s.AutoMinorVersionUpgrade), aws.Bool(s.IAMAuth)
	in.EnableCloudwatchLogsExports = s.LogExports
	in.Iops, in.StorageThroughput = provisionedIO(s)
	if s.MaxAllocatedStorage > 0 {
		in.MaxAllocatedStorage = aws.Int32(s.MaxAllocatedStorage)
	}
	in.CACertificateIdentifier, in.LicenseModel = optString(s.CACertificate), optString(s.LicenseModel)
	if s.PerformanceInsights {
		in.EnablePerformanceInsights, in.PerformanceInsightsKMSKeyId = aws.Bool(true), optString(s.PIKMSKey)
		if s.PIRetention > 0 {
			in.PerformanceInsightsRetentionPeriod = aws.Int32(s.PIRetention)
		}
	}
	if s.MonitoringInterval > 0 {
		in.MonitoringInterval, in.MonitoringRoleArn = aws.Int32(s.MonitoringInterval), optString(s.MonitoringRole)
	}
}

// field is one compared setting: its API member name and its value as text.
type field struct{ name, value string }

// fields lists the settings Verify compares, in a fixed order (the operational ones only from
// Version 2). The license model is compared only when the source had one.
func (s Settings) fields() []field {
	if s.Version < 2 {
		return nil
	}
	fs := []field{
		{"BackupRetentionPeriod", fmt.Sprint(s.BackupRetention)},
		{"OptionGroupName", s.OptionGroup},
		{"PreferredBackupWindow", s.BackupWindow},
		{"PreferredMaintenanceWindow", s.MaintenanceWindow},
		{"AutoMinorVersionUpgrade", fmt.Sprint(s.AutoMinorVersionUpgrade)},
		{"EnableIAMDatabaseAuthentication", fmt.Sprint(s.IAMAuth)},
		{"EnableCloudwatchLogsExports", strings.Join(s.LogExports, ",")},
		{"Iops", fmt.Sprint(s.Iops)},
		{"StorageThroughput", fmt.Sprint(s.StorageThroughput)},
		{"MaxAllocatedStorage", fmt.Sprint(s.MaxAllocatedStorage)},
		{"CACertificateIdentifier", s.CACertificate},
		{"EnablePerformanceInsights", fmt.Sprint(s.PerformanceInsights)},
		{"PerformanceInsightsKMSKeyId", s.PIKMSKey},
		{"PerformanceInsightsRetentionPeriod", fmt.Sprint(s.PIRetention)},
		{"MonitoringInterval", fmt.Sprint(s.MonitoringInterval)},
		{"MonitoringRoleArn", s.MonitoringRole},
	}
	if s.LicenseModel != "" {
		fs = append(fs, field{"LicenseModel", s.LicenseModel})
	}
	return fs
}

// mismatch is a setting the instance has otherwise than wanted.
type mismatch struct{ name, want, found string }

// diffSettings lists the settings of got (an instance's) that differ from want's (the source's).
func diffSettings(want, got Settings) []mismatch {
	have := map[string]string{}
	got.Version, got.LicenseModel = want.Version, orString(got.LicenseModel, "(none)")
	for _, f := range got.fields() {
		have[f.name] = f.value
	}
	var out []mismatch
	for _, f := range want.fields() {
		if have[f.name] != f.value {
			out = append(out, mismatch{f.name, f.value, have[f.name]})
		}
	}
	return out
}

func orString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// only keeps the mismatches of the named settings (without names, the others).
func only(ms []mismatch, keep bool, names []string) []mismatch {
	var out []mismatch
	for _, m := range ms {
		if slices.Contains(names, m.name) == keep {
			out = append(out, m)
		}
	}
	return out
}

// mismatchError is the VerifyError for ms (none: nil), naming every setting that differs.
func mismatchError(id string, ms []mismatch) error {
	switch len(ms) {
	case 0:
		return nil
	case 1:
		return &steps.VerifyError{What: ms[0].name + " of " + id, Expected: orString(ms[0].want, "(none)"), Found: orString(ms[0].found, "(none)")}
	}
	var names, want, found []string
	for _, m := range ms {
		names = append(names, m.name)
		want = append(want, m.name+"="+orString(m.want, "(none)"))
		found = append(found, m.name+"="+orString(m.found, "(none)"))
	}
	return &steps.VerifyError{What: "settings of " + id + " (" + strings.Join(names, ", ") + ")", Expected: strings.Join(want, "; "), Found: strings.Join(found, "; ")}
}
