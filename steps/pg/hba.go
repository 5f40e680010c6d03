package pg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/jackc/pgx/v5"
)

// HBA is the `pg-hba` kind. Each line is placed before the first existing line of its connection
// type: a `local` line before the first `local` line, a `host…` line (host, hostssl, hostnossl,
// hostgssenc, hostnogssenc) before the first `host…` line — so a later `host all all …` line cannot
// let the role in first. Lines keep the runbook's order. The file is read and written by cairn on
// the database host (it must run there as root or as the server's OS user).
type HBA struct {
	Conn  `yaml:",inline"`
	Lines []ref.Template `yaml:"lines"`
}

// registerHBA adds the `pg-hba` kind.
func registerHBA(r *steps.Registry) {
	r.Register("pg-hba", "pg_hba.conf lines placed before their type's first line, validated before reload", func() steps.Step { return &HBA{} })
}

// Validate checks the lines.
func (h *HBA) Validate() error {
	if len(h.Lines) == 0 {
		return errors.New("give `lines:`, e.g. - local postgres backrest scram-sha-256")
	}
	for i, l := range h.Lines {
		if hbaFamily(l.Raw) == "" {
			return fmt.Errorf("lines[%d]: %q does not start with local or host…", i, l.Raw)
		}
	}
	return nil
}

func hbaFamily(line string) string {
	f := strings.Fields(line)
	if len(f) == 0 {
		return ""
	}
	switch t := f[0]; {
	case t == "local":
		return "local"
	case strings.HasPrefix(t, "host"):
		return "host"
	}
	return ""
}

func normLine(l string) string { return strings.Join(strings.Fields(l), " ") }

// hbaPlace returns the file with the lines in place, and whether it changed. A line already placed
// correctly stays; a line present but after another line of its family is moved.
func hbaPlace(old string, lines []string) (string, bool) {
	want := map[string]bool{}
	for _, l := range lines {
		want[normLine(l)] = true
	}
	var body []string
	for _, l := range strings.Split(strings.TrimSuffix(old, "\n"), "\n") {
		if !want[normLine(l)] {
			body = append(body, l)
		}
	}
	if old == "" {
		body = nil
	}
	for _, fam := range []string{"local", "host"} {
		var ins []string
		for _, l := range lines {
			if hbaFamily(l) == fam {
				ins = append(ins, normLine(l))
			}
		}
		if len(ins) == 0 {
			continue
		}
		at := len(body)
		for i, l := range body {
			t := strings.TrimSpace(l)
			if strings.HasPrefix(t, "#") {
				continue
			}
			if hbaFamily(t) == fam {
				at = i
				break
			}
		}
		body = append(body[:at], append(ins, body[at:]...)...)
	}
	out := strings.Join(body, "\n") + "\n"
	return out, out != old
}

type hbaState struct {
	file     string
	old, new string
	changed  bool
	loaded   bool // the server loaded the file after its last change
	errRows  []string
	fi       os.FileInfo
}

func (h *HBA) lines(env *steps.Env) ([]string, error) {
	var out []string
	for _, l := range h.Lines {
		s, err := env.Text(l)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(s, "\n\r") {
			return nil, fmt.Errorf("a pg_hba line must be one line: %q", s)
		}
		out = append(out, s)
	}
	return out, nil
}

func (h *HBA) state(ctx context.Context, conn *pgx.Conn, env *steps.Env) (hbaState, error) {
	var st hbaState
	lines, err := h.lines(env)
	if err != nil {
		return st, err
	}
	if st.file, err = show(ctx, conn, "hba_file"); err != nil {
		return st, fmt.Errorf("SHOW hba_file: %w", err)
	}
	b, err := os.ReadFile(st.file)
	if err != nil {
		return st, fmt.Errorf("read %s (cairn must run on the database host as root or the server's user): %w", st.file, err)
	}
	st.old = string(b)
	st.new, st.changed = hbaPlace(st.old, lines)
	if st.fi, err = os.Stat(st.file); err != nil {
		return st, err
	}
	var loadTime time.Time
	if err := conn.QueryRow(ctx, "SELECT pg_conf_load_time()").Scan(&loadTime); err != nil {
		return st, err
	}
	st.loaded = !st.fi.ModTime().After(loadTime)
	st.errRows, err = hbaErrors(ctx, conn)
	return st, err
}

func hbaErrors(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT coalesce(line_number::text, '?') || ': ' || error FROM pg_hba_file_rules WHERE error IS NOT NULL ORDER BY line_number")
	if err != nil {
		return nil, fmt.Errorf("read pg_hba_file_rules: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Describe shows the lines, where they go, and the SQL that validates and reloads.
func (h *HBA) Describe(env *steps.Env) []steps.Action {
	target := h.Conn.Describe(env)
	var ls []string
	for _, l := range h.Lines {
		ls = append(ls, "+ "+env.Describe(l))
	}
	return []steps.Action{
		{Kind: steps.ActSQL, Target: target, Text: "SHOW hba_file"},
		{Kind: steps.ActFile, Target: "local", Text: "back up the hba_file to the run's directory, then insert (local lines before the first local line, host lines before the first host line):\n" + strings.Join(ls, "\n")},
		{Kind: steps.ActSQL, Target: target, Text: "SELECT line_number, error FROM pg_hba_file_rules WHERE error IS NOT NULL  -- any row: restore the file, reload nothing"},
		{Kind: steps.ActSQL, Target: target, Text: "SELECT pg_reload_conf()"},
		{Kind: steps.ActFile, Target: "local", Text: "# rollback: the original hba_file back byte for byte (mode and owner too), validate, SELECT pg_reload_conf()"},
	}
}

// Check reads the file and whether the server loaded it.
func (h *HBA) Check(ctx context.Context, env *steps.Env) steps.Check {
	conn, err := h.Connect(ctx, env)
	if err != nil {
		return steps.BlockedBy(err.Error(), "check the admin connection (PGHOST/PGPORT/PGUSER or -p conn=…)")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	st, err := h.state(ctx, conn, env)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.CannotTell("%v", err)
	}
	if len(st.errRows) > 0 && st.changed {
		return steps.BlockedBy(fmt.Sprintf("%s already has errors (pg_hba_file_rules): %s", st.file, strings.Join(st.errRows, "; ")), "fix the existing pg_hba.conf first; cairn will not reload a broken file")
	}
	switch {
	case st.changed:
		return steps.ReadyTo(steps.Update, "%s lacks the lines (or has them after other lines of their type)", st.file)
	case !st.loaded:
		return steps.ReadyTo(steps.Update, "%s has the lines but the server has not reloaded it since", st.file)
	}
	return steps.AlreadyDone("%s has the lines in place and the server has loaded it", st.file)
}

type hbaRecord struct {
	File     string `json:"file"`
	Original []byte `json:"original"`
	Written  []byte `json:"written"`
	Mode     uint32 `json:"mode"`
	UID      int    `json:"uid"`
	GID      int    `json:"gid"`
}

// Apply writes, validates, and reloads — or restores and reloads nothing.
func (h *HBA) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	conn, err := h.Connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	st, err := h.state(ctx, conn, env)
	if err != nil {
		return nil, err
	}
	if len(st.errRows) > 0 && st.changed {
		return nil, fmt.Errorf("%s already has errors: %s; nothing changed", st.file, strings.Join(st.errRows, "; "))
	}
	if st.changed {
		sys := st.fi.Sys().(*syscall.Stat_t)
		rec := hbaRecord{File: st.file, Original: []byte(st.old), Written: []byte(st.new), Mode: uint32(st.fi.Mode().Perm()), UID: int(sys.Uid), GID: int(sys.Gid)}
		if b, ok, err := env.ReadRecord("pg", "hba.json"); err != nil {
			return nil, err
		} else if ok {
			var prev hbaRecord
			if json.Unmarshal(b, &prev) == nil {
				rec.Original = prev.Original // a retried apply keeps the first original
			}
		}
		if err := env.SaveRecord("pg", "hba.json", rec); err != nil {
			return nil, err
		}
		if err := fsutil.WriteAtomicAs(st.file, []byte(st.new), fsutil.FileMode(rec.Mode), rec.UID, rec.GID); err != nil {
			return nil, err
		}
		bad, err := hbaErrors(ctx, conn)
		if err == nil && len(bad) > 0 {
			err = fmt.Errorf("the new %s is invalid (pg_hba_file_rules: %s)", st.file, strings.Join(bad, "; "))
		}
		if err != nil {
			if rerr := fsutil.WriteAtomicAs(st.file, []byte(st.old), fsutil.FileMode(rec.Mode), rec.UID, rec.GID); rerr != nil {
				return nil, fmt.Errorf("%w; and restoring the original failed: %v — restore it from %s", err, rerr, "the run directory")
			}
			return nil, fmt.Errorf("%w; the original file was restored and the server was not reloaded", err)
		}
		for _, l := range strings.Split(st.new, "\n") {
			if !strings.Contains(st.old, l+"\n") {
				env.Info("+ " + l)
			}
		}
	}
	return nil, reload(ctx, conn, st.file)
}

// reload asks the server to reload and waits until it has read the file.
func reload(ctx context.Context, conn *pgx.Conn, file string) error {
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("pg_reload_conf: %w", err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var t time.Time
		if err := conn.QueryRow(ctx, "SELECT pg_conf_load_time()").Scan(&t); err != nil {
			return err
		}
		if !fi.ModTime().After(t) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server has not reloaded %s after 10s", file)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Verify re-reads the file, checks pg_hba_file_rules and that the server loaded it.
func (h *HBA) Verify(ctx context.Context, env *steps.Env) error {
	conn, err := h.Connect(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	st, err := h.state(ctx, conn, env)
	if err != nil {
		return err
	}
	switch {
	case st.changed:
		return &steps.VerifyError{What: st.file, Expected: "the lines before other lines of their type", Found: "lines missing or misplaced"}
	case len(st.errRows) > 0:
		return &steps.VerifyError{What: "pg_hba_file_rules", Expected: "no error rows", Found: strings.Join(st.errRows, "; ")}
	case !st.loaded:
		return &steps.VerifyError{What: st.file, Expected: "loaded by the server", Found: "changed after the last reload"}
	}
	return nil
}

// Rollback restores the original file (or, if someone changed the file since, removes only the
// lines this step added), validates it and reloads.
func (h *HBA) Rollback(ctx context.Context, env *steps.Env) error {
	var rec hbaRecord
	ok, err := env.LoadRecord("pg", "hba.json", &rec)
	if err != nil {
		return err
	}
	if !ok {
		env.Info("no record: this step did not change the hba_file")
		return nil
	}
	conn, err := h.Connect(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	cur, err := os.ReadFile(rec.File)
	if err != nil {
		return err
	}
	restore := rec.Original
	if string(cur) != string(rec.Written) {
		lines, err := h.lines(env)
		if err != nil {
			return err
		}
		drop := map[string]bool{}
		for _, l := range lines {
			if !strings.Contains("\n"+string(rec.Original), "\n"+normLine(l)+"\n") {
				drop[normLine(l)] = true
			}
		}
		var keep []string
		for _, l := range strings.Split(string(cur), "\n") {
			if !drop[normLine(l)] {
				keep = append(keep, l)
			}
		}
		restore = []byte(strings.Join(keep, "\n"))
		env.Info(rec.File + " was changed by someone else since apply: removing only the lines this step added")
	}
	if err := fsutil.WriteAtomicAs(rec.File, restore, fsutil.FileMode(rec.Mode), rec.UID, rec.GID); err != nil {
		return err
	}
	if bad, err := hbaErrors(ctx, conn); err != nil || len(bad) > 0 {
		_ = fsutil.WriteAtomicAs(rec.File, cur, fsutil.FileMode(rec.Mode), rec.UID, rec.GID)
		return fmt.Errorf("the restored %s would be invalid (%v %s): left as it was", rec.File, err, strings.Join(bad, "; "))
	}
	if err := reload(ctx, conn, rec.File); err != nil {
		return err
	}
	env.RemoveRecord("pg", "hba.json")
	return nil
}
