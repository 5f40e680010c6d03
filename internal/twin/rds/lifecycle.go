package rds

import (
	"context"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// RebootDBInstance, StopDBInstance and StartDBInstance. A reboot restarts the instance's server with
// its parameter group's settings (the static ones included: ParameterApplyStatus goes back to
// in-sync); a stop stops the server (the endpoint refuses connections) until a start.

// applyGroup writes the instance's parameter group settings into its server and, when there are any,
// restarts it so the static ones apply too.
func (s *Service) applyGroup(ctx context.Context, res string) error {
	s.mu.Lock()
	inst, ok := s.st.Instances[res]
	var settings map[string]string
	if ok {
		settings = s.groupSettingsLocked(inst)
	}
	c := s.clusters[res]
	s.mu.Unlock()
	if !ok || c == nil || len(settings) == 0 && inst.ParamApply == "" {
		return nil
	}
	if err := s.setParams(ctx, res, settings, true); err != nil {
		return err
	}
	if err := c.Restart(ctx); err != nil {
		return fmt.Errorf("restart with the parameter group's settings: %w", err)
	}
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok {
			i.ParamApply = ""
		}
	})
	return nil
}

func (s *Service) rebootInstance(form awswire.Form) (any, error) {
	if v, _ := form.Bool("ForceFailover"); v {
		return nil, awswire.Errorf("InvalidParameterCombination", "ForceFailover applies to Multi-AZ instances only; the twin's instances are single-AZ.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(form.String("DBInstanceIdentifier"))
	if err != nil {
		return nil, err
	}
	if inst.Status != StatusAvailable {
		return nil, awswire.Errorf("InvalidDBInstanceState", "DB instance %s is not in available state.", inst.ID)
	}
	if inst.ParamApply == applyPendingReboot {
		inst.ParamApply = applyApplying
	}
	return s.beginLocked(inst, StatusRebooting, jobReboot, s.runReboot)
}

func (s *Service) runReboot(ctx context.Context, res string) {
	start := s.now()
	s.mu.Lock()
	inst, ok := s.st.Instances[res]
	var settings map[string]string
	if ok {
		settings = s.groupSettingsLocked(inst)
	}
	c := s.clusters[res]
	s.mu.Unlock()
	if !ok {
		return
	}
	err := fmt.Errorf("reboot: the instance's cluster is not running")
	if c != nil {
		if err = s.setParams(ctx, res, settings, true); err == nil {
			err = c.Restart(ctx)
		}
	}
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.failInstance(res, err)
		return
	}
	if !s.sleepUntil(ctx, start.Add(2*s.o.Pace.Step)) {
		return
	}
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok && i.Job == jobReboot {
			i.Status, i.Job, i.ParamApply = StatusAvailable, jobNone, ""
			s.instanceEventLocked(i, "DB instance restarted", "availability")
		}
	})
}

func (s *Service) stopInstance(form awswire.Form) (any, error) {
	if form.String("DBSnapshotIdentifier") != "" {
		return nil, awswire.Errorf("InvalidParameterCombination", "The twin does not take a snapshot on StopDBInstance; call CreateDBSnapshot first.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(form.String("DBInstanceIdentifier"))
	if err != nil {
		return nil, err
	}
	if inst.Status != StatusAvailable {
		return nil, awswire.Errorf("InvalidDBInstanceState", "Instance %s is not in available state.", inst.ID)
	}
	return s.beginLocked(inst, StatusStopping, jobStop, s.runStop)
}

func (s *Service) runStop(ctx context.Context, res string) {
	s.runPower(ctx, res, jobStop, (*pgcluster.Cluster).Stop, StatusStopped, "DB instance stopped")
}

// runPower is a stop or a start: the instance's server stopped or started, the pace's two steps, then
// the status it ends in (unless another job took the instance meanwhile).
func (s *Service) runPower(ctx context.Context, res string, j job, act func(*pgcluster.Cluster, context.Context) error, done, event string) {
	start := s.now()
	s.mu.Lock()
	c := s.clusters[res]
	s.mu.Unlock()
	if c != nil {
		if err := act(c, ctx); err != nil {
			if ctx.Err() == nil {
				s.failInstance(res, err)
			}
			return
		}
	}
	if !s.sleepUntil(ctx, start.Add(2*s.o.Pace.Step)) {
		return
	}
	s.update(func() {
		if i, ok := s.st.Instances[res]; ok && i.Job == j {
			i.Status, i.Job = done, jobNone
			s.instanceEventLocked(i, event, "notification")
		}
	})
}

func (s *Service) startInstance(form awswire.Form) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inst, err := s.instanceLocked(form.String("DBInstanceIdentifier"))
	if err != nil {
		return nil, err
	}
	if inst.Status != StatusStopped {
		return nil, awswire.Errorf("InvalidDBInstanceState", "Instance %s is not stopped, it is %s.", inst.ID, inst.Status)
	}
	return s.beginLocked(inst, StatusStarting, jobStart, s.runStart)
}

func (s *Service) runStart(ctx context.Context, res string) {
	s.runPower(ctx, res, jobStart, (*pgcluster.Cluster).Start, StatusAvailable, "DB instance started")
}

// beginLocked puts inst into status for job j, saves the state, and runs the job in the background
// (run gets the instance's resource id); the answer is the instance as it now stands. s.mu is held.
func (s *Service) beginLocked(inst *Instance, status string, j job, run func(context.Context, string)) (any, error) {
	inst.Status, inst.Job = status, j
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	res := inst.ResourceID
	s.goJob(func(ctx context.Context) { run(ctx, res) })
	return instanceResult{DBInstance: instanceXML(inst)}, nil
}
