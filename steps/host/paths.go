package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// PathMode is the `path-mode` kind.
type PathMode struct {
	Paths []*PathSpec `yaml:"paths"`
}

// PathSpec is one path and what it must be.
type PathSpec struct {
	Path ref.Template `yaml:"path"`
	// Create makes the directory (and missing parents) when absent; rollback removes what it made.
	Create bool `yaml:"create"`
	// Owner and Group (names); empty leaves them as they are.
	Owner ref.Template `yaml:"owner"`
	Group ref.Template `yaml:"group"`
	// Mode is exact octal including setgid, e.g. "2750"; empty leaves it.
	Mode string `yaml:"mode"`
	// Tree "group-read" opens everything below Path for group reading: directories get g+rx,
	// regular files g+r, and group write is removed; "group-read-setgid" also sets setgid on
	// directories (the seed's fallback for servers without group access mode). Symlinked
	// directories inside (pg_wal, tablespaces) are followed.
	Tree string `yaml:"tree"`
	// SearchableBy names an OS user that must be able to reach Path: each parent directory that
	// does not let it search gets g+x (when the user is in its group) or o+x.
	SearchableBy ref.Template `yaml:"searchable_by"`
}

// Validate checks modes and tree policies.
func (p *PathMode) Validate() error {
	var errs []error
	if len(p.Paths) == 0 {
		errs = append(errs, errors.New("give `paths:`"))
	}
	for i, s := range p.Paths {
		if s.Path.IsZero() {
			errs = append(errs, fmt.Errorf("paths[%d]: give `path:`", i))
		}
		if s.Mode != "" {
			if _, err := parseMode(s.Mode); err != nil {
				errs = append(errs, fmt.Errorf("paths[%d].mode: %v", i, err))
			}
		}
		switch s.Tree {
		case "", "group-read", "group-read-setgid":
		default:
			errs = append(errs, fmt.Errorf("paths[%d].tree: %q is not group-read or group-read-setgid", i, s.Tree))
		}
	}
	return errors.Join(errs...)
}

func parseMode(s string) (uint32, error) {
	m, err := strconv.ParseUint(s, 8, 32)
	if err != nil || m > 0o7777 {
		return 0, fmt.Errorf("%q is not an octal mode such as 0750 or 2770", s)
	}
	return uint32(m), nil
}

// pathState is a path's mode, owner and group as stat sees them.
type pathState struct {
	Path   string `json:"path"`
	Exists bool   `json:"exists"`
	Mode   uint32 `json:"mode"` // permission and setuid/setgid/sticky bits
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Dir    bool   `json:"dir"`
	Link   bool   `json:"link,omitempty"` // the path itself is a symbolic link (Lstat)
}

func (s pathState) String() string {
	if !s.Exists {
		return s.Path + " (absent)"
	}
	return fmt.Sprintf("%s %s:%s %04o", s.Path, userName(s.UID), groupName(s.GID), s.Mode)
}

func statPath(p string) (pathState, error) {
	fi, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return pathState{Path: p}, nil
	}
	if err != nil {
		return pathState{Path: p}, err
	}
	return stateOf(p, fi), nil
}

func stateOf(p string, fi fs.FileInfo) pathState {
	st := fi.Sys().(*syscall.Stat_t)
	return pathState{Path: p, Exists: true, Mode: st.Mode & 0o7777, UID: int(st.Uid), GID: int(st.Gid), Dir: fi.IsDir(), Link: fi.Mode()&fs.ModeSymlink != 0}
}

// change is one thing apply will do to one path.
type change struct {
	Before pathState `json:"before"`
	Create bool      `json:"create,omitempty"`
	Mode   uint32    `json:"mode"`
	UID    int       `json:"uid"`
	GID    int       `json:"gid"`
	// Tree is the root of the tree policy this change comes from ("" for named paths).
	Tree string `json:"tree,omitempty"`
}

func (c change) String() string {
	after := pathState{Path: c.Before.Path, Exists: true, Mode: c.Mode, UID: c.UID, GID: c.GID}
	if c.Create {
		return "create " + after.String()
	}
	return fmt.Sprintf("%s → %s:%s %04o", c.Before, userName(c.UID), groupName(c.GID), c.Mode)
}

// plan works out the changes from the current state of the paths.
func (p *PathMode) plan(env *steps.Env) ([]change, error) {
	var out []change
	seen := map[string]bool{}
	add := func(c change) {
		if seen[c.Before.Path] {
			return
		}
		seen[c.Before.Path] = true
		out = append(out, c)
	}
	for _, s := range p.Paths {
		path, err := env.Text(s.Path)
		if err != nil {
			return nil, err
		}
		path = filepath.Clean(path)
		if !filepath.IsAbs(path) {
			return nil, fmt.Errorf("%s is not an absolute path", path)
		}
		uid, gid := -1, -1
		if !s.Owner.IsZero() {
			o, err := env.Text(s.Owner)
			if err != nil {
				return nil, err
			}
			if uid, err = lookupUID(o); err != nil {
				return nil, err
			}
		}
		if !s.Group.IsZero() {
			g, err := env.Text(s.Group)
			if err != nil {
				return nil, err
			}
			if gid, err = lookupGID(g); err != nil {
				return nil, err
			}
		}
		cur, err := statPath(path)
		if err != nil {
			return nil, err
		}
		if cur.Link {
			// a link is another path's owner and mode: chown/chmod would change what it points to
			// while Lstat here kept seeing the link, so the step would never be done
			to, _ := os.Readlink(path)
			return nil, fmt.Errorf("%s is a symbolic link to %s: path-mode sets owners and modes on the path itself; name the path the link points to in the runbook, or remove the link if it is not yours", path, to)
		}
		if !cur.Exists {
			if !s.Create {
				return nil, fmt.Errorf("%s does not exist (and the step does not create it)", path)
			}
			// Missing parents are created root-owned 0755, like mkdir -p, and removed on rollback.
			var missing []string
			for d := filepath.Dir(path); ; d = filepath.Dir(d) {
				st, err := statPath(d)
				if err != nil {
					return nil, err
				}
				if st.Exists {
					break
				}
				missing = append([]string{d}, missing...)
			}
			for _, d := range missing {
				add(change{Before: pathState{Path: d}, Create: true, Mode: 0o755, UID: 0, GID: 0})
			}
			c := change{Before: cur, Create: true, Mode: 0o755, UID: 0, GID: 0}
			if s.Mode != "" {
				c.Mode, _ = parseMode(s.Mode)
			}
			if uid >= 0 {
				c.UID = uid
			}
			if gid >= 0 {
				c.GID = gid
			}
			add(c)
		} else {
			c := change{Before: cur, Mode: cur.Mode, UID: cur.UID, GID: cur.GID}
			if s.Mode != "" {
				c.Mode, _ = parseMode(s.Mode)
			}
			if uid >= 0 {
				c.UID = uid
			}
			if gid >= 0 {
				c.GID = gid
			}
			if c.Mode != cur.Mode || c.UID != cur.UID || c.GID != cur.GID {
				add(c)
			}
			if s.Tree != "" && cur.Dir {
				tc, err := treeChanges(path, s.Tree)
				if err != nil {
					return nil, err
				}
				for _, c := range tc {
					add(c)
				}
			}
		}
		if !s.SearchableBy.IsZero() {
			who, err := env.Text(s.SearchableBy)
			if err != nil {
				return nil, err
			}
			pc, err := parentChanges(path, who)
			if err != nil {
				return nil, err
			}
			for _, c := range pc {
				add(c)
			}
		}
	}
	return out, nil
}

// treeBits returns the bits a tree policy adds to directories and files, and removes from both.
func treeBits(policy string) (dirAdd, fileAdd, remove uint32) {
	dirAdd, fileAdd, remove = 0o050, 0o040, 0o020
	if policy == "group-read-setgid" {
		dirAdd |= 0o2000
	}
	return
}

// treeChanges walks a tree (following symlinked directories once) and lists what the policy changes.
func treeChanges(root, policy string) ([]change, error) {
	dirAdd, fileAdd, remove := treeBits(policy)
	var out []change
	visited := map[string]bool{}
	var walk func(dir string) error
	walk = func(dir string) error {
		real, err := filepath.EvalSymlinks(dir)
		if err != nil || visited[real] {
			return nil
		}
		visited[real] = true
		return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, os.ErrNotExist) { // a live data directory: files come and go
					return nil
				}
				return err
			}
			if d.Type()&fs.ModeSymlink != 0 {
				if fi, err := os.Stat(p); err == nil && fi.IsDir() {
					return walk(p + "/")
				}
				return nil
			}
			if p == dir || p == strings.TrimSuffix(dir, "/") {
				if strings.HasSuffix(dir, "/") { // a followed symlink's target: treat it as a directory in the tree
					return changeFor(p, dirAdd, remove, root, &out)
				}
				return nil // the root itself is governed by the path's own mode
			}
			if d.IsDir() {
				return changeFor(p, dirAdd, remove, root, &out)
			}
			if d.Type().IsRegular() {
				return changeFor(p, fileAdd, remove, root, &out)
			}
			return nil
		})
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	return out, nil
}

func changeFor(p string, add, remove uint32, root string, out *[]change) error {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	st := stateOf(p, fi)
	want := (st.Mode | add) &^ remove
	if want != st.Mode {
		*out = append(*out, change{Before: st, Mode: want, UID: st.UID, GID: st.GID, Tree: root})
	}
	return nil
}

// parentChanges makes every parent of path searchable by the named user.
func parentChanges(path, who string) ([]change, error) {
	uid, err := lookupUID(who)
	if err != nil {
		return nil, err
	}
	groups, err := userGroups(who)
	if err != nil {
		return nil, err
	}
	var out []change
	for d := filepath.Dir(path); d != "/"; d = filepath.Dir(d) {
		st, err := statPath(d)
		if err != nil || !st.Exists {
			continue
		}
		var bit uint32
		switch {
		case st.UID == uid:
			bit = 0o100
		case groups[st.GID]:
			bit = 0o010
		default:
			bit = 0o001
		}
		if st.Mode&bit == 0 {
			out = append(out, change{Before: st, Mode: st.Mode | bit, UID: st.UID, GID: st.GID})
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i].Before.Path) < len(out[j].Before.Path) })
	return out, nil
}

// Describe lists every path and the mode, owner and group it will have.
func (p *PathMode) Describe(env *steps.Env) []steps.Action {
	var out []steps.Action
	for _, s := range p.Paths {
		path := env.Describe(s.Path)
		var words []string
		if s.Create {
			words = append(words, "mkdir -p (if missing)")
		}
		if !s.Owner.IsZero() || !s.Group.IsZero() {
			words = append(words, "chown "+env.Describe(s.Owner)+":"+env.Describe(s.Group))
		}
		if s.Mode != "" {
			words = append(words, "chmod "+s.Mode)
		}
		switch s.Tree {
		case "group-read":
			words = append(words, "below it: directories g+rx, files g+r, no g+w")
		case "group-read-setgid":
			words = append(words, "below it: directories g+rxs, files g+r, no g+w")
		}
		if !s.SearchableBy.IsZero() {
			words = append(words, "parents searchable by "+env.Describe(s.SearchableBy)+" (g+x or o+x where missing)")
		}
		out = append(out, steps.Action{Kind: steps.ActFile, Target: "local", Text: path + ": " + strings.Join(words, "; ")})
	}
	if chs, err := p.plan(env); err == nil && len(chs) > 0 {
		var b strings.Builder
		b.WriteString("# as things stand now:")
		for i, c := range chs {
			if i == 40 {
				fmt.Fprintf(&b, "\n… and %d more", len(chs)-40)
				break
			}
			b.WriteString("\n" + c.String())
		}
		out = append(out, steps.Action{Kind: steps.ActFile, Target: "local", Text: b.String()})
	}
	out = append(out, steps.Action{Kind: steps.ActFile, Target: "local", Text: "# rollback: every changed path back to its recorded mode, owner and group; directories this step created are removed with their contents"})
	return out
}

// Check compares the paths with what they must be.
func (p *PathMode) Check(ctx context.Context, env *steps.Env) steps.Check {
	chs, err := p.plan(env)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.BlockedBy(err.Error(), "create the missing user, group or path first, or fix the runbook's parameters")
	}
	if len(chs) == 0 {
		return steps.AlreadyDone("every path has its owner, group and mode")
	}
	what := chs[0].String()
	if len(chs) > 1 {
		what += fmt.Sprintf(" (and %d more)", len(chs)-1)
	}
	return steps.ReadyTo(steps.Update, "%d path(s) to change: %s", len(chs), what)
}

type pathRecord struct {
	Changes []change `json:"changes"`
	// Trees records each tree's policy and whether its root had no group access before, so
	// rollback can close files created inside it after apply.
	Trees map[string]string `json:"trees,omitempty"`
}

// Apply records the originals, then changes the paths.
func (p *PathMode) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	chs, err := p.plan(env)
	if err != nil {
		return nil, err
	}
	var rec pathRecord
	if _, err := env.LoadRecord("host", "paths.json", &rec); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, c := range rec.Changes {
		known[c.Before.Path] = true
	}
	// A retried apply keeps the first original of each path.
	for _, c := range chs {
		if !known[c.Before.Path] {
			rec.Changes = append(rec.Changes, c)
		}
	}
	if rec.Trees == nil {
		rec.Trees = map[string]string{}
	}
	for _, s := range p.Paths {
		if s.Tree == "" {
			continue
		}
		path, _ := env.Text(s.Path)
		path = filepath.Clean(path)
		if _, ok := rec.Trees[path]; !ok {
			st, _ := statPath(path)
			if st.Mode&0o070 == 0 {
				rec.Trees[path] = s.Tree // was private: rollback closes files created since
			} else {
				rec.Trees[path] = ""
			}
		}
	}
	if err := env.SaveRecord("host", "paths.json", rec); err != nil {
		return nil, err
	}
	for _, c := range chs {
		if err := applyChange(c); err != nil {
			return nil, err
		}
		env.Info(c.String())
	}
	return nil, nil
}

func applyChange(c change) error {
	p := c.Before.Path
	if c.Create {
		if err := os.Mkdir(p, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	if err := os.Lchown(p, c.UID, c.GID); err != nil {
		return err
	}
	// chmod after chown: chown clears setgid on some systems.
	if err := os.Chmod(p, fsutil.FileMode(c.Mode)); err != nil {
		if errors.Is(err, os.ErrNotExist) && c.Tree != "" {
			return nil
		}
		return err
	}
	return nil
}

// Verify re-reads every path.
func (p *PathMode) Verify(ctx context.Context, env *steps.Env) error {
	chs, err := p.plan(env)
	if err != nil {
		return err
	}
	if len(chs) > 0 {
		return &steps.VerifyError{What: "paths", Expected: "every path as the runbook says", Found: chs[0].String()}
	}
	return nil
}

// Rollback restores the recorded originals and removes created directories.
func (p *PathMode) Rollback(ctx context.Context, env *steps.Env) error {
	var rec pathRecord
	ok, err := env.LoadRecord("host", "paths.json", &rec)
	if err != nil {
		return err
	}
	if !ok {
		env.Info("no record of changes: this step changed nothing")
		return nil
	}
	var errs []error
	// Files created inside a formerly private tree since apply were made group-readable by the
	// server or the policy: close them again (only the bits the policy adds).
	recorded := map[string]bool{}
	for _, c := range rec.Changes {
		recorded[c.Before.Path] = true
	}
	for root, policy := range rec.Trees {
		if policy == "" {
			continue
		}
		dirAdd, fileAdd, _ := treeBits(policy)
		_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || path == root || recorded[path] || d.Type()&fs.ModeSymlink != 0 {
				return nil
			}
			fi, err := os.Stat(path)
			if err != nil {
				return nil
			}
			st := stateOf(path, fi)
			bits := fileAdd
			if d.IsDir() {
				bits = dirAdd
			} else if !d.Type().IsRegular() {
				return nil
			}
			if st.Mode&bits != 0 {
				if err := os.Chmod(path, fsutil.FileMode(st.Mode&^bits)); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
			return nil
		})
	}
	for i := len(rec.Changes) - 1; i >= 0; i-- {
		c := rec.Changes[i]
		b := c.Before
		if c.Create {
			if err := os.RemoveAll(b.Path); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := os.Lchown(b.Path, b.UID, b.GID); err != nil {
			if errors.Is(err, os.ErrNotExist) && c.Tree != "" {
				continue
			}
			errs = append(errs, err)
			continue
		}
		if err := os.Chmod(b.Path, fsutil.FileMode(b.Mode)); err != nil && !(errors.Is(err, os.ErrNotExist) && c.Tree != "") {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	env.RemoveRecord("host", "paths.json")
	return nil
}

// userGroups returns the group ids a user belongs to (primary and supplementary).
func userGroups(name string) (map[int]bool, error) {
	u, err := lookupUser(name)
	if err != nil {
		return nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	out := map[int]bool{}
	for _, g := range ids {
		out[atoi(g)] = true
	}
	return out, nil
}
