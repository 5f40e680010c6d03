package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aymanbagabas/go-udiff"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// ConfigFile is the `config-file` kind: an INI file (key=value lines under [section] headers, #
// comments), as pgBackRest reads it.
type ConfigFile struct {
	Path ref.Template `yaml:"path"`
	// Owner, Group and Mode the file must have ("0640").
	Owner ref.Template `yaml:"owner"`
	Group ref.Template `yaml:"group"`
	Mode  string       `yaml:"mode"`
	// Sections lists the keys to set, by section. Keys not named are never touched.
	Sections []*IniSection `yaml:"sections"`
}

// IniSection is one [section] and the keys the runbook sets in it.
type IniSection struct {
	Name ref.Template            `yaml:"name"`
	Set  map[string]ref.Template `yaml:"set"`
}

// Validate checks the fields.
func (f *ConfigFile) Validate() error {
	var errs []error
	if f.Path.IsZero() {
		errs = append(errs, errors.New("give `path:`"))
	}
	if f.Mode != "" {
		if _, err := parseMode(f.Mode); err != nil {
			errs = append(errs, fmt.Errorf("mode: %v", err))
		}
	}
	if len(f.Sections) == 0 {
		errs = append(errs, errors.New("give `sections:` with the keys to set"))
	}
	for i, s := range f.Sections {
		if s.Name.IsZero() {
			errs = append(errs, fmt.Errorf("sections[%d]: give `name:`", i))
		}
	}
	return errors.Join(errs...)
}

type iniKV struct{ section, key, value string }

func (f *ConfigFile) wanted(render func(ref.Template) (string, error)) ([]iniKV, error) {
	var out []iniKV
	for _, s := range f.Sections {
		name, err := render(s.Name)
		if err != nil {
			return nil, err
		}
		if err := ref.SingleLine("config section name", name); err != nil {
			return nil, err
		}
		if strings.ContainsAny(name, "[]") {
			return nil, fmt.Errorf("config section name %q holds [ or ]: give the bare name", name)
		}
		keys := make([]string, 0, len(s.Set))
		for k := range s.Set {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v, err := render(s.Set[k])
			if err != nil {
				return nil, err
			}
			if err := ref.SingleLine(fmt.Sprintf("config key [%s] %s", name, k), k+"="+v); err != nil {
				return nil, err
			}
			out = append(out, iniKV{name, k, v})
		}
	}
	return out, nil
}

// mergeINI sets each key in old, changing only the lines it must: an existing key's line is
// rewritten, a missing key is added after the last line of its section, a missing section is
// appended.
func mergeINI(old string, kvs []iniKV) string {
	lines := strings.Split(old, "\n")
	if old == "" {
		lines = nil
	} else if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for _, kv := range kvs {
		section := ""
		lastInSection := -1 // index of the last non-blank line of kv.section
		found := false
		for i, l := range lines {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
				section = strings.TrimSpace(t[1 : len(t)-1])
				if section == kv.section {
					lastInSection = i
				}
				continue
			}
			if section != kv.section {
				continue
			}
			if t != "" {
				lastInSection = i
			}
			if strings.HasPrefix(t, "#") {
				continue
			}
			k, v, ok := strings.Cut(t, "=")
			if ok && strings.TrimSpace(k) == kv.key {
				if strings.TrimSpace(v) != kv.value {
					lines[i] = kv.key + "=" + kv.value
				}
				found = true
				break
			}
		}
		if found {
			continue
		}
		if lastInSection < 0 {
			if len(lines) > 0 && strings.TrimSpace(lines[len(lines)-1]) != "" {
				lines = append(lines, "")
			}
			lines = append(lines, "["+kv.section+"]", kv.key+"="+kv.value)
			continue
		}
		lines = append(lines[:lastInSection+1], append([]string{kv.key + "=" + kv.value}, lines[lastInSection+1:]...)...)
	}
	return strings.Join(lines, "\n") + "\n"
}

// ReadINI reads one key of one section (for other kinds' checks).
func ReadINI(text, section, key string) (string, bool) {
	cur := ""
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			cur = strings.TrimSpace(t[1 : len(t)-1])
			continue
		}
		if cur != section || strings.HasPrefix(t, "#") {
			continue
		}
		if k, v, ok := strings.Cut(t, "="); ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v), true
		}
	}
	return "", false
}

type fileTarget struct {
	path     string
	uid, gid int
	mode     uint32
	old, new string
	exists   bool
	cur      pathState
	needs    []string
}

func (f *ConfigFile) target(env *steps.Env) (fileTarget, error) {
	var t fileTarget
	var err error
	if t.path, err = env.Text(f.Path); err != nil {
		return t, err
	}
	if err := ref.SingleLine("config path", t.path); err != nil {
		return t, err
	}
	t.uid, t.gid, t.mode = -1, -1, 0o644
	if f.Mode != "" {
		t.mode, _ = parseMode(f.Mode)
	}
	if !f.Owner.IsZero() {
		o, err := env.Text(f.Owner)
		if err != nil {
			return t, err
		}
		if t.uid, err = lookupUID(o); err != nil {
			return t, err
		}
	}
	if !f.Group.IsZero() {
		g, err := env.Text(f.Group)
		if err != nil {
			return t, err
		}
		if t.gid, err = lookupGID(g); err != nil {
			return t, err
		}
	}
	kvs, err := f.wanted(env.Text)
	if err != nil {
		return t, err
	}
	b, err := os.ReadFile(t.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return t, err
	default:
		t.exists, t.old = true, string(b)
	}
	t.new = mergeINI(t.old, kvs)
	if t.cur, err = statPath(t.path); err != nil {
		return t, err
	}
	if !t.exists {
		t.needs = append(t.needs, "create "+t.path)
		return t, nil
	}
	if f.Mode == "" {
		t.mode = t.cur.Mode
	}
	if t.uid < 0 {
		t.uid = t.cur.UID
	}
	if t.gid < 0 {
		t.gid = t.cur.GID
	}
	if t.new != t.old {
		t.needs = append(t.needs, "change keys in "+t.path)
	}
	if t.cur.Mode != t.mode || t.cur.UID != t.uid || t.cur.GID != t.gid {
		t.needs = append(t.needs, fmt.Sprintf("%s → %s:%s %04o", t.cur, userName(t.uid), groupName(t.gid), t.mode))
	}
	return t, nil
}

// Describe shows the whole new file, or a diff of the existing one.
func (f *ConfigFile) Describe(env *steps.Env) []steps.Action {
	path := env.Describe(f.Path)
	kvs, _ := f.wanted(func(t ref.Template) (string, error) { return env.Describe(t), nil })
	old, err := os.ReadFile(path)
	owner := env.Describe(f.Owner) + ":" + env.Describe(f.Group) + " " + f.Mode
	var out []steps.Action
	if err != nil {
		out = append(out, steps.Action{Kind: steps.ActFile, Target: "local", Text: fmt.Sprintf("create %s (%s):\n%s", path, owner, mergeINI("", kvs))})
	} else {
		d := udiff.Unified(path, path+" (after)", string(old), mergeINI(string(old), kvs))
		if d == "" {
			d = "(content already as wanted)"
		}
		out = append(out, steps.Action{Kind: steps.ActFile, Target: "local", Text: fmt.Sprintf("back up %s to %s.cairn.bak, then change only these keys (%s):\n%s", path, path, owner, d)})
	}
	out = append(out, steps.Action{Kind: steps.ActFile, Target: "local", Text: "# rollback: put the original back byte for byte with its mode and owner, or remove the file if this step created it"})
	return out
}

// Check compares the file with what it must be.
func (f *ConfigFile) Check(ctx context.Context, env *steps.Env) steps.Check {
	t, err := f.target(env)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		var lb *ref.LineBreakError
		if errors.As(err, &lb) {
			return steps.BlockedBy(err.Error(), "give "+lb.What+" on one line (nothing was written)")
		}
		return steps.BlockedBy(err.Error(), "create the user or group first, or fix the path")
	}
	if len(t.needs) == 0 {
		return steps.AlreadyDone("%s has every key, owner and mode the runbook sets", t.path)
	}
	if !t.exists {
		return steps.ReadyTo(steps.Create, "%s does not exist: write it", t.path)
	}
	return steps.ReadyTo(steps.Update, "%s", strings.Join(t.needs, "; "))
}

type fileRecord struct {
	Path        string    `json:"path"`
	Existed     bool      `json:"existed"`
	Original    []byte    `json:"original,omitempty"`
	Before      pathState `json:"before"`
	CreatedDirs []string  `json:"created_dirs,omitempty"`
	Backup      string    `json:"backup,omitempty"`
}

// Apply backs up the original, then writes the file atomically.
func (f *ConfigFile) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	t, err := f.target(env)
	if err != nil {
		return nil, err
	}
	var rec fileRecord
	had, err := env.LoadRecord("host", "file.json", &rec)
	if err != nil {
		return nil, err
	}
	if !had {
		rec = fileRecord{Path: t.path, Existed: t.exists, Before: t.cur}
		if t.exists {
			rec.Original = []byte(t.old)
		}
		for d := filepath.Dir(t.path); ; d = filepath.Dir(d) {
			if _, err := os.Stat(d); err == nil {
				break
			}
			rec.CreatedDirs = append(rec.CreatedDirs, d)
		}
	}
	if t.exists && rec.Backup == "" && t.new != t.old {
		rec.Backup = t.path + ".cairn.bak"
	}
	if err := env.SaveRecord("host", "file.json", rec); err != nil {
		return nil, err
	}
	if rec.Backup != "" {
		if _, err := os.Lstat(rec.Backup); errors.Is(err, os.ErrNotExist) {
			if err := fsutil.WriteAtomicAs(rec.Backup, rec.Original, fsutil.FileMode(rec.Before.Mode&0o777), rec.Before.UID, rec.Before.GID); err != nil {
				return nil, fmt.Errorf("back up %s: %w", t.path, err)
			}
			env.Info("original kept in " + rec.Backup)
		}
	}
	for i := len(rec.CreatedDirs) - 1; i >= 0; i-- {
		if err := os.Mkdir(rec.CreatedDirs[i], 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	uid, gid := t.uid, t.gid
	if uid < 0 {
		uid = 0
	}
	if gid < 0 {
		gid = 0
	}
	if err := fsutil.WriteAtomicAs(t.path, []byte(t.new), fsutil.FileMode(t.mode), uid, gid); err != nil {
		return nil, err
	}
	if t.exists {
		if d := udiff.Unified(t.path, t.path+" (after)", t.old, t.new); d != "" {
			for _, l := range strings.Split(strings.TrimRight(d, "\n"), "\n") {
				env.Info(l)
			}
		}
	} else {
		env.Info("wrote " + t.path)
	}
	return nil, nil
}

// Verify re-reads the file.
func (f *ConfigFile) Verify(ctx context.Context, env *steps.Env) error {
	t, err := f.target(env)
	if err != nil {
		return err
	}
	if len(t.needs) > 0 {
		return &steps.VerifyError{What: t.path, Expected: "every key, owner and mode as the runbook says", Found: strings.Join(t.needs, "; ")}
	}
	return nil
}

// Rollback restores the original or removes what was created.
func (f *ConfigFile) Rollback(ctx context.Context, env *steps.Env) error {
	var rec fileRecord
	ok, err := env.LoadRecord("host", "file.json", &rec)
	if err != nil {
		return err
	}
	if !ok {
		env.Info("no record: this step changed nothing")
		return nil
	}
	if rec.Existed {
		cur, _ := os.ReadFile(rec.Path)
		if !bytes.Equal(cur, rec.Original) {
			env.Info("restoring the original " + rec.Path)
		}
		if err := fsutil.WriteAtomicAs(rec.Path, rec.Original, fsutil.FileMode(rec.Before.Mode), rec.Before.UID, rec.Before.GID); err != nil {
			return err
		}
		if rec.Backup != "" {
			_ = os.Remove(rec.Backup)
		}
	} else {
		if err := os.Remove(rec.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		for _, d := range rec.CreatedDirs {
			if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove %s (created by this step): %w", d, err)
			}
		}
	}
	env.RemoveRecord("host", "file.json")
	return nil
}
