package pgdata

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
)

// The dump directory holds, besides the data, two records that bind it to its source and run: the
// owner record, written before anything else of a dump or a copy goes in (so even an interrupted
// dump says whose it is), and the manifest, written last (so its presence says the work is
// complete). Both carry a Provenance.
const ownerName = "cairn-owner.json"

// ownerRecord is the dump directory's owner record.
type ownerRecord struct {
	Method     string     `json:"method"` // "dump" or "stream"
	Provenance Provenance `json:"provenance"`
}

// dirState is what a dump directory holds that cairn would write: its manifest, its owner record,
// and the databases' dump directories (of the names dbs) already there.
type dirState struct {
	manifest *Manifest
	owner    *ownerRecord
	dumps    []string // "<db>.dir" present
}

// empty says the directory holds nothing a dump or copy would write.
func (s dirState) empty() bool { return s.manifest == nil && s.owner == nil && len(s.dumps) == 0 }

// record is the provenance the directory's contents carry: the manifest's when complete, else the
// owner record's; nil when neither says.
func (s dirState) record() *Provenance {
	if s.manifest != nil {
		return s.manifest.Provenance
	}
	if s.owner != nil {
		return &s.owner.Provenance
	}
	return nil
}

// readDir reads what dir holds for a dump or copy of the databases dbs. A manifest or owner record
// that cannot be read is an error (it is not silently treated as absent).
func readDir(dir string, dbs []string) (dirState, error) {
	var s dirState
	m, err := readManifest(dir)
	switch {
	case err == nil:
		s.manifest = m
	case !errors.Is(err, os.ErrNotExist):
		return s, fmt.Errorf("the manifest in %s: %w", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, ownerName))
	switch {
	case err == nil:
		var o ownerRecord
		if err := json.Unmarshal(b, &o); err != nil {
			return s, fmt.Errorf("the owner record %s: %w", filepath.Join(dir, ownerName), err)
		}
		s.owner = &o
	case !errors.Is(err, os.ErrNotExist):
		return s, err
	}
	for _, db := range dbs {
		if _, err := os.Lstat(filepath.Join(dir, db+".dir")); err == nil {
			s.dumps = append(s.dumps, db+".dir")
		}
	}
	slices.Sort(s.dumps)
	return s, nil
}

// what names the directory's contents in a sentence.
func (s dirState) what(dir string) string {
	switch {
	case s.manifest != nil:
		n := map[string]string{"dump": "the dump", "stream": "the record of a streamed copy"}[s.manifest.Method]
		return fmt.Sprintf("%s in %s (%s)", orDefault(n, "the manifest"), dir, manifestName)
	case s.owner != nil:
		return fmt.Sprintf("the unfinished %s in %s (%s, no manifest)", map[string]string{"dump": "dump", "stream": "copy"}[s.owner.Method], dir, ownerName)
	}
	return fmt.Sprintf("the dump files %v in %s", s.dumps, dir)
}

// claim writes the owner record before anything else of this run's dump or copy goes into dir.
func claim(dir, method string, p Provenance) error {
	b, err := json.MarshalIndent(ownerRecord{Method: method, Provenance: p}, "", "  ")
	if err != nil {
		return err
	}
	return writeDurable(dir, ownerName, b)
}

// writeDurable writes dir/name atomically and durably (fsutil.WriteAtomic: a temporary file synced,
// renamed over the name, the directory synced).
func writeDurable(dir, name string, b []byte) error {
	return fsutil.WriteAtomic(filepath.Join(dir, name), b, 0o600)
}
