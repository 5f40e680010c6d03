package root

import (
	"context"
	"time"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// runHome opens the TUI's home screen. Until the TUI is wired, it lists runbooks.
func runHome(ctx context.Context, f *cmdutil.Factory, files []string) error {
	c, _, err := catalog(files)
	if err != nil {
		return err
	}
	for _, rb := range c.All() {
		_, _ = f.IO.Out.Write([]byte(rb.Name + "  " + rb.Title + "\n"))
	}
	return nil
}

func runTUI(ctx context.Context, f *cmdutil.Factory, rb *runbooks.Runbook, given map[string]string, o *runOptions, windowEnd time.Time) error {
	o.NoTUI = true
	f.IO.IsTerminal = false
	return nil
}

func attachTUI(ctx context.Context, f *cmdutil.Factory, run *journal.Run, readOnly bool) error {
	return watch(ctx, f, run, readOnly)
}
