package events

import (
	"fmt"
	"strings"
	"time"
)

// StepStatus is where a step stands, as views show it.
type StepStatus string

// Step statuses.
const (
	StatusPending     StepStatus = "pending"
	StatusChecking    StepStatus = "checking"
	StatusRunning     StepStatus = "running"
	StatusVerifying   StepStatus = "verifying"
	StatusWaiting     StepStatus = "waiting for you"
	StatusDone        StepStatus = "done"
	StatusSkipped     StepStatus = "skipped"
	StatusFailed      StepStatus = "failed"
	StatusRollingBack StepStatus = "rolling back"
	StatusRolledBack  StepStatus = "rolled back"
	StatusInterrupted StepStatus = "interrupted" // the runner stopped while it was in flight
)

// StepState is one step folded from the records.
type StepState struct {
	Info     StepInfo
	Status   StepStatus
	Check    *CheckInfo
	Item     string // current foreach item
	Started  time.Time
	Elapsed  time.Duration // apply+verify time so far (finished phases)
	Outputs  map[string]string
	Error    *Diag
	Progress *Progress
	Note     string // why skipped, etc.
	// Results are what the step said it found or did after its check (see Result), in order.
	Results []Result
	// FirstApplied is when the step's apply first started (an earlier runner's, when one died in it)
	// and Finished when it was verified: the step's time from its first start, dead runners included.
	FirstApplied, Finished time.Time
	// Lost is the apply+verify time runners that died in this step spent in it, up to each one's last
	// record (so at least this much; Elapsed, filled by the runners that finished their phases,
	// does not hold it).
	Lost time.Duration
	// Stopped is the apply+verify time runners stopped in this step (step.interrupted: SIGTERM,
	// ctrl-c) spent in it before they stopped; Elapsed does not hold it either.
	Stopped time.Duration
	// phaseStart is when the apply or verify in flight started (zero when none is).
	phaseStart time.Time
}

// FromFirstStart is the time from the step's first start (an earlier runner's, when one died in it)
// to its end, dead runners included; ok is false until it has both.
func (st *StepState) FromFirstStart() (d time.Duration, ok bool) {
	if st.FirstApplied.IsZero() || st.Finished.IsZero() {
		return 0, false
	}
	return st.Finished.Sub(st.FirstApplied), true
}

// Death is a runner that stopped without a final record — SIGKILL, a crash, the machine going down —
// as the next runner's resume or take-over shows it: the run had not finished when it took over.
type Death struct {
	Step  string     // the step in flight, as its key ("" between steps)
	After string     // between steps: the last step worked on
	Phase StepStatus // the in-flight step's status then: running, verifying, checking, …
	// LastHeard is the dead runner's last record (journal or output log): it died after this.
	LastHeard time.Time
	Lost      time.Duration // of the step's apply or verify, the part up to LastHeard
	Resumed   time.Time     // when the next runner took the run up
	By        Type          // RunResumed or RunTakenOver
}

// RunState is a whole run folded from its records: what every view draws.
type RunState struct {
	Info   RunInfo
	Steps  []*StepState
	Open   *Question // the question waiting for an answer, if any
	Status RunStatus // "" while running (or its runner died without a word); then how it ended
	// FinishNote qualifies the final status (e.g. steps left undone by the engineer's choice).
	FinishNote string
	Started    time.Time
	Last       time.Time
	Notes      []Event
	Answers    []Event
	Resumes    int
	Deaths     []Death // runners that stopped without a final record, in order
	LastSeq    int64
	gone       bool // a view saw the runner die (RunnerGone)
	byID       map[string]*StepState
	curIndex   int
}

// NewRunState returns an empty state; feed it records with Apply.
func NewRunState() *RunState { return &RunState{byID: map[string]*StepState{}, curIndex: -1} }

// BaseID strips a foreach item from a step key: "dump[app]" → "dump", "app".
func BaseID(key string) (id, item string) {
	if i := strings.IndexByte(key, '['); i > 0 && strings.HasSuffix(key, "]") {
		return key[:i], key[i+1 : len(key)-1]
	}
	return key, ""
}

// Step finds a step by id or key.
func (s *RunState) Step(key string) *StepState {
	id, _ := BaseID(key)
	return s.byID[id]
}

// Current is the step being worked on (or last worked on); nil before the first.
func (s *RunState) Current() *StepState {
	if s.curIndex < 0 || s.curIndex >= len(s.Steps) {
		return nil
	}
	return s.Steps[s.curIndex]
}

// CurrentIndex is the index of Current, or -1.
func (s *RunState) CurrentIndex() int { return s.curIndex }

// Apply folds one record into the state.
func (s *RunState) Apply(e Event) {
	if e.Seq > s.LastSeq {
		s.LastSeq = e.Seq
	}
	lastHeard := s.Last
	s.Last = e.Time
	switch e.Type {
	case RunStarted:
		if e.Run == nil {
			return
		}
		s.Info = *e.Run
		s.Started = e.Time
		s.Steps = nil
		s.byID = map[string]*StepState{}
		for _, si := range e.Run.Steps {
			st := &StepState{Info: si, Status: StatusPending}
			s.Steps = append(s.Steps, st)
			s.byID[si.ID] = st
		}
		return
	case RunResumed, RunTakenOver:
		if s.Status == "" || s.gone {
			s.died(e, lastHeard)
		}
		s.Resumes++
		s.Status, s.FinishNote, s.gone = "", "", false
		return
	case RunFinished:
		s.Status = e.Status
		s.FinishNote = e.Note
		s.Open = nil
		return
	case RunnerGone:
		// the view ends as an interrupted run, which it is; the journal itself stays unfinished
		s.Status, s.Open, s.gone = Interrupted, nil, true
		if e.Error != nil {
			s.FinishNote = e.Error.Summary
		}
		if st := s.Step(e.Step); st != nil && st.Status != StatusDone && st.Status != StatusSkipped {
			st.Status, st.Progress = StatusInterrupted, nil
			st.Note = s.FinishNote
		}
		return
	case Note:
		s.Notes = append(s.Notes, e)
		return
	case QuestionAsked:
		s.Open = e.Question
		if st := s.Step(e.Step); st != nil && e.Question != nil && e.Question.Kind != AskDecision {
			st.Status = StatusWaiting
		}
		return
	case QuestionAnswered:
		if s.Open != nil && e.Answer != nil && e.Answer.QuestionID == s.Open.ID {
			s.Open = nil
		}
		s.Answers = append(s.Answers, e)
		return
	}
	st := s.Step(e.Step)
	if st == nil {
		return
	}
	for i, x := range s.Steps {
		if x == st {
			s.curIndex = i
		}
	}
	_, item := BaseID(e.Step)
	if item != "" {
		st.Item = item
	}
	switch e.Type {
	case StepChecking:
		st.Status = StatusChecking
		st.Error = nil
		if st.Started.IsZero() {
			st.Started = e.Time
		}
	case StepChecked:
		st.Check = e.Check
	case StepSkipped:
		st.Status = StatusSkipped
		st.Note = e.Note
	case StepApplying:
		st.Status = StatusRunning
		st.Progress = nil
		st.phaseStart = e.Time
		if st.FirstApplied.IsZero() {
			st.FirstApplied = e.Time
		}
	case StepApplied:
		st.phaseStart = time.Time{}
		st.Elapsed += e.Elapsed
		if len(e.Outputs) > 0 {
			if st.Outputs == nil {
				st.Outputs = map[string]string{}
			}
			for k, v := range e.Outputs {
				st.Outputs[k] = v
			}
		}
	case StepVerifying:
		st.Status = StatusVerifying
		st.phaseStart = e.Time
	case StepVerified:
		if e.Note != "" {
			st.Note = e.Note
		}
		st.Elapsed += e.Elapsed
		st.Status = StatusDone
		st.Progress = nil
		st.phaseStart, st.Finished = time.Time{}, e.Time
	case StepFailed:
		st.phaseStart = time.Time{}
		st.Status = StatusFailed
		st.Error = e.Error
	case StepRollingBack:
		st.Status = StatusRollingBack
	case StepRolledBack:
		st.Status = StatusRolledBack
	case StepRollbackFailed:
		st.Status = StatusFailed
		st.Error = e.Error
	case StepInterrupted:
		if !st.phaseStart.IsZero() {
			st.Stopped += e.Time.Sub(st.phaseStart)
			st.phaseStart = time.Time{}
		}
		st.Status = StatusInterrupted
		st.Note = e.Note
		st.Progress = nil
	case Progressed:
		st.Progress = e.Progress
	case OutputLine:
		st.addResult(e.Line)
	}
}

// died records that the runner before the resume or take-over e stopped without a final record,
// lastHeard being its last record: the step it was in (or the one it had finished last), and the
// apply or verify time it spent there, which no later record carries.
func (s *RunState) died(e Event, lastHeard time.Time) {
	d := Death{LastHeard: lastHeard, Resumed: e.Time, By: e.Type}
	if cur := s.Current(); cur != nil {
		switch cur.Status {
		case StatusChecking, StatusRunning, StatusVerifying, StatusWaiting, StatusRollingBack, StatusInterrupted:
			d.Step, d.Phase = cur.Info.ID, cur.Status
			if cur.Item != "" {
				d.Step += "[" + cur.Item + "]"
			}
			if !cur.phaseStart.IsZero() && lastHeard.After(cur.phaseStart) {
				d.Lost = lastHeard.Sub(cur.phaseStart)
				cur.Lost += d.Lost
			}
			cur.phaseStart = time.Time{}
		default:
			d.After = cur.Info.ID
		}
	}
	s.Deaths = append(s.Deaths, d)
}

// DiedIn says whether a runner died while step id (any of its items) was in flight.
func (s *RunState) DiedIn(id string) bool {
	for _, d := range s.Deaths {
		if base, _ := BaseID(d.Step); d.Step != "" && base == id {
			return true
		}
	}
	return false
}

// String says where the runner died and what is known of when: after its last record, before the
// next runner took over.
func (d Death) String() string {
	where := "between steps, before any step"
	switch {
	case d.Step != "":
		where = fmt.Sprintf("during step %s (%s)", d.Step, d.Phase)
	case d.After != "":
		where = "between steps, after " + d.After
	}
	text := fmt.Sprintf("%s, with no final record (killed or crashed) — after its last record at %s", where, d.LastHeard.UTC().Format(time.RFC3339))
	if d.Lost > 0 {
		phase := "apply"
		if d.Phase == StatusVerifying {
			phase = "verify"
		}
		text += fmt.Sprintf(", %s into the step's %s", d.Lost.Round(100*time.Millisecond), phase)
	}
	verb := "resumed"
	if d.By == RunTakenOver {
		verb = "taken over"
	}
	return text + fmt.Sprintf("; %s at %s", verb, d.Resumed.UTC().Format(time.RFC3339))
}

// Counts tallies steps by status.
func (s *RunState) Counts() map[StepStatus]int {
	m := map[StepStatus]int{}
	for _, st := range s.Steps {
		m[st.Status]++
	}
	return m
}
