package pgdata

import (
	"errors"
	"io"
	"sync"
)

// blockPipe carries a COPY stream from the goroutine reading the source to the one writing the
// target, in blocks, with a few blocks of slack between them. io.Pipe hands each write over
// synchronously, so while the target's side takes a block the source's side stops reading its
// socket and the source backend stalls, and the other way round: on pgbench_accounts that cost a
// third of the copy's wall time (measured against psql | psql on two local clusters).
type blockPipe struct {
	full chan []byte   // filled blocks, in order
	free chan []byte   // emptied blocks, for reuse
	quit chan struct{} // closed when the reader gives up
	size int

	// the writer's side
	cur   []byte
	made  int
	limit int

	// the reader's side
	rd, held []byte

	mu   sync.Mutex
	werr error // why the writer stopped (nil: end of data)
	once sync.Once
}

// errReaderGone is what a write gets once the reading side has stopped.
var errReaderGone = errors.New("the target stopped reading the copy")

// newBlockPipe makes a pipe of blocks of size bytes, at most depth of them filled and waiting.
func newBlockPipe(size, depth int) *blockPipe {
	return &blockPipe{full: make(chan []byte, depth), free: make(chan []byte, depth+2), quit: make(chan struct{}), size: size, limit: depth + 2}
}

// Write copies b into blocks; it blocks only when depth blocks already wait for the reader.
func (p *blockPipe) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		if p.cur == nil {
			blk, err := p.block()
			if err != nil {
				return n - len(b), err
			}
			p.cur = blk
		}
		k := copy(p.cur[len(p.cur):cap(p.cur)], b)
		p.cur = p.cur[:len(p.cur)+k]
		b = b[k:]
		if len(p.cur) == cap(p.cur) {
			if err := p.send(); err != nil {
				return n - len(b), err
			}
		}
	}
	return n, nil
}

func (p *blockPipe) block() ([]byte, error) {
	select {
	case blk := <-p.free:
		return blk[:0], nil
	default:
	}
	if p.made < p.limit {
		p.made++
		return make([]byte, 0, p.size), nil
	}
	select {
	case blk := <-p.free:
		return blk[:0], nil
	case <-p.quit:
		return nil, errReaderGone
	}
}

func (p *blockPipe) send() error {
	select {
	case p.full <- p.cur:
		p.cur = nil
		return nil
	case <-p.quit:
		return errReaderGone
	}
}

// CloseWrite hands over what is buffered and ends the stream: the reader sees err after the
// data, or io.EOF when err is nil.
func (p *blockPipe) CloseWrite(err error) {
	if err == nil && len(p.cur) > 0 {
		err = p.send()
	}
	p.mu.Lock()
	p.werr = err
	p.mu.Unlock()
	close(p.full)
}

// Read returns the stream's bytes in order.
func (p *blockPipe) Read(b []byte) (int, error) {
	for len(p.rd) == 0 {
		if p.held != nil {
			select {
			case p.free <- p.held:
			default:
			}
			p.held = nil
		}
		blk, ok := <-p.full
		if !ok {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.werr != nil {
				return 0, p.werr
			}
			return 0, io.EOF
		}
		p.held, p.rd = blk, blk
	}
	k := copy(b, p.rd)
	p.rd = p.rd[k:]
	return k, nil
}

// CloseRead stops the reading side: a blocked or later Write returns errReaderGone.
func (p *blockPipe) CloseRead() { p.once.Do(func() { close(p.quit) }) }
