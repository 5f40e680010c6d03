package events

import "testing"

// An answer reads as the decision chosen, else the value typed (after the view's own word for a
// typed value), else yes or no, as the person answered — one text for the report and the plain view.
func TestAnswerText(t *testing.T) {
	for _, tt := range []struct {
		a           Answer
		plain, repo string
	}{
		{Answer{Choice: Rollback, Value: "ignored"}, "rollback", "rollback"},
		{Answer{Yes: true, Value: "app-db"}, "app-db", "typed app-db"},
		{Answer{Yes: true}, "yes", "yes"},
		{Answer{}, "no", "no"},
	} {
		if got := tt.a.Text(""); got != tt.plain {
			t.Errorf("%+v as the plain view says it: %q, want %q", tt.a, got, tt.plain)
		}
		if got := tt.a.Text("typed "); got != tt.repo {
			t.Errorf("%+v as the report says it: %q, want %q", tt.a, got, tt.repo)
		}
	}
}
