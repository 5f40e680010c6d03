package journal

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// WriteAnswer drops an answer for the runner to pick up. Approvals from several people each get
// their own file (suffixed with the approver), so none overwrites another.
func WriteAnswer(r *Run, a events.Answer) error {
	name := a.QuestionID
	if a.Choice == "approve" && a.By != nil {
		name += "--" + a.By.User
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	tmp := r.Path(AnswersDir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, r.FileMode()); err != nil {
		return fmt.Errorf("answer: %w (is the run's state directory shared with you?)", err)
	}
	_ = os.Chmod(tmp, r.FileMode())
	return os.Rename(tmp, r.Path(AnswersDir, name+".json"))
}

// TakeAnswers reads and removes the answers written for a question.
func TakeAnswers(r *Run, qid string) []events.Answer {
	matches, _ := filepath.Glob(r.Path(AnswersDir, qid+"--*.json")) // approvals, one per person
	matches = append(matches, r.Path(AnswersDir, qid+".json"))
	sort.Strings(matches)
	var out []events.Answer
	for _, m := range matches {
		b, err := os.ReadFile(m)
		if err != nil {
			continue
		}
		var a events.Answer
		if json.Unmarshal(b, &a) == nil && a.QuestionID == qid {
			out = append(out, a)
		}
		_ = os.Remove(m)
	}
	return out
}

// InboxItem is something dropped in a run's inbox: a note, or a request to pause.
type InboxItem struct {
	Kind string        `json:"kind"` // note | pause
	Text string        `json:"text,omitempty"`
	By   *events.Actor `json:"by,omitempty"`
}

// PostInbox drops an item in the inbox.
func PostInbox(r *Run, it InboxItem) error {
	b, err := json.Marshal(it)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%d-%s", time.Now().UnixNano(), it.Kind)
	tmp := r.Path(InboxDir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, r.FileMode()); err != nil {
		return err
	}
	return os.Rename(tmp, r.Path(InboxDir, name+".json"))
}

// TakeInbox reads and removes the inbox items, oldest first.
func TakeInbox(r *Run) []InboxItem {
	ents, _ := os.ReadDir(r.Path(InboxDir))
	var out []InboxItem
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		p := r.Path(InboxDir, e.Name())
		b, err := os.ReadFile(p)
		if err == nil {
			var it InboxItem
			if json.Unmarshal(b, &it) == nil {
				out = append(out, it)
			}
		}
		_ = os.Remove(p)
	}
	return out
}
