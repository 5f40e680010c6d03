package testbed

import (
	"crypto/rand"
	"strings"
	"testing"
)

const (
	nameAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	nameRandLen  = 6
	nameMaxLen   = 30
)

// UniqueName is prefix plus 6 random characters: lowercase [a-z0-9_], starting with a letter,
// at most 30 characters, so it fits a PostgreSQL identifier, an OS user name and a file name.
// Other characters in prefix become '_'; a long prefix is cut.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range strings.ToLower(prefix) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	p := b.String()
	if p == "" || p[0] < 'a' || p[0] > 'z' {
		p = "x" + p
	}
	if len(p) > nameMaxLen-nameRandLen {
		p = p[:nameMaxLen-nameRandLen]
	}
	return p + randomString(nameRandLen)
}

func randomString(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf) // never fails on Linux
	for i, c := range buf {
		buf[i] = nameAlphabet[int(c)%len(nameAlphabet)]
	}
	return string(buf)
}
