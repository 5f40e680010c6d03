package pgdata

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// endOfData is how pg_dump ends every table's COPY data (the terminator and two blank lines): a
// data line is never `\.` alone (a backslash in a value is escaped), so a raw data file that ends
// with it is complete.
const endOfData = "\\.\n\n\n"

// followPoll is how often the dump directory is read for new data files while pg_dump runs.
const followPoll = 25 * time.Millisecond

// follower counts each data file's rows while pg_dump is still writing it, so the count is ready
// when the dump is (it used to be a second pass over every file after pg_dump exited). A file is
// read as it grows; it is known complete when it ends with pg_dump's end-of-data (a raw file) or
// its gzip member ends with a good checksum (a gzip'd one) — or, failing both, when pg_dump has
// exited and the file has been read to its end.
type follower struct {
	dir    string
	exited chan struct{} // closed once pg_dump has exited
	cancel context.CancelFunc
	polled chan struct{} // closed when the directory poller has stopped
	wg     sync.WaitGroup

	mu     sync.Mutex
	seen   map[string]bool
	counts map[string]int64 // data file id → rows
	errs   []error
}

// followDump starts counting the data files pg_dump is about to write into dir.
func followDump(ctx context.Context, dir string) *follower {
	ctx, cancel := context.WithCancel(ctx)
	f := &follower{dir: dir, exited: make(chan struct{}), cancel: cancel, polled: make(chan struct{}),
		seen: map[string]bool{}, counts: map[string]int64{}}
	go f.poll(ctx)
	return f
}

func (f *follower) poll(ctx context.Context) {
	defer close(f.polled)
	tick := time.NewTicker(followPoll)
	defer tick.Stop()
	for {
		f.scan(ctx)
		select {
		case <-f.exited:
			f.scan(ctx) // what was created after the last look
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// scan starts a count for every data file not seen before (the directory may not exist yet).
func (f *follower) scan(ctx context.Context) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		id, ok := dataFileID(e)
		if !ok || f.seen[id] {
			continue
		}
		f.seen[id] = true
		name := filepath.Join(f.dir, e.Name())
		f.wg.Go(func() {
			n, err := f.count(ctx, name)
			f.mu.Lock()
			defer f.mu.Unlock()
			f.counts[id] = n
			if err != nil {
				f.errs = append(f.errs, fmt.Errorf("data file %s of the dump: %w", e.Name(), err))
			}
		})
	}
}

func (f *follower) count(ctx context.Context, name string) (int64, error) {
	fh, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	gz := strings.HasSuffix(name, ".gz")
	fr := &followReader{ctx: ctx, f: fh, exited: f.exited, raw: !gz}
	if !gz {
		return countRows(fr)
	}
	zr, err := gzip.NewReader(bufio.NewReaderSize(fr, 1<<20))
	if err != nil {
		return 0, err
	}
	zr.Multistream(false) // pg_dump writes one member: its end is the file's
	return countRows(zr)
}

// finish waits, once pg_dump has exited successfully, for every file's count (by file id).
func (f *follower) finish() (map[string]int64, error) {
	close(f.exited)
	<-f.polled
	f.wg.Wait()
	f.cancel()
	return f.counts, errors.Join(f.errs...)
}

// abandon stops every count (pg_dump failed).
func (f *follower) abandon() {
	f.cancel()
	<-f.polled
	f.wg.Wait()
}

// dataFileID says which table data file a directory entry is ("1234" for 1234.dat or
// 1234.dat.gz); a large object's file (blob_*) and the table of contents are not.
func dataFileID(e os.DirEntry) (string, bool) {
	id, ok := strings.CutSuffix(strings.TrimSuffix(e.Name(), ".gz"), ".dat")
	if !ok || e.IsDir() || id == "toc" || strings.HasPrefix(id, "blob_") {
		return "", false
	}
	return id, true
}

// followReader reads a file another process is still writing: at its current end it waits for
// more, until the file is complete (raw: it ends with endOfData) or the writer has exited.
type followReader struct {
	ctx    context.Context
	f      *os.File
	exited <-chan struct{}
	raw    bool
	tail   []byte // the last bytes read (raw), to see endOfData
}

func (r *followReader) Read(p []byte) (int, error) {
	for {
		gone := false
		select {
		case <-r.exited:
			gone = true
		default:
		}
		n, err := r.f.Read(p)
		if n > 0 {
			if r.raw {
				r.tail = append(r.tail, p[:n]...)
				if len(r.tail) > len(endOfData) {
					r.tail = append(r.tail[:0], r.tail[len(r.tail)-len(endOfData):]...)
				}
			}
			return n, nil
		}
		if err != io.EOF {
			return 0, err
		}
		if gone || r.raw && string(r.tail) == endOfData {
			return 0, io.EOF
		}
		select {
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		case <-r.exited:
		case <-time.After(followPoll):
		}
	}
}
