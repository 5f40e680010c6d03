package journal

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"sort"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// ReadAll reads every complete journal record (not the output log). A torn last line — the process
// died mid-write — is ignored.
func ReadAll(r *Run) ([]events.Event, error) {
	return readFile(r.Path(JournalFile))
}

// ReadOutput reads every output-log record.
func ReadOutput(r *Run) ([]events.Event, error) {
	return readFile(r.Path(OutputFile))
}

func readFile(path string) ([]events.Event, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []events.Event
	rd := bufio.NewReaderSize(f, 64*1024)
	for {
		line, err := rd.ReadBytes('\n')
		if len(line) > 0 && line[len(line)-1] == '\n' {
			var e events.Event
			if json.Unmarshal(line, &e) == nil {
				out = append(out, e)
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
func FollowAfter(ctx context.Context, r *Run, poll time.Duration, after int64) <-chan events.Event {
	ch := make(chan events.Event, 256)
	go func() {
		defer close(ch)
		var offJ, offO int64
		var bufJ, bufO []byte
		finished := false
		for {
			var batch []events.Event
			batch, offJ, bufJ = readNew(r.Path(JournalFile), offJ, bufJ, batch)
			batch, offO, bufO = readNew(r.Path(OutputFile), offO, bufO, batch)
			sort.SliceStable(batch, func(i, j int) bool { return batch[i].Seq < batch[j].Seq })
			for _, e := range batch {
				select {
				case ch <- e:
				case <-ctx.Done():
					return
				}
				if e.Type == events.RunFinished && e.Seq > after {
					finished = true
				}
			}
			if finished {
				// drain what is left of the output log, then stop
				var rest []events.Event
				rest, _, _ = readNew(r.Path(OutputFile), offO, bufO, nil)
				for _, e := range rest {
					select {
					case ch <- e:
					case <-ctx.Done():
						return
					}
				}
				return
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

func readNew(path string, off int64, partial []byte, into []events.Event) ([]events.Event, int64, []byte) {
	f, err := os.Open(path)
	if err != nil {
		return into, off, partial
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return into, off, partial
	}
	b, err := io.ReadAll(f)
	if err != nil || len(b) == 0 {
		return into, off, partial
	}
	off += int64(len(b))
	data := append(partial, b...)
	start := 0
	for i, c := range data {
		if c == '\n' {
			var e events.Event
			if json.Unmarshal(data[start:i], &e) == nil {
				into = append(into, e)
			}
			start = i + 1
		}
	}
	return into, off, append([]byte(nil), data[start:]...)
}
