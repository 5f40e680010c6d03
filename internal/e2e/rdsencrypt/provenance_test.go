package rdsencrypt_test

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/twin"
)

// A rehearsal on one twin (demo data, 3000 rows), then the real run against another source (4500
// rows) with the same explicit dump-dir: the second run stops at the globals dump — before the
// quiesce or anything else changes — naming the rehearsal's file and the fix; the rehearsal's
// files are untouched and the source is as it was. Moved aside as the fix says, a new run dumps its
// own source afresh and the encrypted instance holds that source's rows, never the rehearsal's.
func TestRehearsalsDumpDirIsNeverAnotherSourcesDump(t *testing.T) {
	a := newRigRows(t, 3000)
	a.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, a.params("strategy=logical", "keep-old=true", "passwords-secret=cairn/app-db/roles")...)
	if out, code := a.cairn(append(args, "--yes", "--confirm", openWindow)...); code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("the rehearsal: exit %d\n%s\n%s", code, out, a.runnerLog())
	}
	rehearsal := a.fingerprint(twin.DemoInstance)
	_ = a.tw.Close(context.Background()) // the rehearsal's twin is done with
	rehearsed := tree(t, a.dump)

	b := newRigRows(t, 4500)
	b.dump = a.dump
	before, inv := b.fingerprint(twin.DemoInstance), b.inventory()
	if before == rehearsal {
		t.Fatal("the two sources hold the same data")
	}
	b.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args = append([]string{"run", "rds-encrypt"}, b.params("strategy=logical", "passwords-secret=cairn/app-db/roles")...)
	out, code := b.cairn(append(args, "--yes", "--confirm", openWindow, "--confirm", "delete-old="+twin.DemoInstance, "--on-failure", "abort")...)
	if code == 0 || strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("the run against another source used the rehearsal's dump-dir:\n%s", out)
	}
	for _, want := range []string{"globals-dump", filepath.Join(a.dump, "globals.sql"), "another source's", "move it aside", "dump-dir"} {
		if !strings.Contains(out, want) {
			t.Errorf("the refusal does not say %q:\n%s", want, out)
		}
	}
	if got := tree(t, a.dump); got != rehearsed {
		t.Fatalf("the rehearsal's files changed:\nbefore:\n%s\nafter:\n%s", rehearsed, got)
	}
	if after := b.fingerprint(twin.DemoInstance); after != before {
		t.Fatalf("the source changed although the run stopped:\n%s", lineDiff(before, after))
	}
	if got := b.inventory(); got != inv {
		t.Fatalf("instances or snapshots changed although the run stopped:\nbefore:\n%s\nafter:\n%s", inv, got)
	}
	c, err := b.login(twin.DemoInstance, "app", "app_rw", "app-rw-demo")
	if err != nil {
		t.Fatalf("the application cannot connect after the refused run (left quiesced?): %v", err)
	}
	c.Close(context.Background())

	// the fix: the rehearsal's dump-dir moved aside; the run dumps its own source afresh
	if err := os.Rename(a.dump, a.dump+".rehearsal"); err != nil {
		t.Fatal(err)
	}
	if out, code := b.cairn(append(args, "--yes", "--confirm", openWindow, "--confirm", "delete-old="+twin.DemoInstance)...); code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("the run after the fix: exit %d\n%s\n%s", code, out, b.runnerLog())
	}
	checkFinal(t, b, before)
}

// tree lists a directory's files with their sizes and modification times.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %s %d %s", rel, fi.Mode(), fi.Size(), fi.ModTime()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
