package pg

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// PGPass is the `pgpass` kind: an entry `host:port:database:role:password` in an OS user's
// ~/.pgpass, with a password cairn generates (32 random letters and digits). The password is
// written only there; `pg-role` reads it back to set the role's SCRAM verifier.
type PGPass struct {
	// User is the OS user whose file it is (owner, 0600).
	User ref.Template `yaml:"user"`
	// File defaults to ~User/.pgpass.
	File     ref.Template `yaml:"file"`
	Host     ref.Template `yaml:"host"` // default "*"
	Port     ref.Template `yaml:"port"` // default "*"
	Database ref.Template `yaml:"database"`
	Role     ref.Template `yaml:"role"`
}

// registerPGPass adds the `pgpass` kind.
func registerPGPass(r *steps.Registry) {
	r.Register("pgpass", "a ~/.pgpass entry with a generated password, 0600, owned by the OS user", func() steps.Step { return &PGPass{} })
}

// Validate checks the fields.
func (p *PGPass) Validate() error {
	var errs []error
	if p.User.IsZero() {
		errs = append(errs, errors.New("give `user:` (the OS user whose .pgpass it is)"))
	}
	if p.Role.IsZero() {
		errs = append(errs, errors.New("give `role:`"))
	}
	if p.Database.IsZero() {
		errs = append(errs, errors.New("give `database:`"))
	}
	return errors.Join(errs...)
}

type pgpassSpec struct {
	file, key string
	uid, gid  int
}

func orStar(env *steps.Env, t ref.Template) (string, error) {
	if t.IsZero() {
		return "*", nil
	}
	return env.Text(t)
}

func pgpassEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `:`, `\:`).Replace(s)
}

func (p *PGPass) spec(env *steps.Env) (pgpassSpec, error) {
	var s pgpassSpec
	name, err := env.Text(p.User)
	if err != nil {
		return s, err
	}
	u, err := user.Lookup(name)
	if err != nil {
		return s, fmt.Errorf("OS user %s does not exist", name)
	}
	s.uid, _ = strconv.Atoi(u.Uid)
	s.gid, _ = strconv.Atoi(u.Gid)
	s.file = filepath.Join(u.HomeDir, ".pgpass")
	if !p.File.IsZero() {
		if s.file, err = env.Text(p.File); err != nil {
			return s, err
		}
	}
	var fields []string
	for _, t := range []ref.Template{p.Host, p.Port, p.Database, p.Role} {
		v, err := orStar(env, t)
		if err != nil {
			return s, err
		}
		if v != "*" {
			v = pgpassEscape(v)
		}
		fields = append(fields, v)
	}
	s.key = strings.Join(fields, ":") + ":"
	return s, nil
}

// shadow finds the first line, before the step's own entry, that libpq would use instead of it:
// libpq reads .pgpass top down and takes the first line whose host, port, database and role each
// equal the connection's or are *. A line overlapping the step's key (same role, a wildcard where
// the step names a value, or the reverse) with another password would be read first, so the
// step's entry would never be used. It returns the line number and the line with its password
// masked, or 0.
func (s pgpassSpec) shadow(content string) (int, string) {
	want := pgpassFields(strings.TrimSuffix(s.key, ":"))
	for i, l := range strings.Split(content, "\n") {
		if strings.HasPrefix(l, s.key) && len(l) > len(s.key) {
			return 0, "" // the step's own entry comes first
		}
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		f := pgpassFields(l)
		if len(f) < 5 || len(want) != 4 {
			continue
		}
		overlap := true
		for j := 0; j < 4; j++ {
			if f[j] != "*" && want[j] != "*" && f[j] != want[j] {
				overlap = false
			}
		}
		if overlap {
			return i + 1, strings.Join(f[:4], ":") + ":••••"
		}
	}
	return 0, ""
}

// pgpassFields splits a .pgpass line at its unescaped colons (the fields keep their escapes).
func pgpassFields(l string) []string {
	var out []string
	var cur strings.Builder
	for i := 0; i < len(l); i++ {
		switch {
		case l[i] == '\\' && i+1 < len(l):
			cur.WriteByte(l[i])
			cur.WriteByte(l[i+1])
			i++
		case l[i] == ':' && len(out) < 4:
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(l[i])
		}
	}
	return append(out, cur.String())
}

// state says whether the entry is there, and whether the file's owner and mode are right.
func (s pgpassSpec) state() (content string, exists, hasEntry, modeOK bool, fi os.FileInfo, err error) {
	b, err := os.ReadFile(s.file)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, false, false, nil, nil
	}
	if err != nil {
		return "", false, false, false, nil, err
	}
	content = string(b)
	for _, l := range strings.Split(content, "\n") {
		if strings.HasPrefix(l, s.key) && len(l) > len(s.key) {
			hasEntry = true
			break
		}
	}
	fi, err = os.Stat(s.file)
	if err != nil {
		return
	}
	st := fi.Sys().(*syscall.Stat_t)
	modeOK = fi.Mode().Perm() == 0o600 && int(st.Uid) == s.uid
	return content, true, hasEntry, modeOK, fi, nil
}

// Describe shows the entry with its password masked.
func (p *PGPass) Describe(env *steps.Env) []steps.Action {
	file := "~" + env.Describe(p.User) + "/.pgpass"
	if !p.File.IsZero() {
		file = env.Describe(p.File)
	}
	show := func(t ref.Template) string {
		if t.IsZero() {
			return "*"
		}
		return env.Describe(t)
	}
	return []steps.Action{
		{Kind: steps.ActFile, Target: "local", Text: fmt.Sprintf("append to %s (created if missing; %s:<primary group> 0600):\n%s:%s:%s:%s:•••• (32 random characters generated by cairn, written only here)",
			file, env.Describe(p.User), show(p.Host), show(p.Port), show(p.Database), show(p.Role))},
		{Kind: steps.ActFile, Target: "local", Text: "# rollback: the file back as it was (removed if this step created it)"},
	}
}

// Check reads the file.
func (p *PGPass) Check(ctx context.Context, env *steps.Env) steps.Check {
	s, err := p.spec(env)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.CannotTell("%v", err)
	}
	content, exists, has, modeOK, _, err := s.state()
	line, shadow := s.shadow(content)
	switch {
	case err != nil:
		return steps.CannotTell("read %s: %v", s.file, err)
	case line > 0:
		return steps.BlockedBy(fmt.Sprintf("%s line %d (%s) matches the same connections as %s… and comes first: libpq uses the first matching line, so cairn's entry would never be read", s.file, line, shadow, s.key),
			fmt.Sprintf("remove or narrow line %d of %s by hand (after a backup), or give the step a host/port/database that line does not match", line, s.file))
	case !exists:
		return steps.ReadyTo(steps.Create, "%s does not exist: create it with a generated password", s.file)
	case !has:
		return steps.ReadyTo(steps.Update, "%s has no entry %s…: add one", s.file, s.key)
	case !modeOK:
		return steps.ReadyTo(steps.Update, "%s is not 0600 and owned by its user: fix it", s.file)
	}
	return steps.AlreadyDone("%s has an entry %s…, 0600, owned by its user", s.file, s.key)
}

type pgpassRecord struct {
	File     string `json:"file"`
	Existed  bool   `json:"existed"`
	Original []byte `json:"original,omitempty"`
	Mode     uint32 `json:"mode"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
}

// Apply adds the entry (or fixes the mode).
func (p *PGPass) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	s, err := p.spec(env)
	if err != nil {
		return nil, err
	}
	content, exists, has, _, fi, err := s.state()
	if err != nil {
		return nil, err
	}
	if line, shadow := s.shadow(content); line > 0 {
		return nil, fmt.Errorf("%s line %d (%s) comes before cairn's entry and libpq would use it instead: nothing changed; remove or narrow that line by hand", s.file, line, shadow)
	}
	if _, ok, err := readRecord(env, "pgpass.json"); err != nil {
		return nil, err
	} else if !ok {
		rec := pgpassRecord{File: s.file, Existed: exists, Original: []byte(content)}
		if fi != nil {
			st := fi.Sys().(*syscall.Stat_t)
			rec.Mode, rec.UID, rec.GID = uint32(fi.Mode().Perm()), int(st.Uid), int(st.Gid)
		}
		b, _ := json.Marshal(rec)
		if err := writeRecord(env, "pgpass.json", b); err != nil {
			return nil, err
		}
	}
	if !has {
		pw := randomPassword(32)
		if env.Secrets != nil {
			env.Secrets(pw)
		}
		if content != "" && !strings.HasSuffix(content, "\n") {
			content += "\n"
		}
		content += s.key + pw + "\n"
		env.Info("added " + s.key + "•••• to " + s.file)
	}
	if err := fsutil.WriteAtomicAs(s.file, []byte(content), 0o600, s.uid, s.gid); err != nil {
		return nil, err
	}
	return nil, nil
}

func randomPassword(n int) string {
	const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// Verify re-reads the file.
func (p *PGPass) Verify(ctx context.Context, env *steps.Env) error {
	if ch := p.Check(ctx, env); ch.State != steps.Done {
		return &steps.VerifyError{What: ".pgpass", Expected: "the entry, 0600, owned by its user", Found: ch.Reason}
	}
	return nil
}

// Rollback restores the file as it was.
func (p *PGPass) Rollback(ctx context.Context, env *steps.Env) error {
	b, ok, err := readRecord(env, "pgpass.json")
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	var rec pgpassRecord
	if err := json.Unmarshal(b, &rec); err != nil {
		return err
	}
	if rec.Existed {
		err = fsutil.WriteAtomicAs(rec.File, rec.Original, fsutil.FileMode(rec.Mode), rec.UID, rec.GID)
	} else {
		err = os.Remove(rec.File)
		if errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	if err != nil {
		return err
	}
	dropRecord(env, "pgpass.json")
	return nil
}
