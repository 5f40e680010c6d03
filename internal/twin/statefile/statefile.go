// Package statefile saves and loads the twin's state as JSON files, atomically: a file is written to a
// temporary name, synced and renamed over the old one, so a crash leaves the old state or the new,
// never half of one.
package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// File is one twin service's state file, <dir>/<name>.json. Its errors name the service.
type File struct {
	path string
	name string
}

// ForService is the state file of the service called name ("kms", "rds"…) kept in dir.
func ForService(dir, name string) File {
	return File{path: filepath.Join(dir, name+".json"), name: name}
}

// Load reads the state into v ("load kms state: …"); a missing file leaves v untouched.
func (f File) Load(v any) error {
	if err := Load(f.path, v); err != nil {
		return fmt.Errorf("load %s state: %w", f.name, err)
	}
	return nil
}

// Save writes v ("save kms state: …"). Its error is an InternalFailure, ready to answer a client with.
func (f File) Save(v any) error {
	if err := Save(f.path, v); err != nil {
		return awswire.Internal(fmt.Errorf("save %s state: %w", f.name, err))
	}
	return nil
}

// Save writes v as indented JSON to path atomically (mode 0600: the state holds key material).
func Save(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	if err := fsutil.WriteAtomic(path, data, 0o600); err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	return nil
}

// Load reads path into v. A missing file leaves v untouched and is not an error.
func Load(path string, v any) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
