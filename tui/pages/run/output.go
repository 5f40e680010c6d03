package run

import (
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/components/logpane"
)

// output keeps each step's output lines (the last logpane.MaxLines of each; the journal has them
// all) and shows one step's in the pane: the current step's.
type output struct {
	byStep map[string][]string // by step id (a foreach's items together)
	shown  string              // the step whose output the pane holds
	pane   *logpane.Model
}

func newOutput(c *common.Common) *output {
	return &output{byStep: map[string][]string{}, pane: logpane.New(c)}
}

// add keeps a line of step key's output, and shows it if that step is on the pane.
func (o *output) add(key, text string) {
	id, _ := events.BaseID(key)
	lines := append(o.byStep[id], text)
	if over := len(lines) - logpane.MaxLines; over > 0 {
		lines = lines[over:]
	}
	o.byStep[id] = lines
	if id == o.shown {
		o.pane.Append(text)
	}
}

// show puts step id's output on the pane (nothing changes if it is there already).
func (o *output) show(id string) {
	if id == o.shown {
		return
	}
	o.shown = id
	o.pane.Reset()
	o.pane.Append(o.byStep[id]...)
}
