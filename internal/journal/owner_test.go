package journal

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

func sharedState(t *testing.T) string {
	t.Helper()
	state := t.TempDir()
	if err := os.Chmod(state, 0o770|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(state); st.Mode()&os.ModeSetgid == 0 {
		t.Skip("cannot make a setgid directory here (not in its group)")
	}
	return state
}

// Modes come from cairn, not from the umask: runs/ is setgid+sticky 3770 in a shared state
// directory, a run 2750, its files 0640, work/ 0700 — under umask 022 and 077 alike.
func TestRunModesAreExplicitUnderAnyUmask(t *testing.T) {
	for _, mask := range []int{0o022, 0o077} {
		old := syscall.Umask(mask)
		state := sharedState(t)
		r, err := Create(state, Meta{ID: NewID(time.Now())}, []byte("schema: 1\n"))
		if err != nil {
			syscall.Umask(old)
			t.Fatal(err)
		}
		w, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
		if err != nil {
			syscall.Umask(old)
			t.Fatal(err)
		}
		w.Append(events.Event{Type: events.RunStarted, Run: &events.RunInfo{ID: r.ID}})
		w.Close()
		syscall.Umask(old)
		for path, want := range map[string]os.FileMode{
			RunsDir(state):      0o770 | os.ModeSetgid | os.ModeSticky,
			r.Dir:               0o750 | os.ModeSetgid,
			r.Path(WorkDir):     0o700,
			r.Path(RunbookFile): 0o640,
			r.Path(MetaFile):    0o640,
			r.Path(LockFile):    0o640,
			r.Path(JournalFile): 0o640,
			r.Path(OutputFile):  0o640,
		} {
			st, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := st.Mode() & (os.ModePerm | os.ModeSetgid | os.ModeSticky); got != want {
				t.Errorf("umask %03o: %s is %v, want %v", mask, path, got, want)
			}
		}
		if err := Check(r, ToDrive); err != nil {
			t.Errorf("umask %03o: a fresh run is refused: %v", mask, err)
		}
	}
}

// A shared runs/ left without the sticky bit (an older cairn made it 2770) gets it from its owner.
func TestSharedRunsDirIsMadeSticky(t *testing.T) {
	state := sharedState(t)
	os.Mkdir(RunsDir(state), 0o700)
	os.Chmod(RunsDir(state), 0o770|os.ModeSetgid)
	if _, err := Create(state, Meta{ID: NewID(time.Now())}, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(RunsDir(state)); st.Mode()&os.ModeSticky == 0 {
		t.Fatalf("runs/ is %v", st.Mode())
	}
}

// Whatever someone else did to a run's files, the runner refuses it, naming the file, and
// nothing is followed or truncated.
func TestTamperedRunIsRefusedNamingTheFile(t *testing.T) {
	elsewhere := filepath.Join(t.TempDir(), "root-owned")
	for _, c := range []struct {
		name   string
		tamper func(r *Run)
		file   string
		says   string
	}{
		{"runbook edited", func(r *Run) {
			os.WriteFile(r.Path(RunbookFile), []byte("schema: 1\nsteps: [{id: x, kind: sql, with: {statements: ['COPY x TO PROGRAM ''id''']}}]\n"), 0o600)
		}, RunbookFile, "is not the runbook the run started with"},
		{"lock swapped for a link", func(r *Run) {
			os.Remove(r.Path(LockFile))
			os.Symlink(elsewhere, r.Path(LockFile))
		}, LockFile, "symbolic link"},
		{"work swapped for another's", func(r *Run) {
			os.Rename(r.Path(WorkDir), r.Path("work.old"))
			os.Mkdir(r.Path(WorkDir), 0o700)
			os.Chown(r.Path(WorkDir), 65534, 65534)
		}, WorkDir, "belongs to uid 65534"},
		{"journal made group-writable", func(r *Run) {
			os.Chmod(r.Path(JournalFile), 0o660)
		}, JournalFile, "writable by others"},
		{"a file planted in work", func(r *Run) {
			os.WriteFile(r.Path(WorkDir, "pg-drop-rollback.json"), []byte("{}"), 0o600)
			os.Chown(r.Path(WorkDir, "pg-drop-rollback.json"), 65534, 65534)
		}, WorkDir + "/pg-drop-rollback.json", "belongs to uid 65534"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if os.Geteuid() != 0 && strings.Contains(c.says, "65534") {
				t.Skip("needs root to give a file to another uid")
			}
			os.WriteFile(elsewhere, []byte("do not truncate"), 0o600)
			r := newRun(t)
			w, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
			if err != nil {
				t.Fatal(err)
			}
			w.Append(events.Event{Type: events.RunStarted, Run: &events.RunInfo{ID: r.ID}})
			w.Close()
			before, _ := os.ReadFile(r.Path(JournalFile))
			c.tamper(r)

			for _, purpose := range []Purpose{ToRead, ToDrive} {
				err := Check(r, purpose)
				var ref *Refusal
				if c.name == "runbook edited" && purpose == ToRead {
					continue // the report still shows a run whose runbook changed: its record is the journal
				}
				if !errors.As(err, &ref) || !strings.Contains(ref.Summary, r.Path(c.file)) || !strings.Contains(err.Error(), c.says) || ref.Next == "" {
					t.Fatalf("check %d: %v", purpose, err)
				}
			}
			if _, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now); err == nil || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("the runner took it: %v", err)
			}
			if after, _ := os.ReadFile(r.Path(JournalFile)); string(after) != string(before) {
				t.Fatal("the journal changed")
			}
			if b, _ := os.ReadFile(elsewhere); string(b) != "do not truncate" {
				t.Fatalf("the lock's link was followed: %q", b)
			}
		})
	}
}

// Run ids are what cairn makes: nothing that names a path outside runs/.
func TestRunIDsCannotClimbOut(t *testing.T) {
	state := t.TempDir()
	for _, id := range []string{"../..", "x/../../etc", "..", "/etc"} {
		if _, err := Open(state, id); err == nil {
			t.Errorf("opened %q", id)
		}
		if _, err := Create(state, Meta{ID: id}, nil); err == nil {
			t.Errorf("created %q", id)
		}
	}
}
