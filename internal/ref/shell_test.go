package ref

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// A command line built with | sh is read back by /bin/sh as exactly the words meant, whatever the
// values hold: spaces, quotes, $(…), backticks, globs, a leading dash or tilde, an empty value.
func TestShellFilterRoundTripsThroughBinSh(t *testing.T) {
	hostile := []string{
		"/etc/pg backrest/pgbackrest.conf", "it's", `a"b`, `back\slash`, "$(touch /tmp/cairn-pwned)", "`id`",
		"*", "~root", "-n", "", "semi;colon && echo hi | cat > /tmp/x", "tab\there", "plain/path-1.conf",
	}
	look := func(r Ref) (Value, bool) {
		for i, h := range hostile {
			if r.Name == "v"+string(rune('a'+i)) {
				return Value{S: h}, true
			}
		}
		return Value{}, false
	}
	var line strings.Builder
	line.WriteString(`printf '%s\0' `)
	for i := range hostile {
		line.WriteString("${params.v" + string(rune('a'+i)) + " | sh} ")
	}
	tmpl := MustParse(line.String())
	cmd, err := tmpl.Text(look)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", "-c", cmd).Output()
	if err != nil {
		t.Fatalf("sh -c %s: %v", cmd, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, hostile) {
		t.Fatalf("/bin/sh read %q\nfrom %s\nwant %q", got, cmd, hostile)
	}
	// Plain values stay readable: the default archive_command is unchanged by the quoting.
	if q := QuoteShell("/etc/pgbackrest/pgbackrest.conf"); q != "/etc/pgbackrest/pgbackrest.conf" {
		t.Errorf("plain path quoted as %s", q)
	}
	// A secret never goes into a command line, and | sh is not for SQL.
	if _, err := MustParse("x ${params.pw | sh}").Text(lookupOf(vals)); err == nil {
		t.Error("a secret was pasted into a command line")
	}
	if _, _, err := MustParse("SELECT ${params.role | sh}").SQL(lookupOf(vals)); err == nil {
		t.Error("| sh accepted in SQL")
	}
}
