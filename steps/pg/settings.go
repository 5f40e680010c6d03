package pg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/jackc/pgx/v5"
)

// Settings is the `pg-settings` kind: ALTER SYSTEM SET for each setting, then pg_reload_conf().
// A setting that needs a restart (archive_mode) is then pending: a `pg-restart` step applies it.
type Settings struct {
	Conn `yaml:",inline"`
	Set  map[string]ref.Template `yaml:"set"`
	// RestartOnRollback ("true"/"false", may be a reference) lets rollback restart the server when
	// a restored setting needs it; otherwise rollback says so and leaves the restart to the engineer.
	RestartOnRollback ref.Template `yaml:"restart_on_rollback"`
	// LogFile is pg_ctl's -l when the restart goes through pg_ctl.
	LogFile ref.Template `yaml:"log_file"`
}

// registerSettings adds the `pg-settings` kind.
func registerSettings(r *steps.Registry) {
	r.Register("pg-settings", "server settings via ALTER SYSTEM, recorded for exact rollback", func() steps.Step { return &Settings{} })
}

// Validate checks the fields.
func (s *Settings) Validate() error {
	if len(s.Set) == 0 {
		return errors.New("give `set:` with setting: value pairs")
	}
	return nil
}

func (s *Settings) names() []string {
	var n []string
	for k := range s.Set {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// configured returns the value the configuration files give a setting (last one wins) and whether
// any file sets it.
func configured(ctx context.Context, conn *pgx.Conn, name, sourceLike string) (string, bool, error) {
	var v string
	err := conn.QueryRow(ctx, `SELECT setting FROM pg_file_settings WHERE name = $1 AND (error IS NULL OR error = 'setting could not be applied') AND sourcefile LIKE $2 ORDER BY seqno DESC LIMIT 1`, name, sourceLike).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	return v, err == nil, err
}

func (s *Settings) diff(ctx context.Context, conn *pgx.Conn, env *steps.Env) ([]string, map[string]string, error) {
	var todo []string
	want := map[string]string{}
	for _, n := range s.names() {
		v, err := env.Text(s.Set[n])
		if err != nil {
			return nil, nil, err
		}
		want[n] = v
		cur, ok, err := configured(ctx, conn, n, "%")
		if err != nil {
			return nil, nil, fmt.Errorf("read pg_file_settings: %w", err)
		}
		if !ok {
			if cur, err = show(ctx, conn, n); err != nil {
				return nil, nil, err
			}
		}
		if cur != v {
			todo = append(todo, fmt.Sprintf("%s is %q, must be %q", n, cur, v))
		}
	}
	return todo, want, nil
}

// Describe lists the statements.
func (s *Settings) Describe(env *steps.Env) []steps.Action {
	target := s.Conn.Describe(env)
	var out []steps.Action
	for _, n := range s.names() {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "ALTER SYSTEM SET " + n + " = " + ref.QuoteLiteral(env.Describe(s.Set[n]))})
	}
	out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "SELECT pg_reload_conf()"})
	out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "-- rollback: ALTER SYSTEM back to each recorded postgresql.auto.conf value (RESET where there was none), pg_reload_conf(), and a restart when a restored setting needs one and restart_on_rollback (" + env.Describe(s.RestartOnRollback) + ") allows it"})
	return out
}

// Check compares the configured values.
func (s *Settings) Check(ctx context.Context, env *steps.Env) steps.Check {
	conn, err := s.Connect(ctx, env)
	if err != nil {
		return steps.BlockedBy(err.Error(), "check the admin connection")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	todo, _, err := s.diff(ctx, conn, env)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if len(todo) > 0 {
		return steps.ReadyTo(steps.Update, "%s", strings.Join(todo, "; "))
	}
	stale, err := s.unloaded(ctx, conn)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if len(stale) > 0 {
		return steps.ReadyTo(steps.Update, "every setting is in %s as the runbook says, but the server has not reloaded it since it changed → set and reload", strings.Join(stale, ", "))
	}
	return steps.AlreadyDone("every setting is configured as the runbook says, and the server has loaded it")
}

// unloaded lists the configuration files holding the step's settings that changed after the
// server last read its configuration (pg_conf_load_time()): a value written there but never
// loaded is not in force, so it is not done. A file cairn cannot stat (a server on another host)
// is not judged here.
func (s *Settings) unloaded(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	var files []string
	var loaded time.Time
	if err := conn.QueryRow(ctx, `SELECT pg_conf_load_time(), coalesce((SELECT array_agg(DISTINCT sourcefile ORDER BY sourcefile) FROM pg_file_settings
		WHERE name = ANY($1) AND sourcefile IS NOT NULL), '{}')`, s.names()).Scan(&loaded, &files); err != nil {
		return nil, fmt.Errorf("read pg_file_settings: %w", err)
	}
	var out []string
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.ModTime().After(loaded) {
			out = append(out, f)
		}
	}
	return out, nil
}

// reloaded asks the server to reload and waits until it has read the files that hold the step's
// settings (those cairn can stat).
func (s *Settings) reloaded(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("pg_reload_conf: %w", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		stale, err := s.unloaded(ctx, conn)
		if err != nil || len(stale) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the server has not reloaded %s after 10s", strings.Join(stale, ", "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

type settingsRecord struct {
	// Auto holds each setting's postgresql.auto.conf value before apply; absent = none there.
	Auto map[string]*string `json:"auto"`
}

// Apply records the auto.conf values, then ALTER SYSTEM and reload.
func (s *Settings) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	conn, err := s.Connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	_, want, err := s.diff(ctx, conn, env)
	if err != nil {
		return nil, err
	}
	rec := settingsRecord{Auto: map[string]*string{}}
	if b, ok, err := env.ReadRecord("pg", "settings.json"); err != nil {
		return nil, err
	} else if ok {
		_ = json.Unmarshal(b, &rec)
	}
	for _, n := range s.names() {
		if _, seen := rec.Auto[n]; seen {
			continue
		}
		v, ok, err := configured(ctx, conn, n, "%postgresql.auto.conf")
		if err != nil {
			return nil, err
		}
		if ok {
			rec.Auto[n] = &v
		} else {
			rec.Auto[n] = nil
		}
	}
	if err := env.SaveRecord("pg", "settings.json", rec); err != nil {
		return nil, err
	}
	for _, n := range s.names() {
		st := "ALTER SYSTEM SET " + ref.QuoteIdent(n) + " = " + ref.QuoteLiteral(want[n])
		if _, err := conn.Exec(ctx, st); err != nil {
			return nil, fmt.Errorf("%s: %w", st, err)
		}
		env.Info(st)
	}
	return nil, s.reloaded(ctx, conn)
}

// Verify re-reads the configured values.
func (s *Settings) Verify(ctx context.Context, env *steps.Env) error {
	conn, err := s.Connect(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	todo, _, err := s.diff(ctx, conn, env)
	if err != nil {
		return err
	}
	if len(todo) > 0 {
		return &steps.VerifyError{What: "settings", Expected: "as the runbook says", Found: strings.Join(todo, "; ")}
	}
	if stale, err := s.unloaded(ctx, conn); err != nil {
		return err
	} else if len(stale) > 0 {
		return &steps.VerifyError{What: "settings", Expected: "loaded by the server", Found: strings.Join(stale, ", ") + " changed since the server last reloaded"}
	}
	return nil
}

// Rollback restores the recorded values, reloads, and restarts if needed and allowed.
func (s *Settings) Rollback(ctx context.Context, env *steps.Env) error {
	var rec settingsRecord
	ok, err := env.LoadRecord("pg", "settings.json", &rec)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	conn, err := s.Connect(ctx, env)
	if err != nil {
		return err
	}
	defer func() { conn.Close(context.WithoutCancel(ctx)) }()
	names := make([]string, 0, len(rec.Auto))
	for n := range rec.Auto {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st := "ALTER SYSTEM RESET " + ref.QuoteIdent(n)
		if v := rec.Auto[n]; v != nil {
			st = "ALTER SYSTEM SET " + ref.QuoteIdent(n) + " = " + ref.QuoteLiteral(*v)
		}
		if _, err := conn.Exec(ctx, st); err != nil {
			return fmt.Errorf("%s: %w", st, err)
		}
		env.Info(st)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return err
	}
	why, err := restartNeeds(ctx, conn)
	if err != nil {
		return err
	}
	if len(why) > 0 {
		allowed := true
		if !s.RestartOnRollback.IsZero() {
			v, err := env.Text(s.RestartOnRollback)
			if err != nil {
				return err
			}
			allowed, _ = ref.ParseBool(v)
		}
		how, err := restartHow(ctx, conn, env, s.LogFile)
		if err != nil {
			return err
		}
		if !allowed {
			env.Info("the restored settings need a restart (" + strings.Join(why, "; ") + "); restarting is not allowed: run " + strings.Join(how.argv, " "))
		} else {
			conn.Close(context.WithoutCancel(ctx))
			if err := how.run(ctx, env); err != nil {
				return err
			}
		}
	}
	env.RemoveRecord("pg", "settings.json")
	return nil
}
