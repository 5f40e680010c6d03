package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
)

// records reads the journal of the one run under state.
func records(state string) ([]events.Event, error) {
	ids, err := journal.List(state)
	if err != nil || len(ids) != 1 {
		return nil, fmt.Errorf("want one run in %s, have %v (%v)", state, ids, err)
	}
	run, err := journal.Open(state, ids[0])
	if err != nil {
		return nil, err
	}
	return journal.ReadAll(run)
}

// stepTimes sums the apply and verify times of the named steps.
func stepTimes(recs []events.Event, steps []string) time.Duration {
	var d time.Duration
	for _, e := range recs {
		if (e.Type == events.StepApplied || e.Type == events.StepVerified) && slices.Contains(steps, e.Step) {
			d += time.Duration(e.Elapsed)
		}
	}
	return d
}

// stepSeconds reads a step's output that holds seconds ("" when the step or the output is missing).
func stepSeconds(recs []events.Event, step, output string) (time.Duration, bool) {
	for _, e := range recs {
		if e.Type == events.StepApplied && e.Step == step {
			if s, err := strconv.ParseFloat(e.Outputs[output], 64); err == nil {
				return time.Duration(s * float64(time.Second)), true
			}
		}
	}
	return 0, false
}

// window lists the steps from the quiesce on with their apply and verify times, in the order they
// ran: where the window's time goes.
func window(recs []events.Event) string {
	var order []string
	took := map[string]time.Duration{}
	in := false
	for _, e := range recs {
		if e.Type == events.StepApplying && e.Step == "quiesce" {
			in = true
		}
		if !in || e.Type != events.StepApplied && e.Type != events.StepVerified {
			continue
		}
		if _, ok := took[e.Step]; !ok {
			order = append(order, e.Step)
		}
		took[e.Step] += time.Duration(e.Elapsed)
	}
	var parts []string
	for _, s := range order {
		parts = append(parts, fmt.Sprintf("%s %.1fs", s, took[s].Seconds()))
	}
	return strings.Join(parts, ", ")
}
