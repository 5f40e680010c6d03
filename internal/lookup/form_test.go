package lookup_test

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/cairn-runbooks/cairn/internal/lookup"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/tui"
)

// probe lets the test read the screen of the running program.
type probe struct{ tui.Model }

type screenReq chan string

func (p probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if r, ok := msg.(screenReq); ok {
		r <- ansi.Strip(p.Model.View().Content)
		return p, nil
	}
	m, cmd := p.Model.Update(msg)
	return probe{m.(tui.Model)}, cmd
}

// formOffers opens the built-in rds-encrypt form with the real lookups (on whatever AWS the
// environment points at) and waits, field by field, for each want to be on screen without typing.
func formOffers(t *testing.T, want map[string][]string, order ...string) {
	t.Helper()
	c, err := runbooks.LoadCatalog(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	rb, err := c.Get("rds-encrypt")
	if err != nil {
		t.Fatal(err)
	}
	tm := teatest.NewTestModel(t, probe{tui.New(tui.Deps{Lookup: lookup.Run, Target: "rehearsal twin"},
		tui.WithRunbook(rb), tui.WithAltScreen(false), tui.WithoutAnimation())},
		teatest.WithInitialTermSize(120, 40), teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
	defer tm.Quit()
	for i, field := range order {
		if i > 0 {
			tm.Send(tea.KeyPressMsg{Code: tea.KeyEnter})
		}
		wantOnScreen(t, tm, append([]string{"┃ " + field}, want[field]...))
	}
}

func wantOnScreen(t *testing.T, tm *teatest.TestModel, want []string) {
	t.Helper()
	var s string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		r := make(screenReq, 1)
		tm.Send(r)
		s = <-r
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(s, w)
		}
		if ok {
			return
		}
	}
	t.Fatalf("the form never showed %q; last screen:\n%s", want, s)
}
