package host

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/steps"
)

// recordPath is where a step keeps what it found before changing anything: the run's private
// WorkDir, one file per step (and foreach item) and purpose.
func recordPath(env *steps.Env, name string) (string, error) {
	if env.WorkDir == "" {
		return "", errors.New("the run has no work directory to record original state in")
	}
	id := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, env.StepID)
	return filepath.Join(env.WorkDir, "host-"+id+"-"+name+".json"), nil
}

// loadRecord reads a record; ok is false when there is none.
func loadRecord(env *steps.Env, name string, v any) (bool, error) {
	p, err := recordPath(env, name)
	if err != nil {
		return false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("record %s: %w", p, err)
	}
	return true, nil
}

// saveRecord writes a record atomically (0600).
func saveRecord(env *steps.Env, name string, v any) error {
	p, err := recordPath(env, name)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := fsutil.WriteAtomic(p, b, 0o600); err != nil {
		return fmt.Errorf("record original state: %w", err)
	}
	return nil
}

func removeRecord(env *steps.Env, name string) {
	if p, err := recordPath(env, name); err == nil {
		_ = os.Remove(p)
	}
}

// lookupUID resolves a user name (or numeric id).
func lookupUID(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return 0, fmt.Errorf("OS user %q does not exist", name)
	}
	return strconv.Atoi(u.Uid)
}

// lookupGID resolves a group name (or numeric id).
func lookupGID(name string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		return n, nil
	}
	g, err := user.LookupGroup(name)
	if err != nil {
		return 0, fmt.Errorf("OS group %q does not exist", name)
	}
	return strconv.Atoi(g.Gid)
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}

func groupName(gid int) string {
	if g, err := user.LookupGroupId(strconv.Itoa(gid)); err == nil {
		return g.Name
	}
	return strconv.Itoa(gid)
}

func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("OS user %q does not exist", name)
	}
	return u, nil
}
