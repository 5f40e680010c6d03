package pgdata

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Downtime is the `pg-downtime` kind: it measures the window as the application lives it, from the
// quiesce (the moment the application roles were blocked, in the quiesce's state) to the moment the
// new instance serves the application, and outputs it (`downtime`, journaled with the step and shown
// in the report). Two ways to end it, as the cut-over goes:
//
//   - wait: answer (the names were swapped): the server under Server's name answers a connection and
//     is not the quiesced source (its identity — DbiResourceId, system identifier, database OIDs —
//     is not the one the quiesce recorded): the old name now reaches the new instance — and, when
//     PasswordsSecret gives the password of an application role the quiesce blocked, that role
//     logs in with it there: the window ends when the application can work, not when the server
//     answers;
//   - wait: first-write (cutover=external: the engineer moves a CNAME or a pooler): the new
//     instance's user tables count a write (pg_stat_user_tables) that was not there when the step
//     started — the application's first.
//
// It reads only; there is nothing to roll back.
type Downtime struct {
	Server  Server       `yaml:"server"`
	Quiesce ref.Template `yaml:"quiesce"`
	Wait    ref.Template `yaml:"wait"`
	// Writes (first-write) are the new instance's write counters the cut-over recorded: a write
	// after them ends the wait, also one made before this step started. Without them the step's
	// first reading is the base.
	Writes ref.Template `yaml:"writes"`
	// PasswordsSecret ({"role": "password"}, answer): the quiesced roles it covers must log in.
	PasswordsSecret ref.Template `yaml:"passwords-secret"`
}

// OutputNames declares the outputs.
func (d *Downtime) OutputNames() []string { return []string{"downtime", "seconds", "until"} }

func (d *Downtime) mode(env *steps.Env) (string, error) {
	m, err := env.OptionalText(d.Wait)
	if err != nil {
		return "", err
	}
	switch m {
	case "", "answer":
		return "answer", nil
	case "first-write":
		return m, nil
	}
	return "", fmt.Errorf("wait: want answer or first-write, got %q", m)
}

// Describe lists what is polled.
func (d *Downtime) Describe(env *steps.Env) []steps.Action {
	t := d.Server.describe(env)
	if env.Describe(d.Wait) == "first-write" {
		return []steps.Action{{Kind: steps.ActWait, Target: t, Text: "poll: per database, sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables   -- until the application's first write on the new instance (after you move the CNAME or pooler); downtime = then − the quiesce"}}
	}
	login := ""
	if s := env.Describe(d.PasswordsSecret); s != "" {
		login = ", and each role the quiesce blocked that passwords-secret " + s + " covers logs in with its password"
	}
	return []steps.Action{{Kind: steps.ActWait, Target: t, Text: "poll: connect; " + provenanceSQL + "   -- until the name answers as a server other than the quiesced source" + login + "; downtime = then − the quiesce"}}
}

// Check is ready to measure.
func (d *Downtime) Check(ctx context.Context, env *steps.Env) steps.Check {
	if _, err := d.mode(env); err != nil {
		return steps.BlockedBy(err.Error(), "give wait: answer or first-write")
	}
	return steps.ReadyTo(steps.Read, "measure the downtime: from the quiesce until %s serves the application", d.Server.describe(env))
}

// Apply waits for the end of the window and outputs the downtime.
func (d *Downtime) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	mode, err := d.mode(env)
	if err != nil {
		return nil, err
	}
	st, _, err := quiesceOf(env, d.Quiesce)
	if err != nil {
		return nil, err
	}
	var pw map[string]string
	if mode == "answer" {
		if pw, err = readPasswords(ctx, env, d.Server.Region, d.PasswordsSecret); err != nil {
			return nil, err
		}
	}
	var base map[string]int64
	if w, err := env.OptionalText(d.Writes); err == nil && w != "" && mode == "first-write" {
		var at map[string]map[string][3]int64
		if err := json.Unmarshal([]byte(w), &at); err != nil {
			return nil, fmt.Errorf("the cut-over's write counters are not readable: %w", err)
		}
		base = map[string]int64{}
		for db, ts := range at {
			for _, n := range ts {
				base[db] += n[0] + n[1] + n[2]
			}
		}
	}
	said := time.Now()
	for {
		until, ok, err := d.look(ctx, env, mode, st, &base, pw)
		if err != nil && time.Since(said) >= 10*time.Second {
			said = time.Now()
			env.Info(fmt.Sprintf("still waiting for %s: %v", d.Server.describe(env), err))
		}
		if ok {
			out := steps.Outputs{}.Set("until", until.UTC().Format(time.RFC3339Nano))
			if st.At.IsZero() {
				env.Info("the quiesce's time is not recorded (it was found done on a resume): the downtime cannot be measured")
				return out.Set("downtime", "unknown"), nil
			}
			dt := until.Sub(st.At)
			env.Info(fmt.Sprintf("downtime %s: quiesce %s → %s %s", dt.Round(time.Millisecond), st.At.UTC().Format("15:04:05.000"),
				map[string]string{"answer": "the new instance answering as", "first-write": "the first write on"}[mode], d.Server.describe(env)))
			return out.Set("downtime", dt.Round(time.Millisecond).String()).Set("seconds", strconv.FormatFloat(dt.Seconds(), 'f', 3, 64)), nil
		}
		if err := sleepCtx(ctx, 100); err != nil {
			return nil, err
		}
	}
}

// look says whether the window has ended, and when.
func (d *Downtime) look(ctx context.Context, env *steps.Env, mode string, st QuiesceState, base *map[string]int64, pw map[string]string) (time.Time, bool, error) {
	srv, err := d.Server.resolve(ctx, env)
	if err != nil {
		return time.Time{}, false, err
	}
	c, err := srv.connect(ctx, "")
	if err != nil {
		return time.Time{}, false, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	at := time.Now()
	if st.Source != nil {
		live, err := srv.identify(ctx, c)
		if err != nil {
			return at, false, err
		}
		if sameServer(*st.Source, live) {
			return at, false, fmt.Errorf("%s is still the quiesced source", srv.Label)
		}
	}
	if mode == "answer" {
		var app []string
		for r := range st.Limits {
			if _, ok := pw[r]; ok {
				app = append(app, r)
			}
		}
		sort.Strings(app)
		if refused, err := loginFails(ctx, srv, app, pw); err != nil {
			return at, false, err
		} else if len(refused) > 0 {
			return at, false, fmt.Errorf("%s answers, but %s cannot log in with the password from passwords-secret", srv.Label, strings.Join(refused, ", "))
		}
		return at, true, nil
	}
	_, writes, err := position(ctx, srv, c)
	if err != nil {
		return at, false, err
	}
	if *base == nil {
		*base = writes
		return at, false, nil
	}
	for db, n := range writes {
		if n > (*base)[db] {
			return at, true, nil
		}
	}
	return at, false, nil
}

// Verify: the measurement is the apply.
func (d *Downtime) Verify(context.Context, *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (d *Downtime) Rollback(context.Context, *steps.Env) error { return nil }

// sameServer says whether live is the server rec was read from: the same resource id and system
// identifier (as far as both sides could tell) and the same databases by OID — a copy made by
// replication shares neither its source's DbiResourceId nor its databases' OIDs.
func sameServer(rec, live Identity) bool {
	return len(otherSource(rec, live)) == 0 && len(otherDatabases(rec, live)) == 0
}
