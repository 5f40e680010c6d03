package rds

import (
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// The XML shapes of RDS answers, member names as in the API model (rds 2014-10-31).

type xmlEndpoint struct {
	Address      string
	Port         int
	HostedZoneID string `xml:"HostedZoneId"`
}

type xmlSGMembership struct {
	VpcSecurityGroupID string `xml:"VpcSecurityGroupId"`
	Status             string
}

type xmlParamGroupStatus struct {
	DBParameterGroupName string
	ParameterApplyStatus string
}

type xmlSubnetGroup struct {
	DBSubnetGroupName        string
	DBSubnetGroupDescription string
	VpcID                    string `xml:"VpcId"`
	SubnetGroupStatus        string
}

type xmlPending struct {
	DBInstanceClass         string `xml:",omitempty"`
	AllocatedStorage        int    `xml:",omitempty"`
	MasterUserPassword      string `xml:",omitempty"`
	BackupRetentionPeriod   *int   `xml:",omitempty"`
	Iops                    *int   `xml:",omitempty"`
	DBInstanceIdentifier    string `xml:",omitempty"`
	StorageType             string `xml:",omitempty"`
	CACertificateIdentifier string `xml:",omitempty"`
	StorageThroughput       *int   `xml:",omitempty"`
}

// pendingXML describes an instance's pending modifications (the master password masked, as AWS does).
func pendingXML(i *Instance) xmlPending {
	var x xmlPending
	if i.MasterPassword != "" && i.Provisioned {
		x.MasterUserPassword = "****"
	}
	p := i.Pending
	if p == nil {
		return x
	}
	x.DBInstanceClass, x.AllocatedStorage, x.BackupRetentionPeriod, x.Iops = p.Class, p.AllocatedStorage, p.BackupRetention, p.Iops
	x.DBInstanceIdentifier, x.StorageType, x.CACertificateIdentifier, x.StorageThroughput = p.ID, p.StorageType, p.CACertificate, p.StorageThroughput
	return x
}

type xmlOptionGroupMembership struct {
	OptionGroupName string
	Status          string
}

type xmlTag struct {
	Key   string
	Value string
}

type xmlInstance struct {
	DBInstanceIdentifier  string
	DBInstanceClass       string
	Engine                string
	DBInstanceStatus      string
	MasterUsername        string
	DBName                string       `xml:",omitempty"`
	Endpoint              *xmlEndpoint `xml:",omitempty"`
	AllocatedStorage      int
	InstanceCreateTime    string `xml:",omitempty"`
	LatestRestorableTime  string `xml:",omitempty"`
	PreferredBackupWindow string
	BackupRetentionPeriod int
	VpcSecurityGroups     []xmlSGMembership     `xml:"VpcSecurityGroups>VpcSecurityGroupMembership"`
	DBParameterGroups     []xmlParamGroupStatus `xml:"DBParameterGroups>DBParameterGroup"`
	AvailabilityZone      string
	DBSubnetGroup         *xmlSubnetGroup `xml:",omitempty"`
	PreferredMaintenance  string          `xml:"PreferredMaintenanceWindow"`
	PendingModifiedValues xmlPending
	MultiAZ               bool
	EngineVersion         string
	AutoMinorVersionUpg   bool `xml:"AutoMinorVersionUpgrade"`
	LicenseModel          string
	PubliclyAccessible    bool
	StorageType           string
	DbInstancePort        int
	StorageEncrypted      bool
	KmsKeyID              string `xml:"KmsKeyId,omitempty"`
	DbiResourceID         string `xml:"DbiResourceId"`
	CACertificateID       string `xml:"CACertificateIdentifier"`
	CopyTagsToSnapshot    bool
	DBInstanceArn         string
	DeletionProtection    bool
	TagList               []xmlTag `xml:"TagList>Tag"`
	NetworkType           string
	AssociatedRoles       []xmlRole `xml:"AssociatedRoles>DBInstanceRole"`

	OptionGroupMemberships             []xmlOptionGroupMembership `xml:"OptionGroupMemberships>OptionGroupMembership"`
	Iops                               int                        `xml:",omitempty"`
	StorageThroughput                  int                        `xml:",omitempty"`
	MaxAllocatedStorage                int                        `xml:",omitempty"`
	IAMDatabaseAuthenticationEnabled   bool
	EnabledCloudwatchLogsExports       []string `xml:"EnabledCloudwatchLogsExports>member"`
	PerformanceInsightsEnabled         bool
	PerformanceInsightsKMSKeyID        string `xml:"PerformanceInsightsKMSKeyId,omitempty"`
	PerformanceInsightsRetentionPeriod int    `xml:",omitempty"`
	MonitoringInterval                 int
	MonitoringRoleArn                  string `xml:",omitempty"`
	EnhancedMonitoringResourceArn      string `xml:",omitempty"`
}

func orDefaultInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func tagsXML(tags []Tag) []xmlTag {
	out := make([]xmlTag, 0, len(tags))
	for _, t := range tags {
		out = append(out, xmlTag(t))
	}
	return out
}

// instanceXML describes an instance; the endpoint is shown once the cluster can take connections.
func instanceXML(i *Instance) xmlInstance {
	x := xmlInstance{
		DBInstanceIdentifier: i.ID, DBInstanceClass: i.Class, Engine: i.Engine, DBInstanceStatus: i.Status,
		MasterUsername: i.MasterUsername, DBName: i.DBName, AllocatedStorage: i.AllocatedStorage,
		PreferredBackupWindow: i.Ops.BackupWindow, BackupRetentionPeriod: i.BackupRetention,
		AvailabilityZone: i.AvailabilityZone, PreferredMaintenance: i.Ops.MaintenanceWindow,
		EngineVersion: i.EngineVersion, AutoMinorVersionUpg: i.Ops.AutoMinorVersionUpgrade, LicenseModel: i.Ops.LicenseModel,
		PubliclyAccessible: i.PubliclyAccessible, StorageType: i.StorageType, StorageEncrypted: i.StorageEncrypted,
		KmsKeyID: i.KmsKeyID, DbiResourceID: i.ResourceID, CACertificateID: i.Ops.CACertificate,
		CopyTagsToSnapshot: i.CopyTagsToSnapshot, DBInstanceArn: i.ARN(), DeletionProtection: i.DeletionProtection,
		TagList: tagsXML(i.Tags), NetworkType: "IPV4", AssociatedRoles: rolesXML(i.Roles), PendingModifiedValues: pendingXML(i),

		OptionGroupMemberships:           []xmlOptionGroupMembership{{OptionGroupName: i.Ops.OptionGroup, Status: "in-sync"}},
		MaxAllocatedStorage:              i.Ops.MaxAllocatedStorage,
		IAMDatabaseAuthenticationEnabled: i.Ops.IAMAuth, EnabledCloudwatchLogsExports: i.Ops.LogExports,
		PerformanceInsightsEnabled: i.Ops.PerformanceInsights, PerformanceInsightsKMSKeyID: i.Ops.PIKmsKeyID,
		PerformanceInsightsRetentionPeriod: i.Ops.PIRetention,
		MonitoringInterval:                 i.Ops.MonitoringInterval, MonitoringRoleArn: i.Ops.MonitoringRoleArn,
	}
	x.Iops, x.StorageThroughput = i.IO()
	if i.Ops.MonitoringInterval > 0 {
		x.EnhancedMonitoringResourceArn = fmt.Sprintf("arn:aws:logs:%s:%s:log-group:RDSOSMetrics:log-stream:%s", awswire.Region, awswire.Account, i.ResourceID)
	}
	if i.Status != StatusCreating && i.Port != 0 {
		x.Endpoint = &xmlEndpoint{Address: "127.0.0.1", Port: orDefaultInt(i.NamePort, i.Port), HostedZoneID: "Z2R2ITUGPM61AM"}
		x.InstanceCreateTime = awswire.FormatTime(i.Created)
		if i.BackupRetention > 0 && i.Status != StatusStopped {
			x.LatestRestorableTime = awswire.FormatTime(i.LatestRestorable)
		}
	}
	for _, sg := range i.SecurityGroups {
		x.VpcSecurityGroups = append(x.VpcSecurityGroups, xmlSGMembership{VpcSecurityGroupID: sg, Status: "active"})
	}
	x.DBParameterGroups = []xmlParamGroupStatus{{DBParameterGroupName: i.ParameterGroup, ParameterApplyStatus: orDefault(i.ParamApply, applyInSync)}}
	x.DBSubnetGroup = &xmlSubnetGroup{DBSubnetGroupName: i.SubnetGroup, DBSubnetGroupDescription: i.SubnetGroup,
		VpcID: defaultVPC, SubnetGroupStatus: "Complete"}
	return x
}

type xmlSnapshot struct {
	DBSnapshotIdentifier       string
	DBInstanceIdentifier       string
	SnapshotCreateTime         string `xml:",omitempty"`
	Engine                     string
	AllocatedStorage           int
	Status                     string
	Port                       int
	AvailabilityZone           string
	VpcID                      string `xml:"VpcId"`
	InstanceCreateTime         string
	MasterUsername             string
	EngineVersion              string
	LicenseModel               string
	SnapshotType               string
	PercentProgress            int
	SourceRegion               string `xml:",omitempty"`
	SourceDBSnapshotIdentifier string `xml:",omitempty"`
	StorageType                string
	Encrypted                  bool
	KmsKeyID                   string `xml:"KmsKeyId,omitempty"`
	DBSnapshotArn              string
	IAMDatabaseAuthEnabled     bool     `xml:"IAMDatabaseAuthenticationEnabled"`
	OptionGroupName            string   `xml:",omitempty"`
	Iops                       int      `xml:",omitempty"`
	StorageThroughput          int      `xml:",omitempty"`
	DbiResourceID              string   `xml:"DbiResourceId"`
	TagList                    []xmlTag `xml:"TagList>Tag"`
	OriginalSnapshotCreateTime string   `xml:",omitempty"`
	SnapshotTarget             string
}

func snapshotXML(s *Snapshot) xmlSnapshot {
	x := xmlSnapshot{
		DBSnapshotIdentifier: s.ID, DBInstanceIdentifier: s.InstanceID, Engine: s.Engine,
		AllocatedStorage: s.AllocatedStorage, Status: s.Status, Port: s.Port, AvailabilityZone: s.AvailabilityZone,
		VpcID: defaultVPC, InstanceCreateTime: awswire.FormatTime(s.InstanceCreated), MasterUsername: s.MasterUsername,
		EngineVersion: s.EngineVersion, LicenseModel: "postgresql-license", SnapshotType: s.Type,
		PercentProgress: s.Progress, StorageType: s.StorageType, Encrypted: s.Encrypted, KmsKeyID: s.KmsKeyID,
		DBSnapshotArn: s.ARN(), DbiResourceID: s.DbiResourceID, TagList: tagsXML(s.Tags), SnapshotTarget: "region",
		SourceDBSnapshotIdentifier: s.SourceSnapshotARN,
		IAMDatabaseAuthEnabled:     s.IAMAuth, OptionGroupName: s.OptionGroup,
	}
	x.Iops, x.StorageThroughput = baselineIO(s.StorageType, s.AllocatedStorage)
	if s.Iops != 0 {
		x.Iops = s.Iops
	}
	if s.StorageThroughput != 0 {
		x.StorageThroughput = s.StorageThroughput
	}
	if s.SourceSnapshotARN != "" {
		x.SourceRegion = awswire.Region
	}
	if !s.Created.IsZero() {
		x.SnapshotCreateTime = awswire.FormatTime(s.Created)
		x.OriginalSnapshotCreateTime = awswire.FormatTime(s.OriginalCreateTime)
	}
	return x
}

type instanceResult struct {
	DBInstance xmlInstance
}

type instancesResult struct {
	Marker      string `xml:",omitempty"`
	DBInstances struct {
		Items []xmlInstance `xml:"DBInstance"`
	}
}

type snapshotResult struct {
	DBSnapshot xmlSnapshot
}

type snapshotsResult struct {
	Marker      string `xml:",omitempty"`
	DBSnapshots struct {
		Items []xmlSnapshot `xml:"DBSnapshot"`
	}
}
