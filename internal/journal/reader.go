package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// ReadAll reads every journal record (not the output log). A last line with no newline is a record
// being written, or torn by a runner that died mid-write: it is not read (the next writer sets it
// aside, OpenWriter). Any other line that is not a record is an error naming it: the journal is
// damaged there, and nothing is skipped past it.
func ReadAll(r *Run) ([]events.Event, error) {
	return readFile(r, JournalFile, true)
}

// ReadOutput reads every output-log record. The output log is not fsync'd per line, so a line a
// crash left half-written is skipped.
func ReadOutput(r *Run) ([]events.Event, error) {
	return readFile(r, OutputFile, false)
}

func readFile(r *Run, name string, strict bool) ([]events.Event, error) {
	f, err := r.OpenFile(name, os.O_RDONLY)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []events.Event
	rd := bufio.NewReaderSize(f, 64*1024)
	for n := 1; ; n++ {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var e events.Event
			if jerr := json.Unmarshal(line, &e); jerr == nil {
				out = append(out, e)
			} else if strict {
				return out, &Refusal{
					Summary: fmt.Sprintf("run %s: %s line %d is not a journal record (%v)", r.ID, r.Path(name), n, jerr),
					Detail:  "the journal is damaged there; cairn reads no further rather than guess what happened after it",
					State:   fmt.Sprintf("the %d records before it are intact; nothing was run or changed", len(out)),
					Next:    fmt.Sprintf("look at it: sed -n %dp %s", n, r.Path(name)),
				}
			}
		}
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}

// Follow replays a run's journal and output log from the start, then follows both as they grow,
// sending records in sequence order until ctx ends or the run finishes (the channel is then closed).
func Follow(ctx context.Context, r *Run, poll time.Duration) <-chan events.Event {
	return FollowAfter(ctx, r, poll, 0)
}

// LastSeq is the sequence number of the run's last journal record (0 for none).
func LastSeq(r *Run) int64 {
	recs, _ := ReadAll(r)
	if len(recs) == 0 {
		return 0
	}
	return recs[len(recs)-1].Seq
}

// FollowAfter is Follow for a run that is being started again (resume, rollback): a run.finished
// record at or before seq after belongs to an earlier runner and does not end the stream.
//
// The stream ends at the run.finished of the run's last runner: a run interrupted and resumed
// has a run.finished from each earlier runner, each superseded by the run.resumed (or
// run.taken-over) the next runner journals first. A run.finished ends the stream only once no
// runner holds the run's lock (Holder) — a runner that just took the run up again holds it before
// it journals its start — and nothing follows it in the journal. A runner that dies without a word
// ends the stream too, with a runner.gone record (gone.go).
func FollowAfter(ctx context.Context, r *Run, poll time.Duration, after int64) <-chan events.Event {
	ch := make(chan events.Event, 256)
	go func() {
		defer close(ch)
		var offJ, offO int64
		finished := false // the last run-level record after seq after is a run.finished
		st := events.NewRunState()
		watch := &runnerWatch{r: r, started: time.Now()}
		for {
			// asked before reading: a runner journals run.finished before it lets go of its lock,
			// and takes the lock before it journals its start
			li, gone := watch.gone(time.Now())
			held := false
			if finished {
				_, held = Holder(r)
			}
			wasFinished := finished
			var batch []events.Event
			batch, offJ = readNew(r, JournalFile, offJ, batch)
			batch, offO = readNew(r, OutputFile, offO, batch)
			sort.SliceStable(batch, func(i, j int) bool { return batch[i].Seq < batch[j].Seq })
			for _, e := range batch {
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
				st.Apply(e)
				if e.Seq > after && e.Type != events.OutputLine && e.Type != events.Progressed {
					watch.seen = true // a runner wrote it; none is still to start
				}
				switch {
				case e.Type == events.RunFinished && e.Seq > after:
					finished = true
				case e.Type == events.RunResumed || e.Type == events.RunTakenOver:
					finished = false // a later runner took the run up again
				}
			}
			if gone && !finished {
				select {
				case ch <- runnerGone(r, st, li, time.Now()):
				case <-ctx.Done():
				}
				return
			}
			if finished && wasFinished && !held && len(batch) == 0 {
				// drain what is left of the output log, then stop
				var rest []events.Event
				rest, _ = readNew(r, OutputFile, offO, nil)
				for _, e := range rest {
					select {
					case ch <- e:
					case <-ctx.Done():
						return
					}
				}
				return
			}
			if finished && !wasFinished {
				continue // ask at once whether a runner still holds the run
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(poll):
			}
		}
	}()
	return ch
}

// readNew reads the whole lines written at or after off and returns the offset just past the last
// of them. A line still being written is not consumed but read again next time: a runner that
// starts on a torn journal cuts that line off and appends after its last whole record, which is
// exactly where a follower then goes on reading.
func readNew(r *Run, name string, off int64, into []events.Event) ([]events.Event, int64) {
	f, err := r.OpenFile(name, os.O_RDONLY)
	if err != nil {
		return into, off
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, off, 1<<62))
	if err != nil || len(b) == 0 {
		return into, off
	}
	start := 0
	for i, c := range b {
		if c == '\n' {
			var e events.Event
			if json.Unmarshal(b[start:i], &e) == nil {
				into = append(into, e)
			}
			start = i + 1
		}
	}
	return into, off + int64(start)
}
