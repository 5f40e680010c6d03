package rds

import (
	"reflect"
	"slices"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// Ops are an instance's operational settings beyond its identity, class, storage size and network:
// the option group, the backup and maintenance windows, minor-version upgrades, IAM authentication,
// the log exports, provisioned storage performance and storage autoscaling, the server certificate,
// Performance Insights, Enhanced Monitoring and the license model.
//
// CreateDBInstance, RestoreDBInstanceFromDBSnapshot and ModifyDBInstance share the members that set
// them, and which members each call takes follows the API: a restore takes no maintenance window,
// storage autoscaling, Performance Insights or monitoring (those are set by a ModifyDBInstance
// afterwards, as on AWS), and ModifyDBInstance changes log exports through
// CloudwatchLogsExportConfiguration.
type Ops struct {
	OptionGroup             string
	BackupWindow            string
	MaintenanceWindow       string
	AutoMinorVersionUpgrade bool
	IAMAuth                 bool     `json:",omitempty"`
	LogExports              []string `json:",omitempty"`
	Iops                    int      `json:",omitempty"` // provisioned; 0: the storage type's baseline
	StorageThroughput       int      `json:",omitempty"` // provisioned MiB/s; 0: the baseline
	MaxAllocatedStorage     int      `json:",omitempty"` // storage autoscaling's ceiling; 0: off
	CACertificate           string
	PerformanceInsights     bool   `json:",omitempty"`
	PIKmsKeyID              string `json:",omitempty"`
	PIRetention             int    `json:",omitempty"`
	MonitoringInterval      int    `json:",omitempty"`
	MonitoringRoleArn       string `json:",omitempty"`
	LicenseModel            string
}

// The defaults AWS gives an instance created without the members (the windows are picked at random
// by AWS; the twin's are fixed).
const (
	defaultBackupWindow      = "03:00-03:30"
	defaultMaintenanceWindow = "sun:05:00-sun:05:30"
	defaultCA                = "rds-ca-rsa2048-g1"
	licensePostgres          = "postgresql-license"
)

// certificates are the CA certificate identifiers RDS offers.
var certificates = []string{"rds-ca-rsa2048-g1", "rds-ca-rsa4096-g1", "rds-ca-ecc384-g1", "rds-ca-2019"}

// logTypes are the log exports RDS for PostgreSQL offers.
var logTypes = []string{"postgresql", "upgrade", "iam-db-auth-error"}

// monitoringIntervals are the Enhanced Monitoring intervals (seconds) RDS accepts; 0 is off.
var monitoringIntervals = []int{0, 1, 5, 10, 15, 30, 60}

func defaultOps(engineVersion string) Ops {
	return Ops{OptionGroup: defaultOptionGroup(engineVersion), BackupWindow: defaultBackupWindow, MaintenanceWindow: defaultMaintenanceWindow,
		AutoMinorVersionUpgrade: true, CACertificate: defaultCA, LicenseModel: licensePostgres}
}

// majorVersion is "15" for "15.18".
func majorVersion(engineVersion string) string {
	major, _, _ := strings.Cut(engineVersion, ".")
	return major
}

// opsCall says which call's members are read.
type opsCall int

const (
	opsCreate opsCall = iota
	opsRestore
	opsModify
)

// baselineIO is what gp3 storage gives without provisioned values (RDS for PostgreSQL: 3000 IOPS and
// 125 MiB/s below 400 GiB, 12000 and 500 from 400 GiB).
func baselineIO(storageType string, allocated int) (iops, throughput int) {
	if storageType != "gp3" {
		return 0, 0
	}
	if allocated < 400 {
		return 3000, 125
	}
	return 12000, 500
}

// IO is the instance's IOPS and throughput as DescribeDBInstances reports them.
func (i *Instance) IO() (iops, throughput int) {
	iops, throughput = baselineIO(i.StorageType, i.AllocatedStorage)
	if i.Ops.Iops != 0 {
		iops = i.Ops.Iops
	}
	if i.Ops.StorageThroughput != 0 {
		throughput = i.Ops.StorageThroughput
	}
	return iops, throughput
}

// applyOpsLocked reads call's members of the operational settings (and, for ModifyDBInstance, the
// storage type and size) from form onto inst, refusing — and then changing nothing — what AWS
// refuses. It reports whether anything changed. Callers hold mu.
func (s *Service) applyOpsLocked(inst *Instance, form awswire.Form, call opsCall) (bool, error) {
	next := *inst
	next.Ops.LogExports = slices.Clone(inst.Ops.LogExports)
	o := &next.Ops
	if call == opsModify {
		if v := form.String("StorageType"); v != "" && v != next.StorageType {
			next.StorageType = v
			o.Iops, o.StorageThroughput = 0, 0 // a new storage type starts from its baseline unless given
		}
		n, ok, err := form.Int("AllocatedStorage")
		if err != nil {
			return false, err
		}
		if ok {
			if n < inst.AllocatedStorage {
				return false, awswire.Errorf("InvalidParameterValue", "Invalid storage size for engine name postgres and storage type %s: %d. The allocated storage of a DB instance cannot be decreased.", next.StorageType, n)
			}
			next.AllocatedStorage = n
		}
	}
	strs := map[string]*string{"OptionGroupName": &o.OptionGroup, "PreferredBackupWindow": &o.BackupWindow,
		"CACertificateIdentifier": &o.CACertificate, "LicenseModel": &o.LicenseModel}
	bools := map[string]*bool{"AutoMinorVersionUpgrade": &o.AutoMinorVersionUpgrade, "EnableIAMDatabaseAuthentication": &o.IAMAuth}
	ints := map[string]*int{"Iops": &o.Iops, "StorageThroughput": &o.StorageThroughput}
	if call != opsRestore {
		strs["PreferredMaintenanceWindow"] = &o.MaintenanceWindow
		bools["EnablePerformanceInsights"] = &o.PerformanceInsights
		ints["MaxAllocatedStorage"] = &o.MaxAllocatedStorage
		ints["PerformanceInsightsRetentionPeriod"] = &o.PIRetention
		ints["MonitoringInterval"] = &o.MonitoringInterval
	}
	for m, p := range strs {
		if v := form.String(m); v != "" {
			*p = v
		}
	}
	for m, p := range bools {
		if v, ok := form.Bool(m); ok {
			*p = v
		}
	}
	for m, p := range ints {
		v, ok, err := form.Int(m)
		if err != nil {
			return false, err
		}
		if ok {
			*p = v
		}
	}
	if call == opsModify {
		for _, l := range form.Strings("CloudwatchLogsExportConfiguration.EnableLogTypes") {
			if !slices.Contains(o.LogExports, l) {
				o.LogExports = append(o.LogExports, l)
			}
		}
		for _, l := range form.Strings("CloudwatchLogsExportConfiguration.DisableLogTypes") {
			o.LogExports = slices.DeleteFunc(o.LogExports, func(x string) bool { return x == l })
		}
	} else if ls := form.Strings("EnableCloudwatchLogsExports"); len(ls) > 0 {
		o.LogExports = ls
	}
	slices.Sort(o.LogExports)
	o.LogExports = slices.Compact(o.LogExports)
	roleGiven := call != opsRestore && form.String("MonitoringRoleArn") != ""
	if roleGiven {
		o.MonitoringRoleArn = form.String("MonitoringRoleArn")
	}
	piKeyGiven := call != opsRestore && form.String("PerformanceInsightsKMSKeyId") != ""
	if piKeyGiven {
		if !o.PerformanceInsights {
			return false, awswire.Errorf("InvalidParameterCombination", "PerformanceInsightsKMSKeyId can be specified only when Performance Insights is enabled.")
		}
		arn, err := s.resolveKey(form.String("PerformanceInsightsKMSKeyId"))
		if err != nil {
			return false, err
		}
		if inst.Ops.PerformanceInsights && inst.Ops.PIKmsKeyID != "" && inst.Ops.PIKmsKeyID != arn {
			return false, awswire.Errorf("InvalidParameterCombination", "You can't change the KMS key of Performance Insights (%s) once it is set.", inst.Ops.PIKmsKeyID)
		}
		o.PIKmsKeyID = arn
	}
	if err := s.checkOpsLocked(&next, roleGiven, form.Has("PerformanceInsightsRetentionPeriod")); err != nil {
		return false, err
	}
	changed := !reflect.DeepEqual(next.Ops, inst.Ops) || next.StorageType != inst.StorageType || next.AllocatedStorage != inst.AllocatedStorage
	inst.Ops, inst.StorageType, inst.AllocatedStorage = next.Ops, next.StorageType, next.AllocatedStorage
	return changed, nil
}

// checkOpsLocked refuses settings AWS refuses, and fills what AWS fills (Performance Insights' key
// and retention).
func (s *Service) checkOpsLocked(i *Instance, roleGiven, retentionGiven bool) error {
	o := &i.Ops
	if err := s.checkOptionGroupLocked(o.OptionGroup, i.EngineVersion); err != nil {
		return err
	}
	if err := checkWindows(o.BackupWindow, o.MaintenanceWindow); err != nil {
		return err
	}
	for _, l := range o.LogExports {
		if !slices.Contains(logTypes, l) {
			return awswire.Errorf("InvalidParameterCombination", "You cannot use the log type %s with engine postgres. Log types available: %s.", l, strings.Join(logTypes, ", "))
		}
	}
	if err := checkStorage(i); err != nil {
		return err
	}
	if !slices.Contains(certificates, o.CACertificate) {
		return awswire.NotFoundf("CertificateNotFound", "CertificateIdentifier %s not found.", o.CACertificate)
	}
	if o.LicenseModel != licensePostgres {
		return awswire.Errorf("InvalidParameterValue", "Invalid license model %q for engine postgres. Valid values: %s.", o.LicenseModel, licensePostgres)
	}
	if o.PerformanceInsights {
		if o.PIKmsKeyID == "" {
			k, err := s.o.KMS.DefaultKey("rds")
			if err != nil {
				return err
			}
			o.PIKmsKeyID = k.ARN
		}
		if o.PIRetention == 0 {
			o.PIRetention = 7
		}
		if r := o.PIRetention; r != 7 && r != 731 && (r%31 != 0 || r > 713) {
			return awswire.Errorf("InvalidParameterValue", "Invalid PerformanceInsightsRetentionPeriod %d: use 7, a multiple of 31 up to 713 (months), or 731.", r)
		}
	} else {
		if retentionGiven && o.PIRetention != 0 {
			return awswire.Errorf("InvalidParameterCombination", "PerformanceInsightsRetentionPeriod can be specified only when Performance Insights is enabled.")
		}
		o.PIKmsKeyID, o.PIRetention = "", 0
	}
	if !slices.Contains(monitoringIntervals, o.MonitoringInterval) {
		return awswire.Errorf("InvalidParameterValue", "Invalid MonitoringInterval %d. Valid values: 0, 1, 5, 10, 15, 30, 60.", o.MonitoringInterval)
	}
	switch {
	case o.MonitoringInterval > 0 && o.MonitoringRoleArn == "":
		return awswire.Errorf("InvalidParameterCombination", "A MonitoringRoleARN value is required if you specify a MonitoringInterval value other than 0.")
	case o.MonitoringInterval == 0 && roleGiven:
		return awswire.Errorf("InvalidParameterCombination", "A MonitoringInterval value other than 0 is required if you specify a MonitoringRoleARN value.")
	case o.MonitoringInterval == 0:
		o.MonitoringRoleArn = ""
	case roleGiven && (!strings.HasPrefix(o.MonitoringRoleArn, "arn:aws:iam::") || (s.o.RoleExists != nil && !s.o.RoleExists(o.MonitoringRoleArn))):
		return awswire.Errorf("InvalidParameterValue", "IAM role ARN value is invalid or does not include the required permissions for: ENHANCED_MONITORING")
	}
	return nil
}

// checkStorage refuses provisioned IOPS and throughput where RDS for PostgreSQL does, and a storage
// autoscaling ceiling not above the allocated storage.
func checkStorage(i *Instance) error {
	o := i.Ops
	switch i.StorageType {
	case "standard", "gp2":
		if o.Iops != 0 || o.StorageThroughput != 0 {
			return awswire.Errorf("InvalidParameterCombination", "Iops and StorageThroughput are not supported for storage type %s: use io1, io2 or gp3.", i.StorageType)
		}
	case "io1", "io2":
		if o.Iops < 1000 {
			return awswire.Errorf("InvalidParameterCombination", "Storage type %s requires Iops of at least 1000 (got %d).", i.StorageType, o.Iops)
		}
		if o.StorageThroughput != 0 {
			return awswire.Errorf("InvalidParameterCombination", "StorageThroughput is supported only for storage type gp3.")
		}
	case "gp3":
		if i.AllocatedStorage < 400 && (o.Iops != 0 || o.StorageThroughput != 0) {
			return awswire.Errorf("InvalidParameterCombination", "You can't specify IOPS or storage throughput for engine postgres and a storage size less than 400.")
		}
	default:
		return awswire.Errorf("StorageTypeNotSupported", "Invalid storage type: %s.", i.StorageType)
	}
	if o.MaxAllocatedStorage != 0 && o.MaxAllocatedStorage <= i.AllocatedStorage {
		return awswire.Errorf("InvalidParameterCombination", "Max storage size must be greater than storage size.")
	}
	if o.MaxAllocatedStorage > 65536 {
		return awswire.Errorf("InvalidParameterValue", "Invalid max storage size for engine name postgres and storage type %s: %d.", i.StorageType, o.MaxAllocatedStorage)
	}
	return nil
}
