// Package journal keeps a run on disk so it outlives its terminal and its process: one directory per
// run holding the runbook text as run, its parameters (never secret values), an append-only JSON Lines
// journal of events and decisions (each record fsync'd), a separate output log (not fsync'd per line),
// a lock so only one runner drives a run, and the live runner's socket through which people answer it.
//
// The runner owns its run: every file and directory of a run is created by the run's own uid, with an
// explicit mode (umask never applies), group-readable in a shared state directory but never group-
// or world-writable, and opened without following a link (new files O_EXCL) relative to the run
// directory's descriptor (internal/fsutil). A run whose files are not all so is refused by resume,
// rollback, report and the runner itself, naming the file (Check).
package journal

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/fsutil"
)

// File names inside a run directory.
const (
	JournalFile = "journal.jsonl"
	OutputFile  = "output.jsonl"
	RunbookFile = "runbook.yaml"
	MetaFile    = "meta.json"
	LockFile    = "lock"
	WorkDir     = "work"
	RunnerLog   = "runner.log"
)

// Meta is what a run was started with (no secret values).
type Meta struct {
	ID         string            `json:"id"`
	Runbook    string            `json:"runbook"`
	Source     string            `json:"source"`
	Params     map[string]string `json:"params"`  // non-secret values only
	Secrets    []string          `json:"secrets"` // names of secret parameters (asked again on resume)
	Policy     Policy            `json:"policy"`
	Started    time.Time         `json:"started"`
	StartedBy  string            `json:"started_by"`
	StarterUID int               `json:"starter_uid"` // the person (for root through sudo: SUDO_UID)
	// OwnerUID is the uid the run's files belong to: the process that created the run (for root
	// through sudo: 0). Only that uid may drive the run.
	OwnerUID int `json:"owner_uid"`
	// RunbookSHA256 is the hash of runbook.yaml as the run was created; the first journal record
	// carries it too, and a runner refuses a runbook.yaml that no longer matches.
	RunbookSHA256 string    `json:"runbook_sha256,omitempty"`
	Host          string    `json:"host"`
	Rehearsal     bool      `json:"rehearsal,omitempty"`
	WindowEnd     time.Time `json:"window_end,omitempty"`
	Approvals     int       `json:"approvals,omitempty"`
}

// Policy says how the runner answers questions nobody is there to answer.
type Policy struct {
	Yes         bool              `json:"yes,omitempty"`         // --yes: yes/no confirmations and checklists
	Confirm     map[string]string `json:"confirm,omitempty"`     // --confirm step=value: typed confirmations
	OnFailure   events.Decision   `json:"on_failure,omitempty"`  // "", abort or rollback: the decision after a failure
	Interactive bool              `json:"interactive,omitempty"` // a person may answer through a view
}

// Run is one run's directory.
type Run struct {
	Dir    string
	ID     string
	Shared bool // in a shared, group-owned setgid state directory: group may read and answer
}

// NewID makes a run id: sortable by time, unique.
func NewID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102-150405.000") + "-" + hex.EncodeToString(b)
}

// validID is what NewID makes (and nothing that could name a path outside runs/).
var validID = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}\.[0-9]{3}-[0-9a-f]{6}$`)

// RunsDir is where runs live under a state directory.
func RunsDir(stateDir string) string { return filepath.Join(stateDir, "runs") }

// Modes of a run's files and directories. runs/ in a shared state directory is setgid and sticky:
// every member of the group can start runs in it, no one can rename or delete another's.
const (
	runsModeShared  = 0o770 | os.ModeSetgid | os.ModeSticky
	runsModePrivate = 0o700
	dirModeShared   = 0o750 | os.ModeSetgid
	dirModePrivate  = 0o700
	fileModeShared  = 0o640
	fileModePrivate = 0o600
	workDirMode     = 0o700
)

// Create makes a new run directory with its runbook text and meta. Every file and directory gets
// an explicit mode; nothing already there is reused (O_EXCL).
func Create(stateDir string, meta Meta, runbookText []byte) (*Run, error) {
	if !validID.MatchString(meta.ID) {
		return nil, fmt.Errorf("run id %q is not one cairn makes", meta.ID)
	}
	shared := isShared(stateDir)
	runs, err := openRuns(stateDir, shared, true)
	if err != nil {
		return nil, err
	}
	defer runs.Close()
	r := &Run{Dir: filepath.Join(RunsDir(stateDir), meta.ID), ID: meta.ID, Shared: shared}
	if err := runs.Mkdir(meta.ID, r.dirMode()); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	d, err := runs.OpenDir(meta.ID)
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	defer d.Close()
	if err := d.Mkdir(WorkDir, workDirMode); err != nil {
		return nil, err
	}
	sum := sha256.Sum256(runbookText)
	meta.RunbookSHA256 = hex.EncodeToString(sum[:])
	meta.OwnerUID = os.Geteuid()
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{RunbookFile, runbookText}, {MetaFile, b}, {LockFile, nil}} {
		if err := createFile(d, f.name, f.data, r.FileMode()); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func createFile(d *fsutil.Dir, name string, data []byte, mode os.FileMode) error {
	f, err := d.Create(name, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// openRuns opens the runs directory, creating it (when create) with its mode set explicitly. An
// existing shared runs/ that is not setgid and sticky is given those bits by its owner; anyone
// else is told who must.
func openRuns(stateDir string, shared, create bool) (*fsutil.Dir, error) {
	want := os.FileMode(runsModePrivate)
	if shared {
		want = runsModeShared
	}
	if create {
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, fmt.Errorf("state directory %s: %w", stateDir, err)
		}
		st, err := fsutil.OpenDir(stateDir)
		if err != nil {
			return nil, fmt.Errorf("state directory %s: %w", stateDir, err)
		}
		err = st.Mkdir("runs", want)
		st.Close()
		if err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("state directory %s: %w", stateDir, err)
		}
	}
	runs, err := fsutil.OpenDir(RunsDir(stateDir))
	if err != nil {
		return nil, err
	}
	if !shared || !create {
		return runs, nil
	}
	st, err := runs.Stat()
	if err != nil {
		runs.Close()
		return nil, err
	}
	if fsutil.FileMode(st.Mode) == want {
		return runs, nil
	}
	if int(st.Uid) == os.Geteuid() {
		if err := unix.Fchmod(runs.Fd(), unix.S_ISGID|unix.S_ISVTX|0o770); err == nil {
			return runs, nil
		}
	}
	runs.Close()
	return nil, &Refusal{
		Summary: fmt.Sprintf("%s is %v, not setgid+sticky %v", RunsDir(stateDir), fsutil.FileMode(st.Mode), want),
		Detail:  fmt.Sprintf("in a shared state directory every member must be able to start runs there, and no one may rename or delete another's; it belongs to uid %d", st.Uid),
		State:   "nothing was created",
		Next:    fmt.Sprintf("as uid %d (or root): chmod 3770 %s", st.Uid, RunsDir(stateDir)),
	}
}

// Open finds a run by id (or unique id prefix).
func Open(stateDir, id string) (*Run, error) {
	root := RunsDir(stateDir)
	if id == "" {
		return nil, errors.New("give a run id: `cairn runs` lists them")
	}
	if validID.MatchString(id) {
		if st, err := os.Lstat(filepath.Join(root, id)); err == nil && st.IsDir() {
			return &Run{Dir: filepath.Join(root, id), ID: id, Shared: isShared(stateDir)}, nil
		}
	}
	ids, _ := List(stateDir)
	var match []string
	for _, x := range ids {
		// a part of an id: its random tail (as `cairn runs` shows it last), or a long enough prefix
		if len(id) >= 6 && (strings.HasPrefix(x, id) || strings.HasSuffix(x, id)) {
			match = append(match, x)
		}
	}
	switch len(match) {
	case 1:
		return &Run{Dir: filepath.Join(root, match[0]), ID: match[0], Shared: isShared(stateDir)}, nil
	case 0:
		return nil, fmt.Errorf("no run %q under %s: `cairn runs` lists them (is CAIRN_STATE_DIR the same as when it started?)", id, root)
	}
	return nil, fmt.Errorf("run id %q is ambiguous (%s): give more of it", id, strings.Join(match, ", "))
}

// List returns run ids, oldest first (only directories named as cairn names runs).
func List(stateDir string) ([]string, error) {
	ents, err := os.ReadDir(RunsDir(stateDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && validID.MatchString(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Path joins a name to the run directory.
func (r *Run) Path(name ...string) string { return filepath.Join(append([]string{r.Dir}, name...)...) }

// FileMode is the mode of files in this run: group-readable when shared, never group-writable.
func (r *Run) FileMode() os.FileMode {
	if r.Shared {
		return fileModeShared
	}
	return fileModePrivate
}

func (r *Run) dirMode() os.FileMode {
	if r.Shared {
		return dirModeShared
	}
	return dirModePrivate
}

// OpenDir opens the run directory itself (not through a link) for opens relative to it.
func (r *Run) OpenDir() (*fsutil.Dir, error) {
	parent, err := fsutil.OpenDir(filepath.Dir(r.Dir))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", r.ID, err)
	}
	defer parent.Close()
	d, err := parent.OpenDir(filepath.Base(r.Dir))
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", r.ID, err)
	}
	return d, nil
}

// OpenFile opens a file of the run relative to its directory, never through a link; a file it
// creates gets the run's file mode.
func (r *Run) OpenFile(name string, flag int) (*os.File, error) {
	d, err := r.OpenDir()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.OpenFile(name, flag, r.FileMode())
}

// ReadFile reads a file of the run, never through a link.
func (r *Run) ReadFile(name string) ([]byte, error) {
	d, err := r.OpenDir()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.ReadFile(name)
}

// WriteFile replaces a file in the run directory atomically (fsync'd, then the directory).
func (r *Run) WriteFile(name string, data []byte) error {
	d, err := r.OpenDir()
	if err != nil {
		return err
	}
	defer d.Close()
	return d.WriteAtomic(name, data, r.FileMode())
}

// Meta reads the run's meta.
func (r *Run) Meta() (Meta, error) {
	var m Meta
	b, err := r.ReadFile(MetaFile)
	if err != nil {
		return m, fmt.Errorf("run %s: %w", r.ID, err)
	}
	return m, json.Unmarshal(b, &m)
}

// Runbook reads the runbook text the run started with.
func (r *Run) Runbook() ([]byte, error) { return r.ReadFile(RunbookFile) }

// isShared: a state directory that is group-owned and setgid is shared between engineers.
func isShared(stateDir string) bool {
	st, err := os.Stat(stateDir)
	return err == nil && st.Mode()&os.ModeSetgid != 0
}
