package pg

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/steps"
)

// recordFile is where a step keeps what it found before changing anything: a file in the run's
// WorkDir named for the step.
func recordFile(env *steps.Env, name string) (string, error) {
	if env.WorkDir == "" {
		return "", errors.New("the run has no work directory to record original state in")
	}
	id := []rune(env.StepID)
	for i, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			id[i] = '_'
		}
	}
	return filepath.Join(env.WorkDir, "pg-"+string(id)+"-"+name), nil
}

func readRecord(env *steps.Env, name string) ([]byte, bool, error) {
	p, err := recordFile(env, name)
	if err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	return b, err == nil, err
}

func writeRecord(env *steps.Env, name string, b []byte) error {
	p, err := recordFile(env, name)
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(p, b, 0o600)
}

func dropRecord(env *steps.Env, name string) {
	if p, err := recordFile(env, name); err == nil {
		_ = os.Remove(p)
	}
}
