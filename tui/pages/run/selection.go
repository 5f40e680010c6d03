package run

// Which step the page shows: the one the run is on (following), or the one the engineer moved to
// with ↑/↓ (k/j) and g; G or end goes back to following.

import "github.com/cairn-runbooks/cairn/internal/events"

// focusIndex is the index of the step the page shows, or -1 before the first record of a step.
// Following, it is the step in flight; when none is (the run ended, or the runner is between
// steps) the last step that ran — not a step not on this path the runner skipped after it.
func (m *Model) focusIndex() int {
	if m.sel >= 0 && m.sel < len(m.rs.Steps) {
		return m.sel
	}
	cur := m.rs.CurrentIndex()
	if cur < 0 {
		return -1
	}
	st := m.rs.Steps[cur]
	if st.Status.Active() || st.Status == events.StatusFailed || st.Status == events.StatusInterrupted || ran(st) {
		return cur
	}
	for i := cur - 1; i >= 0; i-- {
		if ran(m.rs.Steps[i]) {
			return i
		}
	}
	return cur
}

// ran says whether a step did anything this run: applied, verified, failed, rolled back (not
// skipped, not pending).
func ran(st *events.StepState) bool {
	switch st.Status {
	case events.StatusPending, events.StatusSkipped:
		return false
	}
	return true
}

// focus is the step the page shows, or nil.
func (m *Model) focus() *events.StepState {
	if i := m.focusIndex(); i >= 0 {
		return m.rs.Steps[i]
	}
	return nil
}

// move moves the selection by d steps over the rows the list shows (steps not on this path are
// passed over while folded); -1<<30 goes to the first.
func (m *Model) move(d int) {
	rows := m.rows()
	if len(rows) == 0 {
		return
	}
	at := 0
	cur := m.focusIndex()
	for i, r := range rows {
		if r <= cur {
			at = i
		}
	}
	at = min(max(at+d, 0), len(rows)-1)
	m.sel = rows[at]
}

// follow goes back to showing the step the run is on.
func (m *Model) follow() { m.sel = -1 }

// rows are the indexes of the steps the list shows one a line.
func (m *Model) rows() []int {
	var out []int
	for i, st := range m.rs.Steps {
		if m.showOff || st.Info.OffPath == "" || ran(st) {
			out = append(out, i)
		}
	}
	return out
}

// showFocus puts the focused step's output on the pane.
func (m *Model) showFocus() {
	if f := m.focus(); f != nil {
		m.out.show(f.Info.ID)
	}
}
