package pgdata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// relayCopy moves one COPY stream from the source connection to the target at the wire level. A
// COPY … TO STDOUT (FORMAT binary) stream is exactly what COPY … FROM STDIN (FORMAT binary) reads,
// and the CopyData messages that carry it are the same on both sides, so runs of them are written
// to the target as they were read from the source, in large blocks, without decoding each row:
// pgx's CopyTo hands over one row per call, and that relay cost about as much CPU as the source
// backend itself, CPU the target backend — the bottleneck of a copy — then did not get on a small
// machine. Both connections are left in their transaction, ready for the next statement; on an
// error they are not (the caller closes them).
func relayCopy(ctx context.Context, sc, tc *pgconn.PgConn, out, in string) (int64, error) {
	for _, c := range []*pgconn.PgConn{sc, tc} {
		if err := c.SyncConn(ctx); err != nil {
			return 0, err
		}
	}
	src, tgt := sc.Conn(), tc.Conn()
	stop := context.AfterFunc(ctx, func() {
		src.SetDeadline(time.Now())
		tgt.SetDeadline(time.Now())
	})
	defer stop()
	wrap := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}

	// the target first: once it is in COPY mode, the source's rows can flow
	tr := &msgReader{conn: tgt, buf: make([]byte, 0, 64<<10)}
	if _, err := tgt.Write(query(in)); err != nil {
		return 0, wrap(fmt.Errorf("target: %w", err))
	}
	for {
		t, body, err := tr.next()
		if err != nil {
			return 0, wrap(fmt.Errorf("target: %w", err))
		}
		if t == 'G' { // CopyInResponse
			break
		}
		if t == 'E' {
			perr := pgError(body)
			if err := tr.until('Z'); err != nil {
				return 0, wrap(err)
			}
			return 0, perr
		}
	}
	// the target answers only at the end, or with an error at any time: listen for it meanwhile
	tres := make(chan relayResult, 1)
	go func() {
		var r relayResult
		for {
			t, body, err := tr.next()
			if err != nil {
				r.err = fmt.Errorf("target: %w", err)
				tres <- r
				return
			}
			switch t {
			case 'E':
				if r.err == nil {
					r.err = pgError(body)
				}
				// it may be mid-copy: stop the source's flow into a connection that refuses it
				tgt.SetWriteDeadline(time.Now())
			case 'C':
				r.rows = copyRows(body)
			case 'Z':
				tres <- r
				return
			}
		}
	}()

	if _, err := src.Write(query(out)); err != nil {
		return 0, wrap(fmt.Errorf("source: %w", err))
	}
	var srcErr error
	buf := make([]byte, 1<<20)
	n, pos, need := 0, 0, 0
	for done := false; !done; {
		// keep the incomplete message at the front, with room for all of it
		n = copy(buf, buf[pos:n])
		pos = 0
		if need > len(buf) {
			nb := make([]byte, need+need/2)
			copy(nb, buf[:n])
			buf = nb
		}
		need = 0
		k, err := src.Read(buf[n:])
		if k == 0 && err != nil {
			return 0, wrap(fmt.Errorf("source: %w", err))
		}
		n += k
		run := -1 // start of a run of CopyData messages handed over as they are
		for n-pos >= 5 {
			t := buf[pos]
			size := 1 + int(binary.BigEndian.Uint32(buf[pos+1:]))
			if size < 5 {
				return 0, fmt.Errorf("source: malformed message %q of length %d", t, size-1)
			}
			if n-pos < size {
				need = size
				break
			}
			if t == 'd' {
				if run < 0 {
					run = pos
				}
				pos += size
				continue
			}
			if run >= 0 {
				if _, err := tgt.Write(buf[run:pos]); err != nil {
					return 0, wrap(targetWriteError(tres, err))
				}
				run = -1
			}
			if t == 'E' && srcErr == nil {
				srcErr = fmt.Errorf("source: %w", pgError(buf[pos+5:pos+size]))
			}
			pos += size
			if t == 'Z' {
				done = true
				break
			}
		}
		if run >= 0 {
			if _, err := tgt.Write(buf[run:pos]); err != nil {
				return 0, wrap(targetWriteError(tres, err))
			}
		}
	}
	if srcErr != nil {
		// end the target's copy without its rows; the caller drops the half-loaded table's
		// transaction by closing the connection
		tgt.Write(copyFail(srcErr.Error()))
		<-tres
		return 0, srcErr
	}
	if _, err := tgt.Write([]byte{'c', 0, 0, 0, 4}); err != nil { // CopyDone
		return 0, wrap(targetWriteError(tres, err))
	}
	r := <-tres
	return r.rows, wrap(r.err)
}

type relayResult struct {
	rows int64
	err  error
}

// targetWriteError prefers the target's own error (it refused the data) to the failed write.
func targetWriteError(tres chan relayResult, werr error) error {
	select {
	case r := <-tres:
		if r.err != nil {
			return r.err
		}
	case <-time.After(5 * time.Second):
	}
	return fmt.Errorf("target: %w", werr)
}

// msgReader reads protocol messages from a connection.
type msgReader struct {
	conn net.Conn
	buf  []byte
	pos  int
}

func (r *msgReader) next() (byte, []byte, error) {
	for {
		if len(r.buf)-r.pos >= 5 {
			size := 1 + int(binary.BigEndian.Uint32(r.buf[r.pos+1:]))
			if size < 5 {
				return 0, nil, errors.New("malformed message")
			}
			if len(r.buf)-r.pos >= size {
				t, body := r.buf[r.pos], r.buf[r.pos+5:r.pos+size]
				r.pos += size
				return t, body, nil
			}
		}
		r.buf = append(r.buf[:0], r.buf[r.pos:]...)
		r.pos = 0
		if cap(r.buf)-len(r.buf) < 8<<10 {
			r.buf = append(r.buf, make([]byte, 64<<10)...)[:len(r.buf)]
		}
		k, err := r.conn.Read(r.buf[len(r.buf):cap(r.buf)])
		r.buf = r.buf[:len(r.buf)+k]
		if k == 0 && err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
	}
}

// until reads and drops messages up to and including one of type t.
func (r *msgReader) until(t byte) error {
	for {
		got, _, err := r.next()
		if err != nil || got == t {
			return err
		}
	}
}

func query(sql string) []byte {
	b := make([]byte, 5, 6+len(sql))
	b[0] = 'Q'
	b = append(b, sql...)
	b = append(b, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	return b
}

func copyFail(msg string) []byte {
	b := make([]byte, 5, 6+len(msg))
	b[0] = 'f'
	b = append(b, strings.ReplaceAll(msg, "\x00", "")...)
	b = append(b, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	return b
}

func pgError(body []byte) error {
	var e pgproto3.ErrorResponse
	if err := e.Decode(body); err != nil {
		return fmt.Errorf("unreadable error response: %w", err)
	}
	return pgconn.ErrorResponseToPgError(&e)
}

// copyRows reads the row count of a CommandComplete "COPY n".
func copyRows(body []byte) int64 {
	tag := strings.TrimRight(string(body), "\x00")
	n, _ := strconv.ParseInt(strings.TrimPrefix(tag, "COPY "), 10, 64)
	return n
}
