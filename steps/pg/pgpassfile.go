package pg

import (
	"fmt"
	"os"
	"strings"
)

// The .pgpass format libpq reads: one entry a line, `host:port:database:role:password`, a field
// `*` matching anything, `\:` and `\\` escaping a colon and a backslash, lines starting with # ignored.
// The pgpass kind writes and judges entries; pg-role reads a password back.

// pgpassEscape escapes a value for a field.
func pgpassEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
}

// pgpassFields splits a line at its unescaped colons into at most five fields (the password keeps
// any colon after the fourth). With keepEscapes the fields keep their escapes, to compare with an
// escaped key; without, they are the values themselves.
func pgpassFields(line string, keepEscapes bool) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && i+1 < len(line):
			if keepEscapes {
				cur.WriteByte(c)
			}
			i++
			cur.WriteByte(line[i])
		case c == ':' && len(out) < 4:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(out, cur.String())
}

// PgpassPassword finds the password of the first entry for role in a .pgpass file.
func PgpassPassword(file, role string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		f := pgpassFields(line, false)
		if len(f) == 5 && f[3] == role {
			return f[4], nil
		}
	}
	return "", fmt.Errorf("%s has no entry for role %s", file, role)
}
