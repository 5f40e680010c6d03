package rds

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

var identifierRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9]*(-[a-zA-Z0-9]+)*$`)

func checkIdentifier(kind, id string) error {
	if id == "" {
		return awswire.Errorf("InvalidParameterValue", "The parameter %s must be provided and must not be blank.", kind)
	}
	if len(id) > 63 || !identifierRE.MatchString(id) {
		return awswire.Errorf("InvalidParameterValue", "The parameter %s is not a valid identifier. Identifiers must begin with a letter; must contain only ASCII letters, digits, and hyphens; and must not end with a hyphen or contain two consecutive hyphens.", kind)
	}
	return nil
}

// checkMasterPassword refuses what RDS for PostgreSQL refuses, with its messages: 8 to 128
// printable ASCII characters besides '/', '@', '"' and space.
func checkMasterPassword(pw string) error {
	switch {
	case len(pw) < 8:
		return awswire.Errorf("InvalidParameterValue", "The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters.")
	case len(pw) > 128:
		return awswire.Errorf("InvalidParameterValue", "The parameter MasterUserPassword is not a valid password because it is longer than 128 characters.")
	}
	for _, r := range pw {
		if r < 0x21 || r > 0x7e || strings.ContainsRune(`/"@`, r) {
			return awswire.Errorf("InvalidParameterValue", "The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides '/', '@', '\"', ' ' may be used.")
		}
	}
	return nil
}

func newResourceID(prefix string) string {
	var b [13]byte
	_, _ = rand.Read(b[:])
	return prefix + strings.ToUpper(hex.EncodeToString(b[:]))[:26]
}

func readTags(form awswire.Form) []Tag {
	var tags []Tag
	for _, t := range form.Structs("Tags") {
		tags = append(tags, Tag{Key: t.String("Key"), Value: t.String("Value")})
	}
	return tags
}

// refuseKeyChange rejects members that would change an instance's encryption: AWS encrypts an
// existing database only by copying a snapshot with a KMS key.
func refuseKeyChange(form awswire.Form, op string) error {
	for _, m := range []string{"KmsKeyId", "StorageEncrypted"} {
		if form.Has(m) {
			return awswire.Errorf("InvalidParameterCombination", "%s cannot change the encryption of a DB instance (%s). To encrypt, copy a DB snapshot with a KmsKeyId and restore the copy.", op, m)
		}
	}
	return nil
}

// resolveKey finds a KMS key for RDS, answering as RDS does when it is missing or disabled.
func (s *Service) resolveKey(ref string) (string, error) {
	k, err := s.o.KMS.Resolve(ref)
	if err != nil {
		return "", awswire.Errorf("KMSKeyNotAccessibleFault", "The specified KMS key [%s] does not exist, is not enabled or you do not have permissions to access it.", ref)
	}
	if !k.Enabled {
		return "", awswire.Errorf("KMSKeyNotAccessibleFault", "The specified KMS key [%s] is disabled.", k.ARN)
	}
	return k.ARN, nil
}

func (s *Service) createInstance(form awswire.Form) (any, error) {
	id := strings.ToLower(form.String("DBInstanceIdentifier"))
	if err := checkIdentifier("DBInstanceIdentifier", id); err != nil {
		return nil, err
	}
	engine := form.String("Engine")
	if engine != "postgres" {
		return nil, awswire.Errorf("InvalidParameterValue", "Invalid DB engine: %s. The twin runs engine postgres only.", engine)
	}
	if form.String("DBInstanceClass") == "" {
		return nil, awswire.Errorf("InvalidParameterValue", "The parameter DBInstanceClass must be provided and must not be blank.")
	}
	if err := s.checkEngineVersion(form.String("EngineVersion")); err != nil {
		return nil, err
	}
	if err := s.checkClass(form.String("DBInstanceClass")); err != nil {
		return nil, err
	}
	user, pw := form.String("MasterUsername"), form.String("MasterUserPassword")
	if user == "" || pw == "" {
		return nil, awswire.Errorf("InvalidParameterValue", "The parameter MasterUsername and MasterUserPassword must be provided.")
	}
	if user == "rdsadmin" || strings.HasPrefix(user, "pg_") || user == "rds_superuser" {
		return nil, awswire.Errorf("InvalidParameterValue", "MasterUsername %s cannot be used as it is a reserved word used by the engine", user)
	}
	if err := checkMasterPassword(pw); err != nil {
		return nil, err
	}
	storage, _, err := form.Int("AllocatedStorage")
	if err != nil {
		return nil, err
	}
	storageType := orDefault(form.String("StorageType"), "gp3")
	if !form.Has("AllocatedStorage") {
		storage = 20 // RDS's console default; the twin does not insist on the member
	}
	if err := checkAllocatedStorage(storageType, storage); err != nil {
		return nil, err
	}
	port, _, err := form.Int("Port")
	if err != nil {
		return nil, err
	}
	if port == 0 {
		port = 5432
	}
	encrypted, _ := form.Bool("StorageEncrypted")
	keyRef := form.String("KmsKeyId")
	if keyRef != "" && !encrypted {
		return nil, awswire.Errorf("InvalidParameterCombination", "Encryption key can only be specified for an encrypted DB instance: set StorageEncrypted.")
	}
	keyARN := ""
	if encrypted {
		if keyRef == "" {
			k, err := s.o.KMS.DefaultKey("rds")
			if err != nil {
				return nil, err
			}
			keyRef = k.ARN
		}
		if keyARN, err = s.resolveKey(keyRef); err != nil {
			return nil, err
		}
	}
	dp, _ := form.Bool("DeletionProtection")
	cts, _ := form.Bool("CopyTagsToSnapshot")
	pub, _ := form.Bool("PubliclyAccessible")
	retention, hasRetention, err := form.Int("BackupRetentionPeriod")
	if err != nil {
		return nil, err
	}
	if !hasRetention {
		retention = 1
	}
	inst := &Instance{
		ID: id, ResourceID: newResourceID("db-"), Status: StatusCreating, Job: jobCreate,
		Class: form.String("DBInstanceClass"), Engine: engine, EngineVersion: s.version,
		MasterUsername: user, MasterPassword: pw, DBName: form.String("DBName"), AllocatedStorage: storage,
		StorageType: storageType, RequestedPort: port,
		ParameterGroup: orDefault(strings.ToLower(form.String("DBParameterGroupName")), defaultParamGroup(s.version)),
		SubnetGroup:    orDefault(form.String("DBSubnetGroupName"), "default"),
		SecurityGroups: form.Strings("VpcSecurityGroupIds"), AvailabilityZone: orDefault(form.String("AvailabilityZone"), defaultAZ),
		DeletionProtection: dp, StorageEncrypted: encrypted, KmsKeyID: keyARN, CopyTagsToSnapshot: cts,
		PubliclyAccessible: pub, BackupRetention: retention, Tags: readTags(form), Created: s.now().UTC(),
	}
	inst.Ops = defaultOps(inst.EngineVersion)
	if len(inst.SecurityGroups) == 0 {
		inst.SecurityGroups = []string{DefaultSecurityGroup}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idTakenLocked(id) {
		return nil, awswire.Errorf("DBInstanceAlreadyExists", "DB instance already exists")
	}
	return s.admitLocked(inst, form, opsCreate, s.runCreate)
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (s *Service) describeInstances(form awswire.Form) (any, error) {
	max, filters, err := describeParams(form, "db-instance-id", "dbi-resource-id", "engine", "db-cluster-id", "domain")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*Instance
	if id := form.String("DBInstanceIdentifier"); id != "" {
		i, err := s.instanceLocked(id)
		if err != nil {
			return nil, err
		}
		list = []*Instance{i}
	} else {
		now := s.now()
		for _, i := range s.st.Instances {
			if now.Before(i.HiddenUntil) {
				continue
			}
			list = append(list, i)
		}
	}
	var out instancesResult
	sort.Slice(list, func(a, b int) bool { return list[a].ID < list[b].ID })
	marker := form.String("Marker")
	for _, i := range list {
		if !match(filters["db-instance-id"], i.ID, i.ARN()) || !match(filters["dbi-resource-id"], i.ResourceID) ||
			!match(filters["engine"], i.Engine) || len(filters["db-cluster-id"]) > 0 || len(filters["domain"]) > 0 {
			continue
		}
		if marker != "" && i.ID < marker {
			continue
		}
		if len(out.DBInstances.Items) == max {
			out.Marker = i.ID
			break
		}
		i.LatestRestorable = s.now().UTC()
		out.DBInstances.Items = append(out.DBInstances.Items, instanceXML(i))
	}
	return out, nil
}

// describeParams reads what every Describe* takes: MaxRecords (20 to 100, default 100) and Filters,
// by name, refusing a filter name not among known.
func describeParams(form awswire.Form, known ...string) (max int, filters map[string][]string, err error) {
	max, _, err = form.Int("MaxRecords")
	if err != nil {
		return 0, nil, err
	}
	if max == 0 {
		max = 100
	}
	if max < 20 || max > 100 {
		return 0, nil, awswire.Errorf("InvalidParameterValue", "Invalid value %d for MaxRecords. Must be between 20 and 100", max)
	}
	filters = map[string][]string{}
	for _, f := range form.Structs("Filters") {
		name := f.String("Name")
		if !slices.Contains(known, name) {
			return 0, nil, awswire.Errorf("InvalidParameterValue", "Unrecognized filter name: %s", name)
		}
		filters[name] = append(filters[name], f.Strings("Values")...)
	}
	return max, filters, nil
}

// match reports whether any of values (none = no filter) equals one of the candidates.
func match(values []string, candidates ...string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		if slices.Contains(candidates, v) {
			return true
		}
	}
	return false
}

func (s *Service) modifyInstance(form awswire.Form) (any, error) {
	if err := refuseKeyChange(form, "ModifyDBInstance"); err != nil {
		return nil, err
	}
	newID := strings.ToLower(form.String("NewDBInstanceIdentifier"))
	if newID != "" {
		if err := checkIdentifier("NewDBInstanceIdentifier", newID); err != nil {
			return nil, err
		}
	}
	password := form.String("MasterUserPassword")
	if form.Has("MasterUserPassword") {
		if err := checkMasterPassword(password); err != nil {
			return nil, err
		}
	}
	if v := form.String("EngineVersion"); v != "" {
		return nil, awswire.Errorf("InvalidParameterCombination", "The twin does not emulate engine version upgrades (EngineVersion %s): its instances run the PostgreSQL installed on this machine.", v)
	}
	now, _ := form.Bool("ApplyImmediately")
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(form.String("DBInstanceIdentifier"))
	if err != nil {
		return nil, err
	}
	if inst.Status != StatusAvailable {
		return nil, awswire.Errorf("InvalidDBInstanceState", "Database instance is not in available state.")
	}
	if newID != "" && newID != inst.ID && s.idTakenLocked(newID) {
		return nil, awswire.Errorf("DBInstanceAlreadyExists", "DB instance already exists")
	}
	retention, hasRetention, err := form.Int("BackupRetentionPeriod")
	if err != nil {
		return nil, err
	}
	if hasRetention && (retention < 0 || retention > 35) {
		return nil, awswire.Errorf("InvalidParameterValue", "Invalid backup retention period %d: must be from 0 to 35.", retention)
	}
	// next is the instance as asked; everything is checked on it before anything changes, so a refused
	// call changes nothing.
	next := *inst
	if c := form.String("DBInstanceClass"); c != "" {
		if err := s.checkClass(c); err != nil {
			return nil, err
		}
		next.Class = c
	}
	if hasRetention {
		next.BackupRetention = retention
	}
	if _, err := s.applyOpsLocked(&next, form, opsModify); err != nil {
		return nil, err
	}
	if v, ok := form.Bool("DeletionProtection"); ok {
		next.DeletionProtection = v
	}
	if v, ok := form.Bool("CopyTagsToSnapshot"); ok {
		next.CopyTagsToSnapshot = v
	}
	if sgs := form.Strings("VpcSecurityGroupIds"); len(sgs) > 0 {
		next.SecurityGroups = sgs
	}
	if pg := form.String("DBParameterGroupName"); pg != "" && pg != inst.ParameterGroup {
		if err := s.attachParameterGroupLocked(&next, pg); err != nil {
			return nil, err
		}
	}
	rename := newID != "" && newID != inst.ID
	// As on RDS, class, storage and the like go through PendingModifiedValues: applied by the modify job
	// at once with ApplyImmediately, else at the maintenance window; so does a rename without it.
	deferLocked(inst, &next)
	if rename && !now {
		if next.Pending == nil {
			next.Pending = &Pending{}
		}
		next.Pending.ID = newID
	}
	opsChanged := !reflect.DeepEqual(next.Ops, inst.Ops)
	*inst = next
	x := instanceXML(inst)
	if password != "" {
		// As on RDS: the new password shows (masked) in PendingModifiedValues while it is applied,
		// soon, whatever ApplyImmediately says.
		inst.MasterPassword = password
		x.PendingModifiedValues.MasterUserPassword = "****"
	}
	switch {
	case rename && now:
		// As on AWS: the answer still shows the old name with the new one pending; the old name is
		// gone at once, and the new one answers only after a while, in status renaming.
		x.PendingModifiedValues.DBInstanceIdentifier = newID
		applyPendingFields(inst)
		s.startRenameLocked(inst, newID)
	case now && inst.Pending != nil, opsChanged:
		// A class or storage change, monitoring, Performance Insights and the like put the instance in
		// modifying for a while.
		s.startModifyLocked(inst, StatusModifying)
	case password != "":
		s.startModifyLocked(inst, StatusResettingCredentials)
	}
	if !rename || !now {
		x.DBInstanceStatus = inst.Status
	}
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return instanceResult{DBInstance: x}, nil
}

func (s *Service) deleteInstance(form awswire.Form) (any, error) {
	skip, _ := form.Bool("SkipFinalSnapshot")
	final := strings.ToLower(form.String("FinalDBSnapshotIdentifier"))
	if skip && final != "" {
		return nil, awswire.Errorf("InvalidParameterCombination", "Cannot specify both SkipFinalSnapshot and FinalDBSnapshotIdentifier.")
	}
	if !skip && final == "" {
		return nil, awswire.Errorf("InvalidParameterCombination", "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.")
	}
	if final != "" {
		if err := checkIdentifier("FinalDBSnapshotIdentifier", final); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(form.String("DBInstanceIdentifier"))
	if err != nil {
		return nil, err
	}
	if inst.DeletionProtection {
		return nil, awswire.Errorf("InvalidParameterCombination", "Cannot delete protected DB Instance, please disable deletion protection and try again.")
	}
	if inst.Status != StatusAvailable && inst.Status != StatusFailed {
		return nil, awswire.Errorf("InvalidDBInstanceState", "Instance %s is already being deleted or is not in available state.", inst.ID)
	}
	if final != "" {
		if _, err := s.snapshotLocked(final); err == nil {
			return nil, awswire.Errorf("DBSnapshotAlreadyExists", "Cannot create the snapshot because a snapshot with the identifier %s already exists.", final)
		}
		if inst.Status == StatusFailed {
			return nil, awswire.Errorf("InvalidDBInstanceState", "Instance %s is in state failed: a final snapshot cannot be taken; use SkipFinalSnapshot.", inst.ID)
		}
		snap := s.newSnapshotLocked(final, inst, SnapshotManual)
		inst.FinalSnapshot = snap.ResourceID
	}
	inst.Status = StatusDeleting
	inst.Job = jobDelete
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	out := instanceResult{DBInstance: instanceXML(inst)}
	s.goJob(func(ctx context.Context) { s.runDelete(ctx, inst.ResourceID) })
	return out, nil
}

// restoreTarget reads what a restore (from a snapshot or to a point in time) asks of its new
// instance: its identifier from idField (stored lowercase, as RDS does), a class RDS offers, and the
// port (0: the source's).
func (s *Service) restoreTarget(form awswire.Form, idField string) (id string, port int, err error) {
	id = strings.ToLower(form.String(idField))
	if err := checkIdentifier(idField, id); err != nil {
		return "", 0, err
	}
	if c := form.String("DBInstanceClass"); c != "" {
		if err := s.checkClass(c); err != nil {
			return "", 0, err
		}
	}
	port, _, err = form.Int("Port")
	return id, port, err
}

func (s *Service) restoreInstance(form awswire.Form) (any, error) {
	if err := refuseKeyChange(form, "RestoreDBInstanceFromDBSnapshot"); err != nil {
		return nil, err
	}
	id, port, err := s.restoreTarget(form, "DBInstanceIdentifier")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, err := s.snapshotLocked(form.String("DBSnapshotIdentifier"))
	if err != nil {
		return nil, err
	}
	if s.idTakenLocked(id) {
		return nil, awswire.Errorf("DBInstanceAlreadyExists", "DB instance already exists")
	}
	if snap.Status != StatusAvailable {
		return nil, awswire.Errorf("InvalidDBSnapshotState", "Snapshot %s is not available (status %s).", snap.ID, snap.Status)
	}
	if snap.Encrypted {
		if _, err := s.resolveKey(snap.KmsKeyID); err != nil {
			return nil, err
		}
	}
	if port == 0 {
		port = snap.Port
	}
	dp, _ := form.Bool("DeletionProtection")
	cts, _ := form.Bool("CopyTagsToSnapshot")
	pub, _ := form.Bool("PubliclyAccessible")
	retention, hasRetention, err := form.Int("BackupRetentionPeriod")
	if err != nil {
		return nil, err
	}
	if !hasRetention {
		retention = 1
	}
	inst := &Instance{
		ID: id, ResourceID: newResourceID("db-"), Status: StatusCreating, Job: jobRestore, RestoreFrom: snap.ResourceID,
		Class: orDefault(form.String("DBInstanceClass"), snap.InstanceClass), Engine: snap.Engine, EngineVersion: snap.EngineVersion,
		MasterUsername: snap.MasterUsername, DBName: snap.DBName, AllocatedStorage: snap.AllocatedStorage,
		StorageType: orDefault(form.String("StorageType"), snap.StorageType), RequestedPort: port,
		ParameterGroup: orDefault(strings.ToLower(form.String("DBParameterGroupName")), defaultParamGroup(s.version)),
		SubnetGroup:    orDefault(form.String("DBSubnetGroupName"), "default"),
		// As on AWS, a restore does not copy the source's security groups: without
		// VpcSecurityGroupIds it gets the VPC's default group.
		SecurityGroups:   form.Strings("VpcSecurityGroupIds"),
		AvailabilityZone: orDefault(form.String("AvailabilityZone"), defaultAZ),
		// Encryption follows the snapshot, and only the snapshot.
		StorageEncrypted: snap.Encrypted, KmsKeyID: snap.KmsKeyID,
		DeletionProtection: dp, CopyTagsToSnapshot: cts, PubliclyAccessible: pub, BackupRetention: retention,
		Tags: readTags(form), Created: s.now().UTC(),
	}
	if len(inst.SecurityGroups) == 0 {
		inst.SecurityGroups = []string{DefaultSecurityGroup}
	}
	// As on AWS, the restored instance keeps the snapshot's option group and provisioned IOPS unless
	// told otherwise; the other operational settings start from the defaults.
	inst.Ops = defaultOps(inst.EngineVersion)
	inst.Ops.OptionGroup = orDefault(snap.OptionGroup, inst.Ops.OptionGroup)
	if snap.StorageType == inst.StorageType {
		inst.Ops.Iops, inst.Ops.StorageThroughput = snap.Iops, snap.StorageThroughput
	}
	return s.admitLocked(inst, form, opsRestore, s.runRestore)
}

// admitLocked takes in a new instance the way create, restore and point-in-time restore all do: its
// parameter group, the request's operational settings, its name-following endpoint, saved, then the job
// that brings it up. s.mu is held.
func (s *Service) admitLocked(inst *Instance, form awswire.Form, call opsCall, job func(context.Context, string)) (any, error) {
	if err := s.attachParameterGroupLocked(inst, inst.ParameterGroup); err != nil {
		return nil, err
	}
	if _, err := s.applyOpsLocked(inst, form, call); err != nil {
		return nil, err
	}
	port, err := s.endpointLocked(inst.ID)
	if err != nil {
		return nil, err
	}
	inst.NamePort = port
	s.st.Instances[inst.ResourceID] = inst
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	out := instanceResult{DBInstance: instanceXML(inst)}
	res := inst.ResourceID
	s.goJob(func(ctx context.Context) { job(ctx, res) })
	return out, nil
}
