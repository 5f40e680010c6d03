package rds

import (
	"fmt"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// Statuses the twin moves instances and snapshots through, named as AWS names them.
const (
	StatusCreating  = "creating"
	StatusBackingUp = "backing-up"
	StatusAvailable = "available"
	StatusDeleting  = "deleting"
	StatusRenaming  = "renaming"
	StatusModifying = "modifying"
	StatusFailed    = "failed"
	// StatusResettingCredentials is an instance's status while a new master password is applied.
	StatusResettingCredentials = "resetting-master-credentials"
	// StatusRebooting is an instance's status during RebootDBInstance.
	StatusRebooting = "rebooting"
	// StatusStopped and StatusStopping, StatusStarting are StopDBInstance's and StartDBInstance's.
	StatusStopping = "stopping"
	StatusStopped  = "stopped"
	StatusStarting = "starting"
	SnapshotManual = "manual"
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
	jobReboot   job = "reboot"
	jobStop     job = "stop"
	jobStart    job = "start"
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
	MasterPassword     string `json:",omitempty"` // kept until the cluster exists (or a reset is applied), then dropped
	DBName             string `json:",omitempty"`
	AllocatedStorage   int
	StorageType        string
	RequestedPort      int // the Port asked for; the cluster listens on Port
	Port               int
	NamePort           int `json:",omitempty"` // its identifier's endpoint (described as Endpoint.Port)
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
	// Pending are modifications waiting for the maintenance window, see pending.go; MaintenanceDue and
	// BackupDue say a window began while the instance was busy (see clock.go).
	Pending        *Pending `json:",omitempty"`
	MaintenanceDue bool     `json:",omitempty"`
	// ParamApply is the ParameterApplyStatus of its parameter group ("" is in-sync), see paramgroups.go.
	ParamApply string `json:",omitempty"`
	BackupDue  bool   `json:",omitempty"`

	// Provisioned is set once the cluster exists; from then on a restart only starts it.
	Provisioned bool
	// StatusInfo says why an instance or snapshot failed.
	StatusInfo string `json:",omitempty"`

	RestoreFrom string `json:",omitempty"` // snapshot ResourceID a restore reads
	// RestoreFromInstance is the ResourceID of the instance a point-in-time restore copies.
	RestoreFromInstance string `json:",omitempty"`
	// LatestRestorable is described as LatestRestorableTime; the twin sets it as it describes.
	LatestRestorable time.Time `json:"-"`
	HiddenUntil      time.Time `json:",omitzero"` // a renamed instance answers to its new name only after this
	RenameDoneAt     time.Time `json:",omitzero"`
	ModifyDoneAt     time.Time `json:",omitzero"`  // a modifying instance is available again after this
	FinalSnapshot    string    `json:",omitempty"` // snapshot ResourceID a delete writes first
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
	// Clock is how far the twin's clock runs ahead of the machine's (see clock.go), and LastTick the
	// twin time up to which windows have been acted on.
	Clock        time.Duration           `json:",omitempty"`
	LastTick     time.Time               `json:",omitzero"`
	Events       []Event                 `json:",omitempty"`
	ParamGroups  map[string]*ParamGroup  `json:",omitempty"` // custom DB parameter groups, by name
	Endpoints    map[string]int          `json:",omitempty"` // each identifier's endpoint port, see endpoints.go
	Instances    map[string]*Instance    // by ResourceID
	Snapshots    map[string]*Snapshot    // by ResourceID
	OptionGroups map[string]*OptionGroup `json:",omitempty"` // by name; the default groups are implied
}
