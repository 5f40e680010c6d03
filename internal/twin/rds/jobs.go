package rds

import (
	"context"
	"errors"
	"io"
	"os"
	"time"
)

// The background work behind each status change. Every job reads what it needs under the lock, works
// without it, and records each step, so a restart of the twin resumes from the last recorded step.

func (s *Service) instanceCopy(res string) (Instance, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.st.Instances[res]
	if !ok {
		return Instance{}, false
	}
	return *i, true
}

func (s *Service) failInstance(res string, err error) {
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok {
			i.Status, i.Job, i.StatusInfo = StatusFailed, jobNone, err.Error()
		}
	})
}

// finishCreate gives a provisioned instance its parameter group's settings and moves it through
// backing-up to available.
func (s *Service) finishCreate(ctx context.Context, res string, start time.Time) {
	if err := s.applyGroup(ctx, res); err != nil {
		if ctx.Err() == nil {
			s.failInstance(res, err)
		}
		return
	}
	if !s.sleepUntil(ctx, start.Add(2*s.o.Pace.Step)) {
		return
	}
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok {
			i.Status = StatusBackingUp
		}
	})
	if !s.sleep(ctx, 1) {
		return
	}
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok {
			i.Status, i.Job = StatusAvailable, jobNone
			s.instanceEventLocked(i, "DB instance created", "creation")
		}
	})
}

func (s *Service) runCreate(ctx context.Context, res string) {
	start := s.now()
	inst, ok := s.instanceCopy(res)
	if !ok {
		return
	}
	if !inst.Provisioned {
		c, err := s.provision(ctx, inst)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.failInstance(res, err)
			return
		}
		s.update(func() {
			if i, ok := s.st.Instances[res]; ok {
				i.Provisioned, i.Port, i.MasterPassword = true, c.Port, ""
				s.clusters[res] = c
			}
		})
	}
	s.finishCreate(ctx, res, start)
}

func (s *Service) runRestore(ctx context.Context, res string) {
	start := s.now()
	inst, ok := s.instanceCopy(res)
	if !ok {
		return
	}
	if !inst.Provisioned && inst.RestoreFromInstance != "" {
		if !s.provisionFromInstance(ctx, res, inst) {
			return
		}
	} else if !inst.Provisioned {
		s.mu.Lock()
		snap, ok := s.st.Snapshots[inst.RestoreFrom]
		var sc Snapshot
		if ok {
			sc = *snap
		}
		s.mu.Unlock()
		if !ok {
			s.failInstance(res, errors.New("the snapshot being restored was deleted"))
			return
		}
		c, err := s.restoreCluster(ctx, inst, sc)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.failInstance(res, err)
			return
		}
		s.update(func() {
			if i, ok := s.st.Instances[res]; ok {
				i.Provisioned, i.Port = true, c.Port
				s.clusters[res] = c
			}
		})
	}
	s.finishCreate(ctx, res, start)
}

func (s *Service) runRename(ctx context.Context, res string) {
	inst, ok := s.instanceCopy(res)
	if !ok || !s.resetPassword(ctx, inst) || !s.sleepUntil(ctx, inst.RenameDoneAt) {
		return
	}
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok && i.Job == jobRename {
			i.Status, i.Job = StatusAvailable, jobNone
			s.instanceEventLocked(i, "Renamed instance to "+i.ID, "configuration change")
		}
	})
}

// runModify applies a modification — a new master password, the pending modifications — and gives
// the instance its available status back once it is done.
func (s *Service) runModify(ctx context.Context, res string) {
	inst, ok := s.instanceCopy(res)
	if !ok || !s.resetPassword(ctx, inst) || !s.sleepUntil(ctx, inst.ModifyDoneAt) {
		return
	}
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok && i.Job == jobModify {
			if i.Pending != nil && i.Pending.Class != "" {
				s.instanceEventLocked(i, "Finished applying modification to DB instance class", "configuration change")
			}
			if i.Pending != nil && (i.Pending.AllocatedStorage != 0 || i.Pending.StorageType != "" || i.Pending.Iops != nil) {
				s.instanceEventLocked(i, "Finished applying modification to allocated storage", "configuration change")
			}
			applyPendingFields(i)
			i.Status, i.Job = StatusAvailable, jobNone
		}
	})
}

// resetPassword applies a new master password the instance holds, then forgets it. It reports
// whether the job goes on (false once the twin closes); a failure fails the instance.
func (s *Service) resetPassword(ctx context.Context, inst Instance) bool {
	if inst.MasterPassword == "" || !inst.Provisioned {
		return ctx.Err() == nil
	}
	if err := s.setMasterPassword(ctx, inst.ResourceID, inst.MasterUsername, inst.MasterPassword); err != nil {
		if ctx.Err() == nil {
			s.failInstance(inst.ResourceID, err)
		}
		return false
	}
	s.update(func() {
		if i, ok := s.st.Instances[inst.ResourceID]; ok && i.MasterPassword == inst.MasterPassword {
			i.MasterPassword = ""
			s.instanceEventLocked(i, "Reset master credentials", "configuration change")
		}
	})
	return ctx.Err() == nil
}

func (s *Service) runDelete(ctx context.Context, res string) {
	start := s.now()
	inst, ok := s.instanceCopy(res)
	if !ok {
		return
	}
	if inst.FinalSnapshot != "" {
		s.takeSnapshot(ctx, inst.FinalSnapshot, false)
		if ctx.Err() != nil {
			return
		}
	}
	s.mu.Lock()
	c := s.clusters[res]
	s.mu.Unlock()
	if c != nil {
		if err := c.Remove(ctx); err != nil && ctx.Err() == nil {
			s.failInstance(res, err)
			return
		}
	} else {
		_ = os.RemoveAll(s.clusterDir(res))
	}
	if !s.sleepUntil(ctx, start.Add(2*s.o.Pace.Step)) {
		return
	}
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok {
			s.instanceEventLocked(i, "DB instance deleted", "deletion")
		}
		delete(s.st.Instances, res)
		delete(s.clusters, res)
	})
}

// runSnapshot takes a manual snapshot and gives the instance back its available status.
func (s *Service) runSnapshot(ctx context.Context, snapRes string) {
	s.takeSnapshot(ctx, snapRes, true)
}

// takeSnapshot writes the snapshot's files from its instance's running cluster, raising
// PercentProgress as it goes. release puts the instance back to available when done.
func (s *Service) takeSnapshot(ctx context.Context, snapRes string, release bool) {
	start := s.now()
	s.mu.Lock()
	snap, ok := s.st.Snapshots[snapRes]
	if !ok || snap.Status == StatusAvailable {
		s.mu.Unlock()
		return
	}
	sc := *snap
	c := s.clusters[sc.DbiResourceID]
	s.mu.Unlock()
	done := s.progress(ctx, snapRes)
	var err error
	if c == nil {
		err = errors.New("the instance's cluster is not running")
	} else {
		err = s.writeSnapshot(ctx, sc, c.BaseBackup)
	}
	close(done)
	s.settleSnapshot(ctx, snapRes, start, err, func() {
		if i, ok := s.st.Instances[sc.DbiResourceID]; ok && release && i.Job == jobSnapshot {
			i.Status, i.Job = StatusAvailable, jobNone
			if sc.Type == SnapshotAutomated && err == nil {
				s.instanceEventLocked(i, "Finished DB Instance backup", "backup")
			}
		}
		if err == nil && sc.Type == SnapshotManual {
			s.eventLocked("db-snapshot", sc.ID, "Manual snapshot created", "creation")
		}
	})
}

func (s *Service) runCopy(ctx context.Context, snapRes string) {
	start := s.now()
	s.mu.Lock()
	snap, ok := s.st.Snapshots[snapRes]
	if !ok {
		s.mu.Unlock()
		return
	}
	sc := *snap
	src, srcOK := s.st.Snapshots[sc.SourceResourceID]
	var srcCopy Snapshot
	if srcOK {
		srcCopy = *src
	}
	s.mu.Unlock()
	done := s.progress(ctx, snapRes)
	var err error
	if !srcOK {
		err = errors.New("the source snapshot was deleted")
	} else {
		err = s.writeSnapshot(ctx, sc, func(ctx context.Context, w io.Writer) error {
			return s.readSnapshot(srcCopy, w)
		})
	}
	close(done)
	s.settleSnapshot(ctx, snapRes, start, err, func() {})
}

// settleSnapshot records how writing snapRes's files ended: after a success it waits until three
// steps from start, then marks the snapshot available at 100%; after err, failed with err's text.
// also runs in the same update. Nothing is recorded once ctx has ended.
func (s *Service) settleSnapshot(ctx context.Context, snapRes string, start time.Time, err error, also func()) {
	if ctx.Err() != nil {
		return
	}
	if err == nil {
		s.sleepUntil(ctx, start.Add(3*s.o.Pace.Step))
	}
	s.update(func() {
		if sn, ok := s.st.Snapshots[snapRes]; ok {
			if err != nil {
				sn.Status, sn.StatusInfo, sn.Job = StatusFailed, err.Error(), jobNone
			} else {
				sn.Status, sn.Progress, sn.Job = StatusAvailable, 100, jobNone
			}
		}
		also()
	})
}

// progress raises a snapshot's PercentProgress once a step until done is closed (never past 90).
func (s *Service) progress(ctx context.Context, snapRes string) chan struct{} {
	done := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(s.o.Pace.Step)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				s.update(func() {
					if sn, ok := s.st.Snapshots[snapRes]; ok && sn.Progress < 90 {
						sn.Progress = min(90, sn.Progress+30)
					}
				})
			}
		}
	}()
	return done
}
