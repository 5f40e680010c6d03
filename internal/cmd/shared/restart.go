package shared

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
)

// Restart starts a runner again on an existing run (resume: mode "run"; rollback), taking it over
// from a live runner on this host when takeOver, and then watches it as the flags say.
func Restart(ctx context.Context, f *cmdutil.Factory, id, mode string, o RunFlags, takeOver bool) error {
	run, err := journal.Open(f.StateDir(), id)
	if err != nil {
		return err
	}
	// only its creator drives a run, and only one no one else could have changed
	if err := journal.Check(run, journal.ToDrive); err != nil {
		return err
	}
	if holder, alive := journal.Holder(run); alive {
		if !takeOver {
			return &exitcode.Err{Code: exitcode.Locked, Err: fmt.Errorf("run %s is being driven by %s: `cairn attach %s` to watch it, or `cairn resume %s --take-over` to stop that runner (a step in flight is re-checked) and drive the run yourself", run.ID, holder, run.ID, run.ID)}
		}
		if err := takeOverRun(ctx, run, holder, launch.Who(f.Getenv)); err != nil {
			return err
		}
	}
	rb, meta, err := RunRunbook(run)
	if err != nil {
		return err
	}
	interactive := f.IO.CanPrompt() && !o.Detach
	policy, err := o.Policy(interactive)
	if err != nil {
		return err
	}
	meta.Policy = policy
	if err := WriteMeta(run, meta); err != nil {
		return err
	}
	secrets, err := AskSecretsAgain(f, rb, meta, o.SecretFiles)
	if err != nil {
		return err
	}
	after := journal.LastSeq(run)
	if _, err := launch.Start(f.Executable, run, mode, secrets, launch.Environ(rb, os.Environ())); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "run %s: %s started\n", run.ID, mode)
	if o.Detach {
		return nil
	}
	if f.IO.IsTerminal && !o.NoTUI {
		return AttachTUI(ctx, f, run, false, after)
	}
	err = Watch(ctx, f, run, false, after)
	var ec *exitcode.Err
	if mode == "rollback" && errors.As(err, &ec) && ec.Code == exitcode.RolledBack {
		return nil // the rollback that was asked for is done
	}
	return err
}

// WriteMeta rewrites a run's meta.json (the policy of a restarted run).
func WriteMeta(run *journal.Run, m journal.Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return run.WriteFile(journal.MetaFile, b)
}
