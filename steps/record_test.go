package steps_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-runbooks/cairn/steps"
)

// A record is the step key's own (a foreach item's key made file-safe), private to the run, read
// back as written, and gone once removed; without a work directory nothing is recorded.
func TestRecords(t *testing.T) {
	dir := t.TempDir()
	a := &steps.Env{StepID: "dump[app/x]", WorkDir: dir}
	b := &steps.Env{StepID: "dump[app-x]", WorkDir: dir}
	if _, ok, err := a.ReadRecord("pg", "orig"); ok || err != nil {
		t.Fatalf("a record before any was written: %v %v", ok, err)
	}
	if err := a.WriteRecord("pg", "orig", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteRecord("pg", "orig", []byte("two")); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "pg-dump_app_x_-orig")
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("the record file %s: %v %v", p, fi, err)
	}
	if got, ok, err := a.ReadRecord("pg", "orig"); !ok || err != nil || string(got) != "one" {
		t.Fatalf("read back: %q %v %v", got, ok, err)
	}
	if _, ok, _ := a.ReadRecord("host", "orig"); ok {
		t.Fatal("another area read the pg record")
	}
	a.RemoveRecord("pg", "orig")
	if _, ok, _ := a.ReadRecord("pg", "orig"); ok {
		t.Fatal("a removed record is still there")
	}
	if got, ok, _ := b.ReadRecord("pg", "orig"); !ok || string(got) != "two" {
		t.Fatalf("removing one step's record touched another's: %q %v", got, ok)
	}
	none := &steps.Env{StepID: "x"}
	if err := none.WriteRecord("pg", "orig", []byte("x")); err == nil {
		t.Fatal("a record written without a work directory")
	}
}

// A JSON record reads back as saved; a record that is not JSON is an error naming its file, never
// taken for "no record".
func TestJSONRecords(t *testing.T) {
	env := &steps.Env{StepID: "s", WorkDir: t.TempDir()}
	type rec struct{ Original string }
	if err := env.SaveRecord("host", "file.json", rec{"before"}); err != nil {
		t.Fatal(err)
	}
	var got rec
	if ok, err := env.LoadRecord("host", "file.json", &got); !ok || err != nil || got.Original != "before" {
		t.Fatalf("read back: %+v %v %v", got, ok, err)
	}
	env.WriteRecord("host", "file.json", []byte("{not json"))
	if ok, err := env.LoadRecord("host", "file.json", &got); ok || err == nil {
		t.Fatalf("a corrupt record: ok %v, err %v", ok, err)
	}
}
