package rollback

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// A rollback is refused once the run applied a destructive step after its point of no return, or
// succeeded past that point; a run that failed after it (its cut-back is what it is for), or one
// whose point of no return is itself the destructive step (delete-source), is not refused.
func TestBeyondReturn(t *testing.T) {
	rb := &runbooks.Runbook{Steps: []*runbooks.StepSpec{
		{ID: "quiesce", Destructive: true},
		{ID: "delete-source", Destructive: true, PointOfNoReturn: true},
		{ID: "rename-source", PointOfNoReturn: true},
		{ID: "rename-target"},
		{ID: "delete-old", Destructive: true},
	}}
	state := func(status events.RunStatus, done ...string) *events.RunState {
		var infos []events.StepInfo
		for _, s := range rb.Steps {
			infos = append(infos, events.StepInfo{ID: s.ID})
		}
		st := events.NewRunState()
		st.Apply(events.Event{Type: events.RunStarted, Run: &events.RunInfo{Steps: infos}})
		for _, id := range done {
			st.Apply(events.Event{Type: events.StepVerified, Step: id})
		}
		if status != "" {
			st.Apply(events.Event{Type: events.RunFinished, Status: status})
		}
		return st
	}
	for _, c := range []struct {
		name string
		st   *events.RunState
		want string // "" not refused, else a part of why
	}{
		{"failed before the point", state(events.Failed, "quiesce"), ""},
		{"failed after the swap", state(events.Failed, "quiesce", "rename-source", "rename-target"), ""},
		{"the point is itself destructive", state(events.Failed, "quiesce", "delete-source"), ""},
		{"old instance deleted", state(events.Failed, "quiesce", "rename-source", "rename-target", "delete-old"), "it applied delete-old"},
		{"succeeded keeping the old", state(events.Succeeded, "quiesce", "rename-source", "rename-target"), "it succeeded, past its point of no return rename-source"},
		{"succeeded, never past the point", state(events.Succeeded, "quiesce"), ""},
	} {
		got := beyondReturn(rb, c.st)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: beyondReturn = %q, want %q", c.name, got, c.want)
		}
	}
}
