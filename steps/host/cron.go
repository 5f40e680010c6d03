package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Cron is the `crontab-entry` kind: one entry in a user's crontab (crontab -u USER), preceded by a
// marker comment line `# cairn:<label> …` so it is found again. The schedule is validated (five
// fields with their ranges, or @hourly/@daily/…); the command is `argv` (each element shell-quoted)
// or one shell `line`, with `%` escaped as cron requires (an unescaped % ends the command). Apply
// adds the two lines at the end and keeps every other line; an entry under the same marker with
// another schedule or command blocks rather than being replaced. Rollback removes exactly the two
// lines (and the crontab, when nothing else is left in it).
type Cron struct {
	User     ref.Template   `yaml:"user"`
	Schedule ref.Template   `yaml:"schedule"`
	Argv     []ref.Template `yaml:"argv"`
	Line     ref.Template   `yaml:"line"` // a complete shell command line (e.g. from a derivation step)
	Label    ref.Template   `yaml:"label"`
}

// RegisterCron adds the crontab-entry kind.
func RegisterCron(r *steps.Registry) {
	r.Register("crontab-entry", "a marked entry in a user's crontab, validated schedule, % escaped; rollback removes it", func() steps.Step { return &Cron{} })
}

// Validate checks presence, and a literal schedule.
func (c *Cron) Validate() error {
	var errs []error
	if c.Schedule.IsZero() {
		errs = append(errs, errors.New("give `schedule:` (e.g. \"0 6 * * wed\")"))
	} else if len(c.Schedule.Refs()) == 0 {
		if err := ValidateSchedule(c.Schedule.Raw); err != nil {
			errs = append(errs, err)
		}
	}
	if (len(c.Argv) == 0) == c.Line.IsZero() {
		errs = append(errs, errors.New("give exactly one of `argv:` (a list) or `line:` (a shell command line)"))
	}
	return errors.Join(errs...)
}

var cronRanges = []struct {
	name     string
	min, max int
	names    []string
}{
	{"minute", 0, 59, nil},
	{"hour", 0, 23, nil},
	{"day of month", 1, 31, nil},
	{"month", 1, 12, []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{"day of week", 0, 7, []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// ValidateSchedule checks a cron schedule as Debian's cron reads it.
func ValidateSchedule(s string) error {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "@") {
		switch s {
		case "@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly":
			return nil
		}
		return fmt.Errorf("schedule %q: unknown @keyword (use @hourly, @daily, @weekly, @monthly, @yearly or @reboot)", s)
	}
	f := strings.Fields(s)
	if len(f) != 5 {
		return fmt.Errorf("schedule %q has %d fields; cron needs 5: minute hour day-of-month month day-of-week (e.g. \"0 6 * * wed\")", s, len(f))
	}
	for i, field := range f {
		r := cronRanges[i]
		num := func(x string) (int, error) {
			for j, n := range r.names {
				if strings.EqualFold(x, n) {
					return j + r.min, nil
				}
			}
			v, err := strconv.Atoi(x)
			if err != nil || v < r.min || v > r.max {
				return 0, fmt.Errorf("schedule %q: %s %q is not in %d-%d", s, r.name, x, r.min, r.max)
			}
			return v, nil
		}
		for _, item := range strings.Split(field, ",") {
			rng, step, hasStep := strings.Cut(item, "/")
			if hasStep {
				if n, err := strconv.Atoi(step); err != nil || n < 1 {
					return fmt.Errorf("schedule %q: %s step %q is not a positive number", s, r.name, step)
				}
			}
			if rng == "*" {
				continue
			}
			lo, hi, isRange := strings.Cut(rng, "-")
			a, err := num(lo)
			if err != nil {
				return err
			}
			if isRange {
				b, err := num(hi)
				if err != nil {
					return err
				}
				if b < a {
					return fmt.Errorf("schedule %q: %s range %q runs backwards", s, r.name, rng)
				}
			} else if hasStep {
				return fmt.Errorf("schedule %q: %s %q: a step needs * or a range before it", s, r.name, item)
			}
		}
	}
	return nil
}

type cronParams struct {
	user, schedule, command, label string
}

func (c *Cron) params(env *steps.Env) (cronParams, error) {
	var p cronParams
	var err error
	if p.user, err = env.Text(c.User); err != nil {
		return p, err
	}
	if p.user == "" {
		u, err := user.Current()
		if err != nil {
			return p, err
		}
		p.user = u.Username
	}
	if _, err := user.Lookup(p.user); err != nil {
		return p, fmt.Errorf("cron user %q: %w", p.user, err)
	}
	if p.schedule, err = env.Text(c.Schedule); err != nil {
		return p, err
	}
	p.schedule = strings.Join(strings.Fields(p.schedule), " ")
	if err := ValidateSchedule(p.schedule); err != nil {
		return p, err
	}
	if len(c.Argv) > 0 {
		var words []string
		for _, a := range c.Argv {
			s, err := env.Text(a)
			if err != nil {
				return p, err
			}
			words = append(words, shellWord(s))
		}
		p.command = strings.Join(words, " ")
	} else if p.command, err = env.Text(c.Line); err != nil {
		return p, err
	}
	if strings.ContainsAny(p.command, "\n\r") || strings.TrimSpace(p.command) == "" {
		return p, errors.New("the cron command must be one non-empty line")
	}
	if p.label, err = env.Text(c.Label); err != nil {
		return p, err
	}
	if p.label == "" {
		p.label = env.StepID
	}
	if strings.ContainsAny(p.label, " \n") {
		return p, fmt.Errorf("label %q must be one word", p.label)
	}
	return p, nil
}

// shellWord quotes a word for /bin/sh (cron runs the line with it).
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (p cronParams) markerLine() string {
	return "# cairn:" + p.label + " (added by cairn; remove this line and the next to undo)"
}

// entry is the crontab line, with % escaped (cron turns an unescaped % into a newline).
func (p cronParams) entry() string {
	return p.schedule + " " + strings.ReplaceAll(p.command, "%", `\%`)
}

// Describe shows the lines.
func (c *Cron) Describe(env *steps.Env) []steps.Action {
	cmd := env.Describe(c.Line)
	if len(c.Argv) > 0 {
		var w []string
		for _, a := range c.Argv {
			w = append(w, shellWord(env.Describe(a)))
		}
		cmd = strings.Join(w, " ")
	}
	return []steps.Action{{Kind: steps.ActFile, Target: "crontab of " + cronOrDefault(env.Describe(c.User), "cairn's user"), Text: fmt.Sprintf(
		"add at the end (every other line kept):\n# cairn:%s …\n%s %s", cronOrDefault(env.Describe(c.Label), env.StepID), env.Describe(c.Schedule), strings.ReplaceAll(cmd, "%", `\%`))}}
}

func cronOrDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// readCrontab returns the user's crontab; exists is false when the user has none.
func readCrontab(ctx context.Context, u string) (string, bool, error) {
	cmd := exec.CommandContext(ctx, "crontab", "-u", u, "-l")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		if strings.Contains(errb.String(), "no crontab for") {
			return "", false, nil
		}
		return "", false, fmt.Errorf("crontab -u %s -l: %v: %s", u, err, strings.TrimSpace(errb.String()))
	}
	return out.String(), true, nil
}

func writeCrontab(ctx context.Context, u, text string) error {
	var cmd *exec.Cmd
	if text == "" {
		cmd = exec.CommandContext(ctx, "crontab", "-u", u, "-r")
	} else {
		cmd = exec.CommandContext(ctx, "crontab", "-u", u, "-")
		cmd.Stdin = strings.NewReader(text)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(cmd.Args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// locate finds the marker line and the entry after it.
func locate(text string, p cronParams) (idx int, next string, found bool) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "# cairn:"+p.label+" ") || l == "# cairn:"+p.label {
			if i+1 < len(lines) {
				next = lines[i+1]
			}
			return i, next, true
		}
	}
	return -1, "", false
}

func cronBlocked(err error, fix string) steps.Check {
	if errors.Is(err, ref.ErrUnknown) {
		return steps.CannotTell("%v", err)
	}
	return steps.BlockedBy(err.Error(), fix)
}

// Check reads the crontab.
func (c *Cron) Check(ctx context.Context, env *steps.Env) steps.Check {
	p, err := c.params(env)
	if err != nil {
		return cronBlocked(err, "fix the schedule, command or cron user")
	}
	if _, err := exec.LookPath("crontab"); err != nil {
		return steps.BlockedBy("crontab is not installed", "apt-get install cron")
	}
	text, _, err := readCrontab(ctx, p.user)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	_, next, found := locate(text, p)
	switch {
	case found && next == p.entry():
		return steps.AlreadyDone("%s's crontab has the entry (marker cairn:%s)", p.user, p.label)
	case found:
		return steps.BlockedBy(fmt.Sprintf("%s's crontab has the marker cairn:%s with another entry: %s", p.user, p.label, next),
			"cairn does not replace it: edit it with crontab -e -u "+p.user+", or remove both lines and run again")
	}
	return steps.ReadyTo(steps.Create, "will add the entry to %s's crontab", p.user)
}

// Apply adds the two lines.
func (c *Cron) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	p, err := c.params(env)
	if err != nil {
		return nil, err
	}
	text, _, err := readCrontab(ctx, p.user)
	if err != nil {
		return nil, err
	}
	if _, next, found := locate(text, p); found {
		if next == p.entry() {
			return steps.Outputs{}.Set("entry", p.entry()), nil
		}
		return nil, fmt.Errorf("marker cairn:%s is already in %s's crontab with another entry: nothing changed", p.label, p.user)
	}
	if text != "" && !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	text += p.markerLine() + "\n" + p.entry() + "\n"
	if err := writeCrontab(ctx, p.user, text); err != nil {
		return nil, err
	}
	env.Info(fmt.Sprintf("added to %s's crontab: %s", p.user, p.entry()))
	return steps.Outputs{}.Set("entry", p.entry()), nil
}

// OutputNames declares the outputs.
func (c *Cron) OutputNames() []string { return []string{"entry"} }

// Verify re-reads the crontab.
func (c *Cron) Verify(ctx context.Context, env *steps.Env) error {
	p, err := c.params(env)
	if err != nil {
		return err
	}
	text, _, err := readCrontab(ctx, p.user)
	if err != nil {
		return err
	}
	if _, next, found := locate(text, p); !found || next != p.entry() {
		return &steps.VerifyError{What: p.user + "'s crontab", Expected: p.entry(), Found: cronOrDefault(next, "no entry")}
	}
	return nil
}

// Rollback removes the marker line and the entry after it.
func (c *Cron) Rollback(ctx context.Context, env *steps.Env) error {
	p, err := c.params(env)
	if err != nil {
		return err
	}
	text, _, err := readCrontab(ctx, p.user)
	if err != nil {
		return err
	}
	i, next, found := locate(text, p)
	if !found {
		return nil
	}
	if next != p.entry() {
		return fmt.Errorf("the line after marker cairn:%s is no longer cairn's entry (%q): remove it by hand with crontab -e -u %s", p.label, next, p.user)
	}
	lines := strings.Split(text, "\n")
	lines = append(lines[:i], lines[i+2:]...)
	rest := strings.Join(lines, "\n")
	if strings.TrimSpace(rest) == "" {
		rest = ""
	}
	if err := writeCrontab(ctx, p.user, rest); err != nil {
		return err
	}
	env.Info(fmt.Sprintf("removed the entry from %s's crontab", p.user))
	return nil
}
