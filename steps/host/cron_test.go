package host_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/host"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func cronRegistry() *steps.Registry {
	r := steps.NewRegistry()
	host.RegisterCron(r)
	return r
}

// crontabOf is the independent probe: crontab -l as the user's crontab reads.
func crontabOf(t testing.TB, u string) string {
	out, err := exec.Command("crontab", "-u", u, "-l").CombinedOutput()
	if err != nil {
		return "no crontab: " + strings.TrimSpace(string(out))
	}
	return string(out)
}

func TestCronContract(t *testing.T) {
	testbed.Require(t, "crontab", func() error { _, err := exec.LookPath("crontab"); return err })
	u := testbed.OSUser(t, "cron")
	existing := "MAILTO=ops@example.com\n# nightly report\n30 2 * * * /usr/local/bin/report --since '1 day ago'\n"
	cmd := exec.Command("crontab", "-u", u.Name, "-")
	cmd.Stdin = strings.NewReader(existing)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	st := steptest.Decode(t, cronRegistry(), "crontab-entry", `
user: ${params.user}
schedule: "0 6 * * wed"
argv: [rsync, -a, -e, "ssh -i /root/.ssh/k", /home/backup/, "root@backup:/srv/backup/x/"]
label: cron-test
`)
	env := steptest.Env(t, map[string]string{"user": u.Name})
	otherKey := existing + "# cairn:cron-test (added by cairn; remove this line and the next to undo)\n" +
		"0 6 * * wed rsync -a -e 'ssh -i /root/.ssh/other' /home/backup/ root@backup:/srv/backup/x/\n"
	steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: func(t testing.TB) string { return crontabOf(t, u.Name) },
		LookAlike: &steptest.LookAlike{
			What:   "cairn's marker cron-test over a push with another key",
			Plant:  func(t testing.TB) { setCrontab(t, u.Name, otherKey) },
			There:  func(t testing.TB) bool { return crontabOf(t, u.Name) == otherKey },
			Remove: func(t testing.TB) { setCrontab(t, u.Name, existing) },
		},
		Tamper: func(t testing.TB) {
			got := crontabOf(t, u.Name)
			want := existing + "# cairn:cron-test (added by cairn; remove this line and the next to undo)\n" +
				"0 6 * * wed rsync -a -e 'ssh -i /root/.ssh/k' /home/backup/ root@backup:/srv/backup/x/\n"
			if !strings.HasSuffix(got, want) {
				t.Fatalf("crontab:\n%s\nwant suffix:\n%s", got, want)
			}
			cmd := exec.Command("crontab", "-u", u.Name, "-")
			cmd.Stdin = strings.NewReader(existing)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v %s", err, out)
			}
		}})
	if got := crontabOf(t, u.Name); !strings.HasSuffix(got, existing) && got != existing {
		t.Fatalf("after tamper/apply: %q", got)
	}
}

func TestCronNoCrontabAndPercent(t *testing.T) {
	testbed.Require(t, "crontab", func() error { _, err := exec.LookPath("crontab"); return err })
	u := testbed.OSUser(t, "cron")
	st := steptest.Decode(t, cronRegistry(), "crontab-entry", "user: ${params.user}\nschedule: \"@daily\"\nline: ${params.line}\n")
	env := steptest.Env(t, map[string]string{"user": u.Name, "line": "date +%Y-%m-%d >> /tmp/x"})
	// the default label is the step's id ("test" in steptest.Env)
	unescaped := "# cairn:test (added by cairn; remove this line and the next to undo)\n@daily date +%Y-%m-%d >> /tmp/x\n"
	steptest.Run(t, steptest.Case{Step: st, Env: env, LookAlike: &steptest.LookAlike{
		What:   "cairn's marker over the same line with % unescaped (cron would cut it at the %)",
		Plant:  func(t testing.TB) { setCrontab(t, u.Name, unescaped) },
		There:  func(t testing.TB) bool { return crontabOf(t, u.Name) == unescaped },
		Remove: func(t testing.TB) { removeCrontab(t, u.Name) },
	}, Probe: func(t testing.TB) string {
		got := crontabOf(t, u.Name)
		if strings.Contains(got, "+%Y") && got != unescaped {
			t.Fatalf("%% not escaped: %s", got)
		}
		return got
	}})
	if got := crontabOf(t, u.Name); !strings.HasPrefix(got, "no crontab") {
		t.Fatalf("rollback left a crontab: %q", got)
	}
}

func TestCronScheduleValidation(t *testing.T) {
	for _, s := range []string{"0 6 * * wed", "*/15 0-6,22-23 1-31 jan-dec mon-fri", "@hourly", "0 0 1 */3 0"} {
		if err := host.ValidateSchedule(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"0 6 * *", "61 * * * *", "0 24 * * *", "* * 0 * *", "* * * 13 *", "@sometimes", "5/2 * * * *", "0 6 * * funday", "10-5 * * * *", "*/0 * * * *"} {
		if err := host.ValidateSchedule(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
	// An invalid schedule from a parameter is refused by Check, before any change.
	u := testbed.OSUser(t, "cron")
	st := steptest.Decode(t, cronRegistry(), "crontab-entry", "user: ${params.user}\nschedule: ${params.schedule}\nline: /bin/true\n")
	ch := st.Check(context.Background(), steptest.Env(t, map[string]string{"user": u.Name, "schedule": "0 25 * * *"}))
	if ch.State != steps.Blocked || !strings.Contains(ch.Reason, "hour") {
		t.Fatalf("want blocked, got %s: %s", ch.State, ch.Reason)
	}
	if got := crontabOf(t, u.Name); !strings.HasPrefix(got, "no crontab") {
		t.Fatalf("crontab changed: %q", got)
	}
}

func setCrontab(t testing.TB, user, text string) {
	t.Helper()
	cmd := exec.Command("crontab", "-u", user, "-")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
}

func removeCrontab(t testing.TB, user string) {
	t.Helper()
	if out, err := exec.Command("crontab", "-u", user, "-r").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
}
