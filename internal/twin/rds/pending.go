package rds

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Pending are the modifications RDS keeps in PendingModifiedValues when ModifyDBInstance is called
// without ApplyImmediately: they wait for the instance's next maintenance window (see clock.go). The
// other members of ModifyDBInstance (security groups, deletion protection, windows, monitoring, …)
// apply at once, as on RDS.
type Pending struct {
	ID                string `json:",omitempty"` // NewDBInstanceIdentifier
	Class             string `json:",omitempty"`
	AllocatedStorage  int    `json:",omitempty"`
	StorageType       string `json:",omitempty"`
	Iops              *int   `json:",omitempty"`
	StorageThroughput *int   `json:",omitempty"`
	CACertificate     string `json:",omitempty"`
	BackupRetention   *int   `json:",omitempty"`
}

func (p *Pending) empty() bool { return p == nil || *p == Pending{} }

// deferLocked splits a modification: next is the instance as the call asks it to be (checked); what
// RDS applies through PendingModifiedValues (class, storage, CA, turning backups on or off) is taken
// back out of next into next.Pending, to be applied by the modify job (at once with ApplyImmediately,
// else at the maintenance window).
func deferLocked(inst, next *Instance) {
	p := Pending{}
	if inst.Pending != nil {
		p = *inst.Pending
	}
	if next.Class != inst.Class {
		p.Class, next.Class = next.Class, inst.Class
	}
	if next.AllocatedStorage != inst.AllocatedStorage {
		p.AllocatedStorage, next.AllocatedStorage = next.AllocatedStorage, inst.AllocatedStorage
	}
	if next.StorageType != inst.StorageType {
		p.StorageType, next.StorageType = next.StorageType, inst.StorageType
	}
	if next.Ops.Iops != inst.Ops.Iops {
		v := next.Ops.Iops
		p.Iops, next.Ops.Iops = &v, inst.Ops.Iops
	}
	if next.Ops.StorageThroughput != inst.Ops.StorageThroughput {
		v := next.Ops.StorageThroughput
		p.StorageThroughput, next.Ops.StorageThroughput = &v, inst.Ops.StorageThroughput
	}
	if next.Ops.CACertificate != inst.Ops.CACertificate {
		p.CACertificate, next.Ops.CACertificate = next.Ops.CACertificate, inst.Ops.CACertificate
	}
	// A retention change between two non-zero values applies at once; turning backups on or off waits.
	if next.BackupRetention != inst.BackupRetention && (next.BackupRetention == 0) != (inst.BackupRetention == 0) {
		v := next.BackupRetention
		p.BackupRetention, next.BackupRetention = &v, inst.BackupRetention
	}
	next.Pending = nil
	if !p.empty() {
		next.Pending = &p
	}
}

// applyPendingFields moves an instance's pending modifications (but a new identifier) onto it.
func applyPendingFields(inst *Instance) {
	p := inst.Pending
	if p == nil {
		return
	}
	if p.Class != "" {
		inst.Class = p.Class
	}
	if p.AllocatedStorage != 0 {
		inst.AllocatedStorage = p.AllocatedStorage
	}
	if p.StorageType != "" {
		inst.StorageType = p.StorageType
	}
	if p.Iops != nil {
		inst.Ops.Iops = *p.Iops
	}
	if p.StorageThroughput != nil {
		inst.Ops.StorageThroughput = *p.StorageThroughput
	}
	if p.CACertificate != "" {
		inst.Ops.CACertificate = p.CACertificate
	}
	if p.BackupRetention != nil {
		inst.BackupRetention = *p.BackupRetention
	}
	inst.Pending = nil
	if p.ID != "" {
		inst.Pending = &Pending{ID: p.ID}
	}
}

// maintainLocked applies an available instance's pending modifications, as its maintenance window
// does: a pending new identifier renames it (the other modifications apply with it), else it is
// modifying for two pace steps and then has them.
func (s *Service) maintainLocked(inst *Instance) {
	if inst.Pending.empty() || inst.Status != StatusAvailable {
		return
	}
	if id := inst.Pending.ID; id != "" {
		applyPendingFields(inst)
		inst.Pending = nil
		if id != inst.ID && !s.idTakenLocked(id) {
			s.startRenameLocked(inst, id)
		}
		return
	}
	s.startModifyLocked(inst, StatusModifying)
}

// startModifyLocked puts inst in status for two pace steps (modifying, or resetting-master-credentials),
// while its modify job does the work.
func (s *Service) startModifyLocked(inst *Instance, status string) {
	if inst.Pending != nil && inst.Pending.Class != "" {
		s.instanceEventLocked(inst, "Applying modification to database instance class", "configuration change")
	}
	inst.Status, inst.Job = status, jobModify
	inst.ModifyDoneAt = s.now().Add(2 * s.o.Pace.Step)
	res := inst.ResourceID
	s.goJob(func(ctx context.Context) { s.runModify(ctx, res) })
}

// startRenameLocked renames inst as AWS does: the old name is gone at once, the new one answers only
// after a while, in status renaming.
func (s *Service) startRenameLocked(inst *Instance, newID string) {
	t := s.now()
	inst.ID = newID
	inst.NamePort, _ = s.endpointLocked(newID) // 0 (the cluster's own port is described) if it cannot listen
	inst.Status = StatusRenaming
	inst.Job = jobRename
	inst.HiddenUntil = t.Add(3 * s.o.Pace.Step)
	inst.RenameDoneAt = t.Add(6 * s.o.Pace.Step)
	res := inst.ResourceID
	s.goJob(func(ctx context.Context) { s.runRename(ctx, res) })
}

// setMasterPassword gives the master user a new password in the instance's cluster, as rdsadmin.
func (s *Service) setMasterPassword(ctx context.Context, res, user, password string) error {
	s.mu.Lock()
	c := s.clusters[res]
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("reset the master password: the instance's cluster is not running")
	}
	conn, err := pgx.Connect(ctx, c.ConnString("postgres", AdminUser))
	if err != nil {
		return fmt.Errorf("reset the master password: connect as %s: %w", AdminUser, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER ROLE %s PASSWORD %s", pgx.Identifier{user}.Sanitize(), quoteLiteral(password))); err != nil {
		return fmt.Errorf("reset the master password of %s: %w", user, err)
	}
	return nil
}
