package awsstep

import (
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// Settings are the source instance's settings a rebuilt instance copies. The preflight records them
// as an output (JSON), because on the logical path with keep-identifier the source is gone by the
// time the new instance is created.
type Settings struct {
	Identifier string `json:"identifier"`
	// ResourceID is the source's DbiResourceId: what is made from it is tagged with it, and an
	// instance under a step's name that is the source itself is told apart by it.
	ResourceID         string            `json:"resource_id,omitempty"`
	Class              string            `json:"class"`
	Engine             string            `json:"engine"`
	EngineVersion      string            `json:"engine_version"`
	MasterUsername     string            `json:"master_username"`
	DBName             string            `json:"db_name,omitempty"`
	AllocatedStorage   int32             `json:"allocated_storage"`
	StorageType        string            `json:"storage_type,omitempty"`
	Port               int32             `json:"port"`
	ParameterGroup     string            `json:"parameter_group,omitempty"`
	SubnetGroup        string            `json:"subnet_group,omitempty"`
	SecurityGroups     []string          `json:"security_groups,omitempty"`
	AvailabilityZone   string            `json:"availability_zone,omitempty"`
	MultiAZ            bool              `json:"multi_az"`
	PubliclyAccessible bool              `json:"publicly_accessible"`
	CopyTagsToSnapshot bool              `json:"copy_tags_to_snapshot"`
	DeletionProtection bool              `json:"deletion_protection"`
	BackupRetention    int32             `json:"backup_retention"`
	Tags               []rdstypes.Tag    `json:"-"`
	TagMap             map[string]string `json:"tags,omitempty"`

	// Ops are the operational settings (option group, windows, monitoring…), see opsettings.go.
	// Settings recorded by an older cairn have none (Version 0): they are then neither applied nor
	// verified, so a run started before keeps its meaning when resumed.
	Ops
	Version int `json:"version,omitempty"`
}

// SettingsVersion is the version of the settings a preflight records now: 2 has the operational
// settings.
const SettingsVersion = 2

// SettingsOf reads the settings of an instance.
func SettingsOf(i rdstypes.DBInstance) Settings {
	s := Settings{
		Identifier: aws.ToString(i.DBInstanceIdentifier), ResourceID: aws.ToString(i.DbiResourceId), Class: aws.ToString(i.DBInstanceClass), Engine: aws.ToString(i.Engine),
		EngineVersion: aws.ToString(i.EngineVersion), MasterUsername: aws.ToString(i.MasterUsername), DBName: aws.ToString(i.DBName),
		AllocatedStorage: aws.ToInt32(i.AllocatedStorage), StorageType: aws.ToString(i.StorageType),
		AvailabilityZone: aws.ToString(i.AvailabilityZone), MultiAZ: aws.ToBool(i.MultiAZ), PubliclyAccessible: aws.ToBool(i.PubliclyAccessible),
		CopyTagsToSnapshot: aws.ToBool(i.CopyTagsToSnapshot), DeletionProtection: aws.ToBool(i.DeletionProtection),
		BackupRetention: aws.ToInt32(i.BackupRetentionPeriod), Tags: i.TagList, TagMap: map[string]string{},
	}
	if i.Endpoint != nil {
		s.Port = aws.ToInt32(i.Endpoint.Port)
	}
	if i.DbInstancePort != nil && *i.DbInstancePort != 0 {
		s.Port = *i.DbInstancePort
	}
	if len(i.DBParameterGroups) > 0 {
		s.ParameterGroup = aws.ToString(i.DBParameterGroups[0].DBParameterGroupName)
	}
	if i.DBSubnetGroup != nil {
		s.SubnetGroup = aws.ToString(i.DBSubnetGroup.DBSubnetGroupName)
	}
	for _, g := range i.VpcSecurityGroups {
		s.SecurityGroups = append(s.SecurityGroups, aws.ToString(g.VpcSecurityGroupId))
	}
	for _, t := range i.TagList {
		s.TagMap[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	s.Ops, s.Version = OpsOf(i), SettingsVersion
	return s
}

// placement holds the optional members CreateDBInstance and RestoreDBInstanceFromDBSnapshot both
// take, nil where the source had none (AWS then picks its default).
type placement struct {
	storageType, parameterGroup, subnetGroup, availabilityZone *string
	securityGroups                                             []string
}

func optional(v string) *string {
	if v == "" {
		return nil
	}
	return aws.String(v)
}

func (s Settings) placement() placement {
	p := placement{storageType: optional(s.StorageType), parameterGroup: optional(s.ParameterGroup),
		subnetGroup: optional(s.SubnetGroup)}
	if len(s.SecurityGroups) > 0 {
		p.securityGroups = s.SecurityGroups
	}
	if !s.MultiAZ { // a Multi-AZ instance may not name its zone
		p.availabilityZone = optional(s.AvailabilityZone)
	}
	return p
}

// JSON encodes the settings for an output.
func (s Settings) JSON() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// ParseSettings decodes a preflight's settings output.
func ParseSettings(text string) (Settings, error) {
	var s Settings
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return s, fmt.Errorf("settings of the source (from the preflight) are not readable: %w", err)
	}
	for k, v := range s.TagMap {
		s.Tags = append(s.Tags, rdstypes.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	return s, nil
}

// Summary is one line for plans and logs.
func (s Settings) Summary() string {
	line := fmt.Sprintf("class %s, %d GiB %s, port %d, parameter group %s, subnet group %s, security groups %v, %d tags",
		s.Class, s.AllocatedStorage, s.StorageType, s.Port, s.ParameterGroup, s.SubnetGroup, s.SecurityGroups, len(s.TagMap))
	if s.Version >= 2 {
		line += "; " + s.Ops.Summary()
	}
	return line
}
