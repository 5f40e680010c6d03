package sealed

import (
	"bytes"
	"crypto/rand"
	"io"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	tests := []struct {
		name string
		size int
	}{
		{"empty", 0},
		{"small", 10},
		{"exact chunk", ChunkSize},
		{"several chunks", 3*ChunkSize + 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain := make([]byte, tt.size)
			_, _ = rand.Read(plain)
			var buf bytes.Buffer
			w, err := NewWriter(&buf, key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(plain); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			r, err := NewReader(bytes.NewReader(buf.Bytes()), key)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plain) {
				t.Fatalf("round trip changed %d bytes", tt.size)
			}
		})
	}
}

func TestTamperAndTruncate(t *testing.T) {
	key := make([]byte, 32)
	plain := bytes.Repeat([]byte("canary"), ChunkSize/3)
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, key)
	_, _ = w.Write(plain)
	_ = w.Close()
	sealedBytes := buf.Bytes()
	if bytes.Contains(sealedBytes, []byte("canary")) {
		t.Fatal("plaintext visible in sealed stream")
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"flipped bit", func() []byte { b := bytes.Clone(sealedBytes); b[100] ^= 1; return b }()},
		{"cut short", sealedBytes[:len(sealedBytes)-30]},
		{"last chunk dropped", sealedBytes[:8+4+ChunkSize+16]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tt.data), key)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadAll(r); err == nil {
				t.Fatal("read of a damaged stream succeeded")
			}
		})
	}
}
