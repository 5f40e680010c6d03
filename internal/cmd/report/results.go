package report

// What each step found: the steps table's note column and the section under it that lists every
// step's results (events.Result, the words the plain view and the TUI print too).

import (
	"fmt"
	"io"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// maxResults is how many of a step's results the report lists; the rest are in --format json.
const maxResults = 40

// stepNote is a step's note column: its failure, why it was skipped or stopped, how its verify
// ended; with results, how many (they are listed under the table); else what its check said,
// marked as the check's, since it says what the step was about to do, not what it found.
func stepNote(s *events.StepState) string {
	switch {
	case s.Error != nil:
		return s.Error.Summary
	case s.Note != "":
		return s.Note
	case len(s.Results) > 0:
		n := fmt.Sprintf("%d results", len(s.Results))
		if len(s.Results) == 1 {
			n = "1 result"
		}
		switch w := s.Warnings(); w {
		case 0:
		case 1:
			n += ", 1 warning"
		default:
			n += fmt.Sprintf(", %d warnings", w)
		}
		return n + " — below"
	case s.Check != nil && s.Check.Reason != "":
		return "check: " + s.Check.Reason
	}
	return ""
}

// writeResults is the section "What the steps found": per step that said anything after its
// check, its results in order, a warning marked ⚠, a line of several indented under it.
func writeResults(w io.Writer, st *events.RunState) {
	found := false
	for _, s := range st.Steps {
		found = found || len(s.Results) > 0
	}
	if !found {
		return
	}
	fmt.Fprintln(w, "## What the steps found")
	for i, s := range st.Steps {
		if len(s.Results) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n- **%d %s** — %s\n", i+1, s.Info.ID, mdEscape(s.Info.Title))
		for j, r := range s.Results {
			if j == maxResults {
				fmt.Fprintf(w, "  - … and %d more (`cairn report %s --format json` has them all)\n", len(s.Results)-maxResults, st.Info.ID)
				break
			}
			lines := strings.Split(r.String(), "\n")
			fmt.Fprintf(w, "  - %s\n", mdEscape(lines[0]))
			for _, l := range lines[1:] {
				fmt.Fprintf(w, "    %s\n", mdEscape(l))
			}
		}
	}
	fmt.Fprintln(w)
}

// mdEscape keeps a result's text from turning into emphasis or HTML (code spans stay code).
func mdEscape(s string) string { return strings.NewReplacer("*", `\*`, "<", "&lt;").Replace(s) }
