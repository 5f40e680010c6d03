// Package journal keeps a run on disk so it outlives its terminal and its process: one directory per
// run holding the runbook text as run, its parameters (never secret values), an append-only JSON Lines
// journal of events and decisions (each record fsync'd), a separate output log (not fsync'd per line),
// a lock so only one runner drives a run, and the live runner's socket through which people answer it.
package journal

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
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
	StarterUID int               `json:"starter_uid"`
	Host       string            `json:"host"`
	Rehearsal  bool              `json:"rehearsal,omitempty"`
	WindowEnd  time.Time         `json:"window_end,omitempty"`
	Approvals  int               `json:"approvals,omitempty"`
}

// Policy says how the runner answers questions nobody is there to answer.
type Policy struct {
	Yes         bool              `json:"yes,omitempty"`         // --yes: yes/no confirmations and checklists
	Confirm     map[string]string `json:"confirm,omitempty"`     // --confirm step=value: typed confirmations
	OnFailure   string            `json:"on_failure,omitempty"`  // "", abort, rollback
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

// RunsDir is where runs live under a state directory.
func RunsDir(stateDir string) string { return filepath.Join(stateDir, "runs") }

// Create makes a new run directory with its runbook text and meta.
func Create(stateDir string, meta Meta, runbookText []byte) (*Run, error) {
	root := RunsDir(stateDir)
	shared := isShared(stateDir)
	dirMode := os.FileMode(0o700)
	if shared {
		dirMode = 0o770 | os.ModeSetgid
	}
	if err := os.MkdirAll(root, dirMode); err != nil {
		return nil, fmt.Errorf("state directory %s: %w", root, err)
	}
	r := &Run{Dir: filepath.Join(root, meta.ID), ID: meta.ID, Shared: shared}
	if err := os.Mkdir(r.Dir, dirMode); err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	_ = os.Chmod(r.Dir, dirMode)
	if err := os.Mkdir(filepath.Join(r.Dir, WorkDir), 0o700); err != nil {
		return nil, err
	}
	if err := r.WriteFile(RunbookFile, runbookText); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := r.WriteFile(MetaFile, b); err != nil {
		return nil, err
	}
	return r, nil
}

// Open finds a run by id (or unique id prefix).
func Open(stateDir, id string) (*Run, error) {
	root := RunsDir(stateDir)
	if id == "" {
		return nil, errors.New("give a run id: `cairn runs` lists them")
	}
	if st, err := os.Stat(filepath.Join(root, id)); err == nil && st.IsDir() {
		return &Run{Dir: filepath.Join(root, id), ID: id, Shared: isShared(stateDir)}, nil
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

// List returns run ids, oldest first.
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
		if e.IsDir() {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Path joins a name to the run directory.
func (r *Run) Path(name ...string) string { return filepath.Join(append([]string{r.Dir}, name...)...) }

// FileMode is the mode of files in this run.
func (r *Run) FileMode() os.FileMode {
	if r.Shared {
		return 0o660
	}
	return 0o600
}

// WriteFile writes a file in the run directory atomically.
func (r *Run) WriteFile(name string, data []byte) error {
	tmp := r.Path(name + ".tmp")
	if err := os.WriteFile(tmp, data, r.FileMode()); err != nil {
		return err
	}
	_ = os.Chmod(tmp, r.FileMode())
	return os.Rename(tmp, r.Path(name))
}

// Meta reads the run's meta.
func (r *Run) Meta() (Meta, error) {
	var m Meta
	b, err := os.ReadFile(r.Path(MetaFile))
	if err != nil {
		return m, fmt.Errorf("run %s: %w", r.ID, err)
	}
	return m, json.Unmarshal(b, &m)
}

// Runbook reads the runbook text the run started with.
func (r *Run) Runbook() ([]byte, error) { return os.ReadFile(r.Path(RunbookFile)) }

// isShared: a state directory that is group-owned and setgid is shared between engineers.
func isShared(stateDir string) bool {
	st, err := os.Stat(stateDir)
	return err == nil && st.Mode()&os.ModeSetgid != 0
}
