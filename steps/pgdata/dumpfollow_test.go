package pgdata

import (
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// rowsText is n rows of COPY text data (one with an escaped newline and backslash).
func rowsText(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&b, "%d\tvalue %d\\nwith \\\\ and a tab\\t%s\n", i, i, strings.Repeat(" ", 40))
	}
	return b.String()
}

// appendTo writes chunks to a file with pauses, as pg_dump does while the server sends rows.
func appendTo(t *testing.T, name string, chunks ...string) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	for _, c := range chunks {
		if _, err := f.WriteString(c); err != nil {
			t.Error(err)
		}
		time.Sleep(3 * followPoll)
	}
}

func TestFollowerCountsFilesWhilePgDumpWritesThem(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "pgb.dir") // pg_dump creates it
	f := followDump(ctx, dir)
	written := make(chan struct{})
	go func() {
		defer close(written)
		time.Sleep(2 * followPoll)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Error(err)
			return
		}
		appendTo(t, filepath.Join(dir, "toc.dat"), "not data")
		appendTo(t, filepath.Join(dir, "blob_7.dat"), "a large object\n")
		// a raw file in three writes, the last one ending with pg_dump's end-of-data
		appendTo(t, filepath.Join(dir, "3001.dat"), rowsText(0, 700), rowsText(700, 300), endOfData)
		// a gzip'd file flushed in parts, as zlib writes it
		gzf, err := os.Create(filepath.Join(dir, "3002.dat.gz"))
		if err != nil {
			t.Error(err)
			return
		}
		zw := gzip.NewWriter(gzf)
		for _, part := range []string{rowsText(0, 250), rowsText(250, 250), endOfData} {
			zw.Write([]byte(part))
			zw.Flush()
			time.Sleep(3 * followPoll)
		}
		zw.Close()
		gzf.Close()
	}()

	// a complete file is counted without waiting for pg_dump to exit
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		n, ok := f.counts["3001"]
		f.mu.Unlock()
		if ok {
			if n != 1000 {
				t.Fatalf("3001.dat counted %d rows while written, want 1000", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a raw file ending with pg_dump's end-of-data was not counted before pg_dump exited")
		}
		time.Sleep(followPoll)
	}
	<-written
	counts, err := f.finish()
	if err != nil {
		t.Fatal(err)
	}
	if len(counts) != 2 || counts["3001"] != 1000 || counts["3002"] != 500 {
		t.Fatalf("counts %v, want 3001:1000 3002:500 (no toc, no large object)", counts)
	}
}

func TestFollowerFailsOnATruncatedGzipFileAndStopsWhenAbandoned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	zf, err := os.Create(filepath.Join(dir, "3003.dat.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(zf)
	zw.Write([]byte(rowsText(0, 100)))
	zw.Flush() // no trailer: pg_dump died before closing the file
	zf.Close()
	if _, err := followDump(ctx, dir).finish(); err == nil || !strings.Contains(err.Error(), "3003.dat.gz") {
		t.Fatalf("a gzip file cut short was not reported: %v", err)
	}

	// pg_dump failed while a file was half written: the count stops instead of waiting for more
	if err := os.WriteFile(filepath.Join(dir, "3004.dat"), []byte(rowsText(0, 10)), 0o600); err != nil {
		t.Fatal(err)
	}
	f := followDump(ctx, dir)
	time.Sleep(3 * followPoll)
	stopped := make(chan struct{})
	go func() { f.abandon(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("abandon did not stop the count of a half-written file")
	}
}
