// Package sealed encrypts a byte stream with AES-256-GCM in fixed-size chunks, so a snapshot of any size
// is sealed without holding it in memory. Each chunk has its own nonce (a random prefix plus the chunk's
// number) and says whether it is the last, so chunks cannot be reordered, dropped or cut off unnoticed.
//
// Stream layout: magic "csl1", 4-byte nonce prefix, then chunks: 4-byte big-endian ciphertext length,
// ciphertext (plaintext of at most ChunkSize bytes plus the 16-byte tag). The last chunk may be empty.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ChunkSize is the plaintext size of every chunk but the last.
const ChunkSize = 64 << 10

const magic = "csl1"

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("sealed: key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealed: %w", err)
	}
	return cipher.NewGCM(block)
}

func nonce(prefix []byte, n uint64) []byte {
	out := make([]byte, 12)
	copy(out, prefix)
	binary.BigEndian.PutUint64(out[4:], n)
	return out
}

func aad(last bool) []byte {
	if last {
		return []byte{1}
	}
	return []byte{0}
}

// Writer seals what is written to it; Close writes the last chunk and must be called.
type Writer struct {
	w      io.Writer
	aead   cipher.AEAD
	prefix []byte
	n      uint64
	buf    []byte
	closed bool
}

// NewWriter starts a sealed stream on w with a 32-byte key.
func NewWriter(w io.Writer, key []byte) (*Writer, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	prefix := make([]byte, 4)
	if _, err := rand.Read(prefix); err != nil {
		return nil, fmt.Errorf("sealed: nonce prefix: %w", err)
	}
	if _, err := w.Write(append([]byte(magic), prefix...)); err != nil {
		return nil, fmt.Errorf("sealed: write header: %w", err)
	}
	return &Writer{w: w, aead: aead, prefix: prefix, buf: make([]byte, 0, ChunkSize)}, nil
}

func (s *Writer) Write(p []byte) (int, error) {
	if s.closed {
		return 0, errors.New("sealed: write after close")
	}
	written := 0
	for len(p) > 0 {
		k := min(ChunkSize-len(s.buf), len(p))
		s.buf = append(s.buf, p[:k]...)
		p = p[k:]
		written += k
		if len(s.buf) == ChunkSize && len(p) > 0 {
			if err := s.flush(false); err != nil {
				return written, err
			}
		}
	}
	return written, nil
}

func (s *Writer) flush(last bool) error {
	ct := s.aead.Seal(nil, nonce(s.prefix, s.n), s.buf, aad(last))
	s.n++
	s.buf = s.buf[:0]
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(ct)))
	if _, err := s.w.Write(hdr[:]); err != nil {
		return fmt.Errorf("sealed: write chunk: %w", err)
	}
	if _, err := s.w.Write(ct); err != nil {
		return fmt.Errorf("sealed: write chunk: %w", err)
	}
	return nil
}

// Close seals the last chunk. It does not close the underlying writer.
func (s *Writer) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.flush(true)
}

// Reader opens a sealed stream; it fails if the stream was altered or cut short.
type Reader struct {
	r      io.Reader
	aead   cipher.AEAD
	prefix []byte
	n      uint64
	buf    []byte
	done   bool
}

// NewReader opens a sealed stream on r with the key it was sealed with.
func NewReader(r io.Reader, key []byte) (*Reader, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, 8)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("sealed: read header: %w", err)
	}
	if string(hdr[:4]) != magic {
		return nil, errors.New("sealed: not a sealed stream")
	}
	return &Reader{r: r, aead: aead, prefix: hdr[4:]}, nil
}

func (s *Reader) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		if s.done {
			return 0, io.EOF
		}
		if err := s.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

func (s *Reader) next() error {
	var hdr [4]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		return fmt.Errorf("sealed: stream cut short: %w", io.ErrUnexpectedEOF)
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size > ChunkSize+uint32(s.aead.Overhead()) {
		return errors.New("sealed: chunk too large")
	}
	ct := make([]byte, size)
	if _, err := io.ReadFull(s.r, ct); err != nil {
		return fmt.Errorf("sealed: stream cut short: %w", io.ErrUnexpectedEOF)
	}
	nc := nonce(s.prefix, s.n)
	if plain, err := s.aead.Open(nil, nc, ct, aad(false)); err == nil {
		s.buf, s.n = plain, s.n+1
		return nil
	}
	plain, err := s.aead.Open(nil, nc, ct, aad(true))
	if err != nil {
		return errors.New("sealed: chunk failed authentication")
	}
	s.buf, s.n, s.done = plain, s.n+1, true
	return nil
}
