package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
)

// stepTimes sums the apply and verify times of the named steps in the one run under state.
func stepTimes(state string, steps []string) (time.Duration, error) {
	ids, err := journal.List(state)
	if err != nil || len(ids) != 1 {
		return 0, fmt.Errorf("want one run in %s, have %v (%v)", state, ids, err)
	}
	run, err := journal.Open(state, ids[0])
	if err != nil {
		return 0, err
	}
	recs, err := journal.ReadAll(run)
	if err != nil {
		return 0, err
	}
	var d time.Duration
	for _, e := range recs {
		if (e.Type == events.StepApplied || e.Type == events.StepVerified) && slices.Contains(steps, e.Step) {
			d += time.Duration(e.Elapsed)
		}
	}
	return d, nil
}
