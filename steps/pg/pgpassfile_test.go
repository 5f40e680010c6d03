package pg

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// A .pgpass line splits at its unescaped colons only, the password keeping any colon after the
// fourth; kept escapes compare with an escaped key, undone ones are the values libpq uses.
func TestPgpassFields(t *testing.T) {
	line := `db\:1:5432:*:back\\rest:pw:with\:colons`
	if got, want := pgpassFields(line, true), []string{`db\:1`, "5432", "*", `back\\rest`, `pw:with\:colons`}; !slices.Equal(got, want) {
		t.Fatalf("kept escapes: %q, want %q", got, want)
	}
	if got, want := pgpassFields(line, false), []string{"db:1", "5432", "*", `back\rest`, "pw:with:colons"}; !slices.Equal(got, want) {
		t.Fatalf("undone escapes: %q, want %q", got, want)
	}
	if got := pgpassEscape(`back\rest:1`); got != `back\\rest\:1` {
		t.Fatalf("escape: %q", got)
	}
	file := filepath.Join(t.TempDir(), ".pgpass")
	os.WriteFile(file, []byte("# *:*:*:app:commented\n*:*:*:other:no\n"+line+"\n*:*:*:back\\\\rest:second\n"), 0o600)
	if pw, err := PgpassPassword(file, `back\rest`); err != nil || pw != "pw:with:colons" {
		t.Fatalf("password of the first entry: %q %v", pw, err)
	}
	if pw, err := PgpassPassword(file, "app"); err == nil {
		t.Fatalf("a commented-out entry was read: %q", pw)
	}
}
