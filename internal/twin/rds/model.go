package rds

import (
	"fmt"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// Statuses the twin moves instances and snapshots through, named as AWS names them.
const (
	StatusCreating   = "creating"
	StatusBackingUp  = "backing-up"
	StatusAvailable  = "available"
	StatusDeleting   = "deleting"
	StatusRenaming   = "renaming"
	StatusModifying  = "modifying"
	StatusFailed     = "failed"
	SnapshotManual   = "manual"
	defaultEngineVer = "15.18"
)

// Pace sets how fast statuses move: every transition takes a whole number of Steps (and at least
// as long as the real work behind it).
type Pace struct {
	Step time.Duration
}

// FastPace is for tests: transitions in a few hundred milliseconds.
func FastPace() Pace { return Pace{Step: 150 * time.Millisecond} }

// RealisticPace is for rehearsals: transitions take tens of seconds, as on AWS (whose take minutes).
func RealisticPace() Pace { return Pace{Step: 5 * time.Second} }

// Tag is a resource tag.
type Tag struct {
	Key   string
	Value string
}

// job is the background work an instance or snapshot is in the middle of; it is resumed after a
// restart of the twin.
type job string

const (
	jobNone     job = ""
	jobCreate   job = "create"
	jobRestore  job = "restore"
	jobDelete   job = "delete"
	jobRename   job = "rename"
	jobSnapshot job = "snapshot"
	jobCopy     job = "copy"
	jobModify   job = "modify"
)

// Instance is one DB instance as the twin keeps it.
type Instance struct {
	ID         string // DBInstanceIdentifier (changes on rename)
	ResourceID string // DbiResourceId (stable; names the cluster directory)
	Status     string
	Job        job

	Class              string
	Engine             string
	EngineVersion      string
	MasterUsername     string
	MasterPassword     string `json:",omitempty"` // kept until the cluster exists, then dropped
	DBName             string `json:",omitempty"`
	AllocatedStorage   int
	StorageType        string
	RequestedPort      int // the Port asked for; the cluster listens on Port
	Port               int
	ParameterGroup     string
	SubnetGroup        string
	SecurityGroups     []string
	AvailabilityZone   string
	DeletionProtection bool
	StorageEncrypted   bool
	KmsKeyID           string `json:",omitempty"`
	CopyTagsToSnapshot bool
	PubliclyAccessible bool
	BackupRetention    int
	Tags               []Tag
	Created            time.Time
	// Roles are the IAM roles associated with the instance (AddRoleToDBInstance), see roles.go.
	Roles []AssociatedRole `json:",omitempty"`
	// Ops are the operational settings (windows, storage performance, monitoring…), see settings.go.
	Ops Ops

	// Provisioned is set once the cluster exists; from then on a restart only starts it.
	Provisioned bool
	// StatusInfo says why an instance or snapshot failed.
	StatusInfo string `json:",omitempty"`

	RestoreFrom   string    `json:",omitempty"` // snapshot ResourceID a restore reads
	HiddenUntil   time.Time `json:",omitzero"`  // a renamed instance answers to its new name only after this
	RenameDoneAt  time.Time `json:",omitzero"`
	ModifyDoneAt  time.Time `json:",omitzero"`  // a modifying instance is available again after this
	FinalSnapshot string    `json:",omitempty"` // snapshot ResourceID a delete writes first
}

// ARN is the instance's ARN.
func (i *Instance) ARN() string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:db:%s", awswire.Region, awswire.Account, i.ID)
}

// Snapshot is one DB snapshot as the twin keeps it.
type Snapshot struct {
	ID         string // DBSnapshotIdentifier
	ResourceID string // names the snapshot's directory
	Status     string
	Job        job
	Progress   int

	InstanceID         string
	DbiResourceID      string
	InstanceClass      string
	DBName             string `json:",omitempty"`
	Engine             string
	EngineVersion      string
	MasterUsername     string
	Port               int
	AllocatedStorage   int
	StorageType        string
	AvailabilityZone   string
	ParameterGroup     string
	SubnetGroup        string
	OptionGroup        string `json:",omitempty"`
	Iops               int    `json:",omitempty"` // provisioned (0: the storage type's baseline)
	StorageThroughput  int    `json:",omitempty"`
	IAMAuth            bool   `json:",omitempty"`
	Encrypted          bool
	KmsKeyID           string `json:",omitempty"`
	Type               string
	SourceSnapshotARN  string `json:",omitempty"`
	SourceResourceID   string `json:",omitempty"` // the snapshot a copy reads
	StatusInfo         string `json:",omitempty"`
	Tags               []Tag
	Created            time.Time
	InstanceCreated    time.Time
	OriginalCreateTime time.Time
}

// ARN is the snapshot's ARN.
func (s *Snapshot) ARN() string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:snapshot:%s", awswire.Region, awswire.Account, s.ID)
}

type state struct {
	Instances    map[string]*Instance    // by ResourceID
	Snapshots    map[string]*Snapshot    // by ResourceID
	OptionGroups map[string]*OptionGroup `json:",omitempty"` // by name; the default groups are implied
}
