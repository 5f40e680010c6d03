package steps

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
)

// A step's records are what it found before changing anything (the original file, the grants it
// added, that it created a stanza), kept in the run's private work directory so rollback and a
// resumed run act on facts. A record belongs to one step key (each foreach item has its own) and
// has a name; area is the kind's package ("pg", "host"), so two packages never share a file.

// RecordPath is where a record is kept: <WorkDir>/<area>-<step key, file-safe>-<name>. It fails
// when the run has no work directory.
func (e *Env) RecordPath(area, name string) (string, error) {
	if e.WorkDir == "" {
		return "", errors.New("the run has no work directory to record original state in")
	}
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, e.StepID)
	return filepath.Join(e.WorkDir, area+"-"+id+"-"+name), nil
}

// ReadRecord reads a record; ok is false when there is none.
func (e *Env) ReadRecord(area, name string) (b []byte, ok bool, err error) {
	p, err := e.RecordPath(area, name)
	if err != nil {
		return nil, false, err
	}
	b, err = os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	return b, err == nil, err
}

// WriteRecord writes a record whole (atomically, durably, 0600).
func (e *Env) WriteRecord(area, name string, b []byte) error {
	p, err := e.RecordPath(area, name)
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(p, b, 0o600)
}

// LoadRecord reads a JSON record into v; ok is false when there is none.
func (e *Env) LoadRecord(area, name string, v any) (ok bool, err error) {
	b, ok, err := e.ReadRecord(area, name)
	if !ok || err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		p, _ := e.RecordPath(area, name)
		return false, fmt.Errorf("record %s: %w", p, err)
	}
	return true, nil
}

// SaveRecord writes v as a JSON record (indented, for a person reading the work directory).
func (e *Env) SaveRecord(area, name string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := e.WriteRecord(area, name, b); err != nil {
		return fmt.Errorf("record original state: %w", err)
	}
	return nil
}

// RemoveRecord removes a record, when there is one.
func (e *Env) RemoveRecord(area, name string) {
	if p, err := e.RecordPath(area, name); err == nil {
		_ = os.Remove(p)
	}
}
