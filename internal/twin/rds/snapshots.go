package rds

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// newSnapshotLocked records a snapshot of inst in status creating; the caller starts its job.
func (s *Service) newSnapshotLocked(id string, inst *Instance, typ string) *Snapshot {
	now := s.now().UTC()
	snap := &Snapshot{
		ID: id, ResourceID: newResourceID("snap-"), Status: StatusCreating, Job: jobSnapshot,
		InstanceID: inst.ID, DbiResourceID: inst.ResourceID, InstanceClass: inst.Class, DBName: inst.DBName,
		Engine: inst.Engine, EngineVersion: inst.EngineVersion, MasterUsername: inst.MasterUsername,
		Port: inst.RequestedPort, AllocatedStorage: inst.AllocatedStorage, StorageType: inst.StorageType,
		AvailabilityZone: inst.AvailabilityZone, ParameterGroup: inst.ParameterGroup, SubnetGroup: inst.SubnetGroup,
		Encrypted: inst.StorageEncrypted, KmsKeyID: inst.KmsKeyID, Type: typ,
		OptionGroup: inst.Ops.OptionGroup, Iops: inst.Ops.Iops, StorageThroughput: inst.Ops.StorageThroughput, IAMAuth: inst.Ops.IAMAuth,
		Created: now, InstanceCreated: inst.Created, OriginalCreateTime: now,
	}
	if inst.CopyTagsToSnapshot {
		snap.Tags = slices.Clone(inst.Tags)
	}
	s.st.Snapshots[snap.ResourceID] = snap
	return snap
}

func (s *Service) createSnapshot(form awswire.Form) (any, error) {
	id := strings.ToLower(form.String("DBSnapshotIdentifier"))
	if err := checkIdentifier("DBSnapshotIdentifier", id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.snapshotLocked(id); err == nil {
		return nil, awswire.Errorf("DBSnapshotAlreadyExists", "Cannot create the snapshot because a snapshot with the identifier %s already exists.", id)
	}
	inst, err := s.instanceLocked(form.String("DBInstanceIdentifier"))
	if err != nil {
		return nil, err
	}
	if inst.Status != StatusAvailable {
		return nil, awswire.Errorf("InvalidDBInstanceState", "Cannot create a snapshot because the database instance %s is not currently in the available state.", inst.ID)
	}
	snap := s.newSnapshotLocked(id, inst, SnapshotManual)
	if tags := readTags(form); len(tags) > 0 {
		snap.Tags = tags
	}
	inst.Status = StatusBackingUp
	inst.Job = jobSnapshot
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	out := snapshotResult{DBSnapshot: snapshotXML(snap)}
	s.goJob(func(ctx context.Context) { s.runSnapshot(ctx, snap.ResourceID) })
	return out, nil
}

func (s *Service) describeSnapshots(form awswire.Form) (any, error) {
	max, filters, err := describeParams(form, "db-instance-id", "db-snapshot-id", "dbi-resource-id", "snapshot-type", "engine")
	if err != nil {
		return nil, err
	}
	if v := form.String("DBInstanceIdentifier"); v != "" {
		filters["db-instance-id"] = append(filters["db-instance-id"], v)
	}
	if v := form.String("SnapshotType"); v != "" {
		filters["snapshot-type"] = append(filters["snapshot-type"], v)
	}
	if v := form.String("DbiResourceId"); v != "" {
		filters["dbi-resource-id"] = append(filters["dbi-resource-id"], v)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*Snapshot
	if id := form.String("DBSnapshotIdentifier"); id != "" {
		sn, err := s.snapshotLocked(id)
		if err != nil {
			return nil, err
		}
		list = []*Snapshot{sn}
	} else {
		for _, sn := range s.st.Snapshots {
			list = append(list, sn)
		}
	}
	sort.Slice(list, func(a, b int) bool { return list[a].ID < list[b].ID })
	var out snapshotsResult
	marker := form.String("Marker")
	for _, sn := range list {
		instARN := (&Instance{ID: sn.InstanceID}).ARN()
		if !match(filters["db-instance-id"], sn.InstanceID, instARN) || !match(filters["db-snapshot-id"], sn.ID, sn.ARN()) ||
			!match(filters["dbi-resource-id"], sn.DbiResourceID) || !match(filters["snapshot-type"], sn.Type) ||
			!match(filters["engine"], sn.Engine) {
			continue
		}
		if marker != "" && sn.ID < marker {
			continue
		}
		if len(out.DBSnapshots.Items) == max {
			out.Marker = sn.ID
			break
		}
		out.DBSnapshots.Items = append(out.DBSnapshots.Items, snapshotXML(sn))
	}
	return out, nil
}

func (s *Service) copySnapshot(form awswire.Form) (any, error) {
	target := strings.ToLower(form.String("TargetDBSnapshotIdentifier"))
	if err := checkIdentifier("TargetDBSnapshotIdentifier", target); err != nil {
		return nil, err
	}
	keyRef := form.String("KmsKeyId")
	copyTags, _ := form.Bool("CopyTags")
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := s.snapshotLocked(form.String("SourceDBSnapshotIdentifier"))
	if err != nil {
		return nil, err
	}
	if _, err := s.snapshotLocked(target); err == nil {
		return nil, awswire.Errorf("DBSnapshotAlreadyExists", "Cannot create the snapshot because a snapshot with the identifier %s already exists.", target)
	}
	if src.Status != StatusAvailable {
		return nil, awswire.Errorf("InvalidDBSnapshotState", "Snapshot %s is not in available state (status %s).", src.ID, src.Status)
	}
	cp := *src
	cp.ID, cp.ResourceID, cp.Status, cp.Job, cp.Progress = target, newResourceID("snap-"), StatusCreating, jobCopy, 0
	cp.SourceResourceID, cp.SourceSnapshotARN = src.ResourceID, src.ARN()
	cp.Created = s.now().UTC()
	cp.Tags = nil
	if copyTags {
		cp.Tags = slices.Clone(src.Tags)
	}
	if tags := readTags(form); len(tags) > 0 {
		cp.Tags = tags
	}
	if src.Encrypted {
		// Reading an encrypted source needs its key too.
		if _, err := s.resolveKey(src.KmsKeyID); err != nil {
			return nil, err
		}
	}
	if keyRef != "" {
		arn, err := s.resolveKey(keyRef)
		if err != nil {
			return nil, err
		}
		cp.Encrypted, cp.KmsKeyID = true, arn
	}
	s.st.Snapshots[cp.ResourceID] = &cp
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	out := snapshotResult{DBSnapshot: snapshotXML(&cp)}
	s.goJob(func(ctx context.Context) { s.runCopy(ctx, cp.ResourceID) })
	return out, nil
}

func (s *Service) deleteSnapshot(form awswire.Form) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap, err := s.snapshotLocked(form.String("DBSnapshotIdentifier"))
	if err != nil {
		return nil, err
	}
	if snap.Type == SnapshotAutomated {
		return nil, awswire.Errorf("InvalidDBSnapshotState", "Only manual snapshots may be deleted.")
	}
	if snap.Status != StatusAvailable && snap.Status != StatusFailed {
		return nil, awswire.Errorf("InvalidDBSnapshotState", "Cannot delete the snapshot because it is not in available state (status %s).", snap.Status)
	}
	for _, i := range s.st.Instances {
		if i.Job == jobRestore && i.RestoreFrom == snap.ResourceID {
			return nil, awswire.Errorf("InvalidDBSnapshotState", "Cannot delete the snapshot because an instance is being restored from it.")
		}
	}
	for _, o := range s.st.Snapshots {
		if o.Job == jobCopy && o.SourceResourceID == snap.ResourceID {
			return nil, awswire.Errorf("InvalidDBSnapshotState", "Cannot delete the snapshot because it is being copied.")
		}
	}
	snap.Status = StatusDeleting
	out := snapshotResult{DBSnapshot: snapshotXML(snap)}
	delete(s.st.Snapshots, snap.ResourceID)
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	dir := s.snapshotDir(snap.ResourceID)
	s.goJob(func(ctx context.Context) { removeAll(dir) })
	return out, nil
}
