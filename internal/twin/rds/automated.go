package rds

import (
	"context"
	"time"
)

// SnapshotAutomated is the type of the snapshots RDS takes at the backup window.
const SnapshotAutomated = "automated"

// automatedSnapshotLocked starts the backup window's snapshot of an available instance, named as RDS
// names them (rds:<instance>-<yyyy>-<mm>-<dd>-<hh>-<mi>).
func (s *Service) automatedSnapshotLocked(inst *Instance, at time.Time) {
	if inst.Status != StatusAvailable {
		return
	}
	id := "rds:" + inst.ID + at.UTC().Format("-2006-01-02-15-04")
	if _, err := s.snapshotLocked(id); err == nil {
		return
	}
	snap := s.newSnapshotLocked(id, inst, SnapshotAutomated)
	s.instanceEventLocked(inst, "Backing up DB instance", "backup")
	inst.Status, inst.Job = StatusBackingUp, jobSnapshot
	res := snap.ResourceID
	s.goJob(func(ctx context.Context) { s.runSnapshot(ctx, res) })
}

// expireAutomatedLocked deletes automated snapshots older than their instance's retention, and those
// of instances that are gone (the twin keeps no retained automated backups).
func (s *Service) expireAutomatedLocked(now time.Time) (expired bool) {
	for res, sn := range s.st.Snapshots {
		if sn.Type != SnapshotAutomated || sn.Status != StatusAvailable {
			continue
		}
		inst, ok := s.st.Instances[sn.DbiResourceID]
		if ok && inst.BackupRetention > 0 && now.Sub(sn.Created) <= time.Duration(inst.BackupRetention)*24*time.Hour {
			continue
		}
		delete(s.st.Snapshots, res)
		dir := s.snapshotDir(res)
		s.goJob(func(context.Context) { removeAll(dir) })
		expired = true
	}
	return expired
}
