package pgdata

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

func TestBlockPipeCarriesEveryByteInOrder(t *testing.T) {
	for _, tc := range []struct {
		name              string
		size, depth, data int
		maxWrite          int
	}{
		{"empty", 16, 2, 0, 8},
		{"less than a block", 64, 2, 10, 8},
		{"exact blocks", 16, 2, 64, 16},
		{"writes larger than blocks", 16, 1, 1000, 100},
		{"row-sized writes", 1024, 4, 200000, 120},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := make([]byte, tc.data)
			r := rand.New(rand.NewPCG(1, uint64(tc.data)))
			for i := range src {
				src[i] = byte(r.IntN(256))
			}
			p := newBlockPipe(tc.size, tc.depth)
			go func() {
				rest := src
				for len(rest) > 0 {
					k := min(len(rest), 1+r.IntN(tc.maxWrite))
					if _, err := p.Write(rest[:k]); err != nil {
						p.CloseWrite(err)
						return
					}
					rest = rest[k:]
				}
				p.CloseWrite(nil)
			}()
			got, err := io.ReadAll(p)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if !bytes.Equal(got, src) {
				t.Fatalf("got %d bytes, want %d, or the content differs", len(got), len(src))
			}
		})
	}
}

func TestBlockPipeWriterErrorReachesReaderAfterData(t *testing.T) {
	p := newBlockPipe(8, 2)
	boom := errors.New("source connection lost")
	go func() {
		p.Write([]byte("0123456789"))
		p.CloseWrite(boom)
	}()
	got, err := io.ReadAll(p)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
	if string(got) != "01234567" { // the full block; the partial one is not handed over on error
		t.Fatalf("got %q", got)
	}
}

func TestBlockPipeCloseReadUnblocksWriter(t *testing.T) {
	p := newBlockPipe(4, 1)
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := p.Write([]byte("abcd")); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(10 * time.Millisecond) // the writer fills the slack and blocks
	p.CloseRead()
	select {
	case err := <-done:
		if !errors.Is(err, errReaderGone) {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("writer still blocked after CloseRead")
	}
}
