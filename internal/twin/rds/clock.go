package rds

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// The twin's clock is the machine's plus an offset that tests (and rehearsals) move forward with
// AdvanceClock, so what RDS does at the windows — pending modifications at the weekly maintenance
// window, automated snapshots at the daily backup window — is seen without waiting for them. The
// offset is kept with the state. Every pace step (and at once after AdvanceClock) the twin acts on
// the windows that began since it last looked.

// Now is the twin's time.
func (s *Service) Now() time.Time { return s.now() }

func (s *Service) clockNow() time.Time {
	return time.Now().Add(time.Duration(s.offset.Load()))
}

// AdvanceClock moves the twin's clock forward by d and acts on the windows passed; it returns the
// twin's new time.
func (s *Service) AdvanceClock(d time.Duration) (time.Time, error) {
	if d < 0 {
		return time.Time{}, fmt.Errorf("the twin's clock only moves forward (asked %s)", d)
	}
	s.mu.Lock()
	s.st.Clock += d
	s.offset.Store(int64(s.st.Clock))
	err := s.saveLocked()
	s.mu.Unlock()
	s.tick()
	return s.now(), err
}

// runClock ticks every pace step until the twin closes.
func (s *Service) runClock(ctx context.Context) {
	t := time.NewTicker(s.o.Pace.Step)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.tick()
		}
	}
}

// tick acts on the windows that began since the last tick: an available instance with pending
// modifications gets them at its maintenance window, and one with backups on (retention > 0) gets an
// automated snapshot at its backup window; automated snapshots older than the retention go.
func (s *Service) tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	last := s.st.LastTick
	s.st.LastTick = now
	if last.IsZero() {
		return
	}
	// The state is saved only when a window is acted on: after a restart, windows since the last
	// saved tick are acted on then.
	changed := false
	ids := make([]string, 0, len(s.st.Instances))
	for res := range s.st.Instances {
		ids = append(ids, res)
	}
	sort.Strings(ids)
	for _, res := range ids {
		inst := s.st.Instances[res]
		if m, err := parseMaintenanceWindow(inst.Ops.MaintenanceWindow); err == nil && windowBegan(m, week, last, now) && !inst.Pending.empty() {
			inst.MaintenanceDue, changed = true, true
		}
		if b, err := parseBackupWindow(inst.Ops.BackupWindow); err == nil && inst.BackupRetention > 0 && windowBegan(b, day, last, now) {
			inst.BackupDue, changed = true, true
		}
		// A window that began while the instance was busy is acted on once it is available again:
		// the backup first, then the maintenance.
		if inst.Status != StatusAvailable {
			continue
		}
		switch {
		case inst.BackupDue:
			inst.BackupDue, changed = false, true
			s.automatedSnapshotLocked(inst, now)
		case inst.MaintenanceDue:
			inst.MaintenanceDue, changed = false, true
			s.maintainLocked(inst)
		}
	}
	if s.expireAutomatedLocked(now) || changed {
		_ = s.saveLocked()
	}
}

// windowBegan reports whether a window of the period (day or week, in minutes from midnight or from
// Monday midnight, UTC) began in (from, to].
func windowBegan(w span, period int, from, to time.Time) bool {
	if !to.After(from) {
		return false
	}
	origin := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC)
	if period == week {
		origin = origin.AddDate(0, 0, -((int(origin.Weekday()) + 6) % 7)) // back to Monday
	}
	for start := origin.Add(time.Duration(w.start) * time.Minute); !start.After(to); start = start.Add(time.Duration(period) * time.Minute) {
		if start.After(from) {
			return true
		}
	}
	return false
}
