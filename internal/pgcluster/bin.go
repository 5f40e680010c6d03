package pgcluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// libRoot is where Debian's postgresql-NN packages put each major version's server binaries.
const libRoot = "/usr/lib/postgresql"

// findBin returns the bin directory and major version to use: version 0 means the newest
// installed under libRoot.
func findBin(version int) (string, int, error) {
	if version != 0 {
		bin := filepath.Join(libRoot, strconv.Itoa(version), "bin")
		if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
			return "", 0, fmt.Errorf("postgresql %d server binaries: %w", version, err)
		}
		return bin, version, nil
	}
	matches, err := filepath.Glob(filepath.Join(libRoot, "*", "bin", "initdb"))
	if err != nil {
		return "", 0, fmt.Errorf("look for postgresql server binaries: %w", err)
	}
	best := 0
	for _, m := range matches {
		v, err := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(m))))
		if err == nil && v > best {
			best = v
		}
	}
	if best == 0 {
		return "", 0, fmt.Errorf("no postgresql server binaries under %s/*/bin (install postgresql-NN)", libRoot)
	}
	return filepath.Join(libRoot, strconv.Itoa(best), "bin"), best, nil
}

// Installed reports the newest installed PostgreSQL major version, or an error saying why there is
// none. Tests use it as a probe.
func Installed() (int, error) {
	_, v, err := findBin(0)
	return v, err
}

// BinPath is the absolute path of one of the cluster's PostgreSQL tools, e.g. BinPath("pg_dump").
func (c *Cluster) BinPath(tool string) string {
	return filepath.Join(c.Bin, tool)
}
