package pgbackrest

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/host"
)

// Command is the `pgbackrest` kind.
type Command struct {
	Bin    ref.Template `yaml:"bin"`
	Config ref.Template `yaml:"config"`
	Stanza ref.Template `yaml:"stanza"`
	// Command is one of stanza-create, check, backup, info, expire.
	Command string `yaml:"command"`
	// User runs it (runuser -u USER); "root" runs it as cairn.
	User ref.Template `yaml:"user"`
	// Args are extra options, e.g. [--type=full].
	Args []ref.Template `yaml:"args"`
	// MinFullBackups (backup): done when this many full backups were taken — those in the
	// repository plus those pgBackRest's expire log says it expired.
	MinFullBackups int `yaml:"min_full_backups"`
	// RetentionFull (expire): --repo1-retention-full; done when no more full backups remain than
	// this and older ones were expired.
	RetentionFull ref.Template `yaml:"retention_full"`
}

// Validate checks the command.
func (c *Command) Validate() error {
	var errs []error
	switch c.Command {
	case "stanza-create", "check", "backup", "info":
	case "expire":
		if c.RetentionFull.IsZero() {
			errs = append(errs, errors.New("expire: give `retention_full:` (how many full backups to keep)"))
		}
	default:
		errs = append(errs, fmt.Errorf("command %q: use stanza-create, check, backup, info or expire", c.Command))
	}
	if c.Config.IsZero() || c.Stanza.IsZero() || c.User.IsZero() {
		errs = append(errs, errors.New("give `config:`, `stanza:` and `user:`"))
	}
	return errors.Join(errs...)
}

type resolved struct {
	bin, config, stanza, user string
	retention                 int
}

func (c *Command) resolve(env *steps.Env) (resolved, error) {
	r := resolved{bin: "pgbackrest"}
	var err error
	if !c.Bin.IsZero() {
		if r.bin, err = env.Text(c.Bin); err != nil {
			return r, err
		}
	}
	if r.config, err = env.Text(c.Config); err != nil {
		return r, err
	}
	if r.stanza, err = env.Text(c.Stanza); err != nil {
		return r, err
	}
	if r.user, err = env.Text(c.User); err != nil {
		return r, err
	}
	if c.Command == "expire" {
		v, err := env.Text(c.RetentionFull)
		if err != nil {
			return r, err
		}
		if r.retention, err = strconv.Atoi(v); err != nil || r.retention < 1 {
			return r, fmt.Errorf("retention_full: %q is not a count of full backups", v)
		}
	}
	return r, nil
}

func asUser(user string, argv []string) []string {
	if user == "" || user == "root" {
		return argv
	}
	return append([]string{"runuser", "-u", user, "--"}, argv...)
}

func (c *Command) argv(r resolved, env *steps.Env, text func(ref.Template) (string, error)) ([]string, error) {
	argv := []string{r.bin, "--config=" + r.config, "--stanza=" + r.stanza, "--log-level-console=info"}
	if c.Command == "expire" {
		ret := strconv.Itoa(r.retention)
		if r.retention == 0 {
			ret = env.Describe(c.RetentionFull)
		}
		argv = append(argv, "--repo1-retention-full="+ret)
	}
	for _, a := range c.Args {
		s, err := text(a)
		if err != nil {
			return nil, err
		}
		argv = append(argv, s)
	}
	return asUser(r.user, append(argv, c.Command)), nil
}

// Describe shows the command line.
func (c *Command) Describe(env *steps.Env) []steps.Action {
	r := resolved{bin: "pgbackrest", config: env.Describe(c.Config), stanza: env.Describe(c.Stanza), user: env.Describe(c.User)}
	if !c.Bin.IsZero() {
		r.bin = env.Describe(c.Bin)
	}
	argv, _ := c.argv(r, env, func(t ref.Template) (string, error) { return env.Describe(t), nil })
	out := []steps.Action{
		{Kind: steps.ActExec, Target: "local", Text: "# check: " + strings.Join(asUser(r.user, []string{r.bin, "--config=" + r.config, "--stanza=" + r.stanza, "--log-level-file=off", "--output=json", "info"}), " ")},
		{Kind: steps.ActExec, Target: "local", Text: strings.Join(argv, " ")},
	}
	if c.Command == "stanza-create" {
		out = append(out, steps.Action{Kind: steps.ActExec, Target: "local", Text: "# rollback (only a stanza this step created), as root:\n" +
			r.bin + " --config=" + r.config + " --stanza=" + r.stanza + " --log-level-file=off stop\n" +
			r.bin + " --config=" + r.config + " --stanza=" + r.stanza + " --log-level-file=off stanza-delete --force\n" +
			r.bin + " --config=" + r.config + " --stanza=" + r.stanza + " --log-level-file=off start"})
	}
	return out
}

// repoState is what `pgbackrest info` and the expire log say.
type repoState struct {
	code        int // stanza status code: 0 ok, 1 missing stanza path, 2 no valid backups, …
	message     string
	fulls       []string // full backup labels in the repository
	expired     []string // full backup labels pgBackRest's expire log says it expired
	walArchived bool
	// the stanza's cluster as the repository records it, and the cluster at pg1-path as its
	// pg_control says: a stanza of the same name made for another cluster is not this one's
	dbID          int
	systemID      uint64
	version       string
	localSystemID uint64
	localErr      error
}

// localSystemID reads the system identifier of the cluster the stanza's pg1-path names, from its
// global/pg_control (the first 8 bytes of ControlFileData, in the server's byte order — little
// endian on every platform pgBackRest and cairn run on). pgBackRest records the same value
// in the repository when it creates the stanza.
func localSystemID(r resolved) (uint64, error) {
	b, err := os.ReadFile(r.config)
	if err != nil {
		return 0, err
	}
	data, ok := host.ReadINI(string(b), r.stanza, "pg1-path")
	if !ok {
		return 0, fmt.Errorf("%s has no pg1-path for stanza %s", r.config, r.stanza)
	}
	f, err := os.Open(filepath.Join(data, "global", "pg_control"))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var id [8]byte
	if _, err := io.ReadFull(f, id[:]); err != nil {
		return 0, fmt.Errorf("read %s: %w", f.Name(), err)
	}
	return binary.LittleEndian.Uint64(id[:]), nil
}

// foreign says why the stanza in the repository is not this cluster's ("" when it is, or when
// there is no stanza yet).
func (st repoState) foreign(r resolved) (reason, fix string) {
	if st.systemID == 0 || !st.stanzaExists() {
		return "", ""
	}
	if st.localErr != nil || st.systemID == st.localSystemID {
		// unreadable here (a repository host whose pg1-host is another machine): pgBackRest
		// itself refuses a stanza of another system id when it next reaches the cluster
		return "", ""
	}
	return fmt.Sprintf("stanza %s in the repository is of another cluster (system id %d, PostgreSQL %s), not of the one at pg1-path (system id %d)", r.stanza, st.systemID, st.version, st.localSystemID),
		fmt.Sprintf("give this cluster its own stanza (-p stanza=…); or, if that stanza's backups are not needed, delete it: pgbackrest --config=%s --stanza=%s stop && pgbackrest --config=%s --stanza=%s stanza-delete --force", r.config, r.stanza, r.config, r.stanza)
}

var expiredRe = regexp.MustCompile(`expire full backup (?:set )?(\d{8}-\d{6}F)`)

func (c *Command) state(ctx context.Context, env *steps.Env, r resolved) (repoState, error) {
	var st repoState
	res, err := proc.Run(ctx, env, proc.Cmd{Quiet: true, Argv: asUser(r.user, []string{r.bin, "--config=" + r.config, "--stanza=" + r.stanza, "--log-level-file=off", "--output=json", "info"})})
	if err != nil {
		return st, fmt.Errorf("pgbackrest info: %w", err)
	}
	var info []struct {
		Status struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"status"`
		Backup []struct {
			Label string `json:"label"`
			Type  string `json:"type"`
		} `json:"backup"`
		Archive []struct {
			Max string `json:"max"`
		} `json:"archive"`
		DB []struct {
			ID       int    `json:"id"`
			SystemID uint64 `json:"system-id"`
			Version  string `json:"version"`
		} `json:"db"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &info); err != nil || len(info) == 0 {
		return st, fmt.Errorf("pgbackrest info: unexpected output %q", res.Stdout)
	}
	st.code, st.message = info[0].Status.Code, info[0].Status.Message
	for _, db := range info[0].DB { // the stanza's current cluster is its highest history id
		if db.ID >= st.dbID {
			st.dbID, st.systemID, st.version = db.ID, db.SystemID, db.Version
		}
	}
	st.localSystemID, st.localErr = localSystemID(r)
	for _, b := range info[0].Backup {
		if b.Type == "full" {
			st.fulls = append(st.fulls, b.Label)
		}
	}
	for _, a := range info[0].Archive {
		if a.Max != "" {
			st.walArchived = true
		}
	}
	// pgBackRest's own record of what it expired (log-path/<stanza>-expire.log).
	logPath := "/var/log/pgbackrest"
	if b, err := os.ReadFile(r.config); err == nil {
		if v, ok := host.ReadINI(string(b), "global", "log-path"); ok {
			logPath = v
		}
	}
	if b, err := os.ReadFile(filepath.Join(logPath, r.stanza+"-expire.log")); err == nil {
		seen := map[string]bool{}
		for _, m := range expiredRe.FindAllStringSubmatch(string(b), -1) {
			if !seen[m[1]] {
				seen[m[1]] = true
				st.expired = append(st.expired, m[1])
			}
		}
	}
	return st, nil
}

func (st repoState) stanzaExists() bool { return st.code == 0 || st.code == 2 }

// judge says whether the command's work is in place, and why.
func (c *Command) judge(st repoState, r resolved) (bool, string) {
	taken := len(st.fulls) + len(st.expired)
	switch c.Command {
	case "stanza-create":
		if st.stanzaExists() {
			return true, "stanza exists (" + st.message + ")"
		}
		return false, "stanza does not exist (" + st.message + ")"
	case "check":
		if st.stanzaExists() && st.walArchived {
			return true, "WAL is being archived into the stanza"
		}
		return false, "no WAL archived into the stanza yet (" + st.message + ")"
	case "backup":
		n := c.MinFullBackups
		if n < 1 {
			n = 1
		}
		if st.code == 0 && taken >= n {
			return true, fmt.Sprintf("%d full backup(s) taken (%d in the repository, %d expired)", taken, len(st.fulls), len(st.expired))
		}
		return false, fmt.Sprintf("%d of %d full backups taken (%s)", taken, n, st.message)
	case "expire":
		if len(st.fulls) <= r.retention && len(st.expired) > 0 {
			return true, fmt.Sprintf("%d full backup(s) kept, %s expired", len(st.fulls), strings.Join(st.expired, ", "))
		}
		if st.code == 0 && len(st.fulls) <= r.retention && len(st.fulls) == taken {
			return true, fmt.Sprintf("%d full backup(s) taken, within the retention of %d: nothing to expire", taken, r.retention)
		}
		return false, fmt.Sprintf("%d full backup(s) in the repository, retention %d (%s)", len(st.fulls), r.retention, st.message)
	}
	if st.code == 0 {
		return true, "stanza " + st.message + fmt.Sprintf(", %d full backup(s)", len(st.fulls))
	}
	return false, "stanza status: " + st.message
}

// Check reads the repository.
func (c *Command) Check(ctx context.Context, env *steps.Env) steps.Check {
	r, err := c.resolve(env)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	st, err := c.state(ctx, env, r)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if why, fix := st.foreign(r); why != "" {
		return steps.BlockedBy(why, fix)
	}
	done, why := c.judge(st, r)
	if done {
		if st.localErr != nil {
			return steps.AlreadyDone("%s (system id %d; this cluster's not read here: %v)", why, st.systemID, st.localErr)
		}
		return steps.AlreadyDone("%s (system id %d, this cluster's)", why, st.systemID)
	}
	change := steps.Update
	if c.Command == "stanza-create" || c.Command == "backup" {
		change = steps.Create
	}
	return steps.ReadyTo(change, "%s", why)
}

// Apply runs the command.
func (c *Command) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	r, err := c.resolve(env)
	if err != nil {
		return nil, err
	}
	st, err := c.state(ctx, env, r)
	if err != nil && c.Command == "stanza-create" {
		return nil, err
	}
	if why, fix := st.foreign(r); err == nil && why != "" {
		return nil, fmt.Errorf("%s: nothing was run; %s", why, fix)
	}
	if c.Command == "stanza-create" {
		if !st.stanzaExists() {
			if err := writeMarker(env, "stanza-created"); err != nil {
				return nil, err
			}
		}
	}
	argv, err := c.argv(r, env, env.Text)
	if err != nil {
		return nil, err
	}
	res, err := proc.Run(ctx, env, proc.Cmd{Argv: argv})
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("stdout", strings.TrimRight(res.Stdout, "\n")), nil
}

// OutputNames declares the outputs.
func (c *Command) OutputNames() []string { return []string{"stdout"} }

// Verify reads the repository again.
func (c *Command) Verify(ctx context.Context, env *steps.Env) error {
	r, err := c.resolve(env)
	if err != nil {
		return err
	}
	st, err := c.state(ctx, env, r)
	if err != nil {
		return err
	}
	if why, _ := st.foreign(r); why != "" {
		return &steps.VerifyError{What: "stanza " + r.stanza, Expected: fmt.Sprintf("this cluster's (system id %d)", st.localSystemID), Found: why}
	}
	if done, why := c.judge(st, r); !done {
		return &steps.VerifyError{What: "pgbackrest " + c.Command, Expected: "its work in the repository", Found: why}
	}
	return nil
}

// Rollback deletes a stanza this step created; other commands leave their results in the stanza.
func (c *Command) Rollback(ctx context.Context, env *steps.Env) error {
	if c.Command != "stanza-create" {
		env.Info("nothing to undo on its own: what pgbackrest " + c.Command + " left lives in the stanza, which the stanza-create step's rollback deletes")
		return nil
	}
	if !hasMarker(env, "stanza-created") {
		env.Info("the stanza existed before this run: left in place")
		return nil
	}
	r, err := c.resolve(env)
	if err != nil {
		return err
	}
	base := []string{r.bin, "--config=" + r.config, "--stanza=" + r.stanza, "--log-level-file=off", "--log-level-console=info"}
	for _, cmd := range [][]string{{"stop"}, {"stanza-delete", "--force"}, {"start"}} {
		argv := append(append([]string(nil), base...), cmd...)
		if _, err := proc.Run(ctx, env, proc.Cmd{Argv: argv}); err != nil {
			return err
		}
	}
	removeMarker(env, "stanza-created")
	return nil
}

// writeMarker records, in the run's work directory, that this step did something (created the
// stanza) — what its rollback may undo.
func writeMarker(env *steps.Env, name string) error {
	return env.WriteRecord("pgbackrest", name, []byte("1\n"))
}

func hasMarker(env *steps.Env, name string) bool {
	_, ok, _ := env.ReadRecord("pgbackrest", name)
	return ok
}

func removeMarker(env *steps.Env, name string) { env.RemoveRecord("pgbackrest", name) }
