package rds

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// RestoreDBInstanceToPointInTime with UseLatestRestorableTime: the new instance is made from a base
// backup of the source's running server, taken when the restore starts — the latest restorable time
// (RDS's lags by up to five minutes; the twin's does not). A RestoreTime in the past is refused with
// the reason: the twin archives no WAL to replay up to it.

func (s *Service) restoreToPointInTime(form awswire.Form) (any, error) {
	if err := refuseKeyChange(form, "RestoreDBInstanceToPointInTime"); err != nil {
		return nil, err
	}
	latest, _ := form.Bool("UseLatestRestorableTime")
	switch {
	case latest && form.Has("RestoreTime"):
		return nil, awswire.Errorf("InvalidParameterCombination", "Cannot specify both RestoreTime and UseLatestRestorableTime.")
	case !latest:
		return nil, awswire.Errorf("InvalidParameterCombination", "The twin restores to the latest restorable time only (UseLatestRestorableTime): it archives no WAL to replay up to RestoreTime %s.", form.String("RestoreTime"))
	}
	id, port, err := s.restoreTarget(form, "TargetDBInstanceIdentifier")
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var src *Instance
	if r := form.String("SourceDbiResourceId"); r != "" {
		if src = s.st.Instances[r]; src == nil {
			return nil, awswire.NotFoundf("DBInstanceNotFound", "DBInstance %s not found.", r)
		}
	} else if src, err = s.instanceLocked(form.String("SourceDBInstanceIdentifier")); err != nil {
		return nil, err
	}
	if src.BackupRetention == 0 {
		return nil, awswire.Errorf("PointInTimeRestoreNotEnabled", "SourceDBInstanceIdentifier %s has BackupRetentionPeriod 0: point-in-time restore is not enabled.", src.ID)
	}
	if !src.Provisioned || src.Status == StatusStopped || src.Status == StatusFailed || src.Status == StatusCreating {
		return nil, awswire.Errorf("InvalidDBInstanceState", "DB instance %s is %s: it cannot be restored to a point in time now.", src.ID, src.Status)
	}
	if s.idTakenLocked(id) {
		return nil, awswire.Errorf("DBInstanceAlreadyExists", "DB instance already exists")
	}
	if port == 0 {
		port = src.RequestedPort
	}
	dp, _ := form.Bool("DeletionProtection")
	cts, _ := form.Bool("CopyTagsToSnapshot")
	pub, _ := form.Bool("PubliclyAccessible")
	retention, hasRetention, err := form.Int("BackupRetentionPeriod")
	if err != nil {
		return nil, err
	}
	if !hasRetention {
		retention = src.BackupRetention
	}
	inst := &Instance{
		ID: id, ResourceID: newResourceID("db-"), Status: StatusCreating, Job: jobRestore, RestoreFromInstance: src.ResourceID,
		Class: orDefault(form.String("DBInstanceClass"), src.Class), Engine: src.Engine, EngineVersion: s.version,
		MasterUsername: src.MasterUsername, DBName: src.DBName, AllocatedStorage: src.AllocatedStorage,
		StorageType: orDefault(form.String("StorageType"), src.StorageType), RequestedPort: port,
		ParameterGroup: orDefault(strings.ToLower(form.String("DBParameterGroupName")), defaultParamGroup(s.version)),
		SubnetGroup:    orDefault(form.String("DBSubnetGroupName"), src.SubnetGroup),
		// As with a restore from a snapshot: the VPC's default security group unless told otherwise.
		SecurityGroups:   form.Strings("VpcSecurityGroupIds"),
		AvailabilityZone: orDefault(form.String("AvailabilityZone"), defaultAZ),
		StorageEncrypted: src.StorageEncrypted, KmsKeyID: src.KmsKeyID,
		DeletionProtection: dp, CopyTagsToSnapshot: cts, PubliclyAccessible: pub, BackupRetention: retention,
		Tags: readTags(form), Created: s.now().UTC(),
	}
	if len(inst.SecurityGroups) == 0 {
		inst.SecurityGroups = []string{DefaultSecurityGroup}
	}
	inst.Ops = defaultOps(inst.EngineVersion)
	inst.Ops.OptionGroup = src.Ops.OptionGroup
	return s.admitLocked(inst, form, opsRestore, s.runRestore)
}

// provisionFromInstance makes a point-in-time restore's cluster from a base backup of the source's
// running server. It reports whether the job goes on.
func (s *Service) provisionFromInstance(ctx context.Context, res string, inst Instance) bool {
	s.mu.Lock()
	c := s.clusters[inst.RestoreFromInstance]
	src := s.st.Instances[inst.RestoreFromInstance]
	s.mu.Unlock()
	if c == nil || src == nil {
		s.failInstance(res, errors.New("the source instance of the point-in-time restore is gone"))
		return false
	}
	nc, err := s.clusterFrom(ctx, inst, src.ID, func(w io.Writer) error { return c.BaseBackup(ctx, w) })
	if ctx.Err() != nil {
		return false
	}
	if err != nil {
		s.failInstance(res, err)
		return false
	}
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok {
			i.Provisioned, i.Port = true, nc.Port
			s.clusters[res] = nc
		}
	})
	return true
}
