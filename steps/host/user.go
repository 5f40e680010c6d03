package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// OSUser is the `os-user` kind.
type OSUser struct {
	// Name of the OS user.
	Name ref.Template `yaml:"name"`
	// Group is the user's primary group; it must exist (e.g. postgres).
	Group ref.Template `yaml:"group"`
	// Home is created 0700 and owned by the user (default /home/<name>).
	Home ref.Template `yaml:"home"`
	// Shell (default /bin/bash).
	Shell ref.Template `yaml:"shell"`
}

// Validate checks the fields.
func (u *OSUser) Validate() error {
	var errs []error
	if u.Name.IsZero() {
		errs = append(errs, errors.New("give `name:` (the OS user)"))
	}
	if u.Group.IsZero() {
		errs = append(errs, errors.New("give `group:` (the user's primary group, e.g. postgres)"))
	}
	return errors.Join(errs...)
}

type osUserSpec struct{ name, group, home, shell string }

func (u *OSUser) spec(env *steps.Env) (osUserSpec, error) {
	var s osUserSpec
	var err error
	if s.name, err = env.Text(u.Name); err != nil {
		return s, err
	}
	if s.group, err = env.Text(u.Group); err != nil {
		return s, err
	}
	s.home = "/home/" + s.name
	if !u.Home.IsZero() {
		if s.home, err = env.Text(u.Home); err != nil {
			return s, err
		}
	}
	s.shell = "/bin/bash"
	if !u.Shell.IsZero() {
		if s.shell, err = env.Text(u.Shell); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (u *OSUser) argv(s osUserSpec) []string {
	return []string{"useradd", "--gid", s.group, "--create-home", "--home-dir", s.home, "--shell", s.shell, s.name}
}

// Describe shows the useradd command.
func (u *OSUser) Describe(env *steps.Env) []steps.Action {
	s := osUserSpec{env.Describe(u.Name), env.Describe(u.Group), "/home/" + env.Describe(u.Name), "/bin/bash"}
	if !u.Home.IsZero() {
		s.home = env.Describe(u.Home)
	}
	if !u.Shell.IsZero() {
		s.shell = env.Describe(u.Shell)
	}
	return []steps.Action{
		{Kind: steps.ActExec, Target: "local", Text: strings.Join(u.argv(s), " ")},
		{Kind: steps.ActFile, Target: "local", Text: fmt.Sprintf("%s  %s:%s 0700 (home, created by useradd)", s.home, s.name, s.group)},
		{Kind: steps.ActExec, Target: "local", Text: "# rollback (only if this step created the user)\nuserdel --remove " + s.name},
	}
}

// found is what the system says about the user.
func (u *OSUser) found(s osUserSpec) (exists bool, problem string, todo string, err error) {
	gid, err := lookupGID(s.group)
	if err != nil {
		return false, err.Error(), "", nil
	}
	acct, err := user.Lookup(s.name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return false, "", "", nil
		}
		return false, "", "", err
	}
	if acct.Gid != strconv.Itoa(gid) {
		return true, fmt.Sprintf("OS user %s exists with primary group %s, not %s", s.name, groupName(atoi(acct.Gid)), s.group), "", nil
	}
	if acct.HomeDir != s.home {
		return true, fmt.Sprintf("OS user %s exists with home %s, not %s", s.name, acct.HomeDir, s.home), "", nil
	}
	fi, err := os.Stat(s.home)
	if err != nil {
		return true, "", "home " + s.home + " is missing", nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && strconv.Itoa(int(st.Uid)) != acct.Uid {
		return true, fmt.Sprintf("home %s is owned by %s, not %s", s.home, userName(int(st.Uid)), s.name), "", nil
	}
	return true, "", "", nil
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// Check reads the user database.
func (u *OSUser) Check(ctx context.Context, env *steps.Env) steps.Check {
	s, err := u.spec(env)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	exists, problem, todo, err := u.found(s)
	switch {
	case err != nil:
		return steps.CannotTell("look up OS user %s: %v", s.name, err)
	case problem != "":
		return steps.BlockedBy(problem, "cairn does not change an existing account: pick another os-user, or fix the account by hand (usermod --gid / --home --move-home)")
	case !exists:
		return steps.ReadyTo(steps.Create, "OS user %s does not exist: create it in group %s with home %s", s.name, s.group, s.home)
	case todo != "":
		return steps.ReadyTo(steps.Update, "%s: create it", todo)
	}
	return steps.AlreadyDone("OS user %s exists, primary group %s, home %s", s.name, s.group, s.home)
}

type userRecord struct {
	CreatedUser bool   `json:"created_user"`
	CreatedHome bool   `json:"created_home"`
	Name        string `json:"name"`
	Home        string `json:"home"`
}

// Apply creates the user (or its missing home).
func (u *OSUser) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	s, err := u.spec(env)
	if err != nil {
		return nil, err
	}
	exists, problem, todo, err := u.found(s)
	if err != nil {
		return nil, err
	}
	if problem != "" {
		return nil, errors.New(problem)
	}
	var rec userRecord
	if _, err := env.LoadRecord("host", "user.json", &rec); err != nil {
		return nil, err
	}
	rec.Name, rec.Home = s.name, s.home
	switch {
	case !exists:
		rec.CreatedUser = true
		if err := env.SaveRecord("host", "user.json", rec); err != nil {
			return nil, err
		}
		if err := shadowTool(ctx, env, u.argv(s)...); err != nil {
			return nil, err
		}
	case todo != "":
		rec.CreatedHome = true
		if err := env.SaveRecord("host", "user.json", rec); err != nil {
			return nil, err
		}
		uid, _ := lookupUID(s.name)
		gid, _ := lookupGID(s.group)
		if err := os.MkdirAll(filepath.Dir(s.home), 0o755); err != nil {
			return nil, err
		}
		if err := os.Mkdir(s.home, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(s.home, uid, gid); err != nil {
			return nil, err
		}
	}
	return steps.Outputs{}.Set("home", s.home), nil
}

// OutputNames declares the outputs.
func (u *OSUser) OutputNames() []string { return []string{"home"} }

// Verify reads the user back.
func (u *OSUser) Verify(ctx context.Context, env *steps.Env) error {
	s, err := u.spec(env)
	if err != nil {
		return err
	}
	exists, problem, todo, err := u.found(s)
	switch {
	case err != nil:
		return err
	case !exists:
		return &steps.VerifyError{What: "OS user " + s.name, Expected: "to exist", Found: "no such user"}
	case problem != "":
		return &steps.VerifyError{What: "OS user " + s.name, Expected: "group " + s.group + ", home " + s.home, Found: problem}
	case todo != "":
		return &steps.VerifyError{What: "OS user " + s.name, Expected: "a home", Found: todo}
	}
	return nil
}

// Rollback removes what this step created, and only that.
func (u *OSUser) Rollback(ctx context.Context, env *steps.Env) error {
	var rec userRecord
	ok, err := env.LoadRecord("host", "user.json", &rec)
	if err != nil {
		return err
	}
	if !ok || (!rec.CreatedUser && !rec.CreatedHome) {
		env.Info("this step created nothing (the user existed before): nothing to undo")
		return nil
	}
	if rec.CreatedUser {
		if _, err := user.Lookup(rec.Name); err == nil {
			if err := shadowTool(ctx, env, "userdel", "--remove", rec.Name); err != nil {
				return err
			}
		}
		_ = os.RemoveAll(rec.Home) // userdel leaves a home it did not recognise as the user's
	} else if rec.CreatedHome {
		if err := os.RemoveAll(rec.Home); err != nil {
			return err
		}
	}
	env.RemoveRecord("host", "user.json")
	return nil
}

// shadowTool runs useradd/userdel, retrying while another process holds /etc/passwd's lock.
func shadowTool(ctx context.Context, env *steps.Env, argv ...string) error {
	for attempt := 0; ; attempt++ {
		r, err := proc.Run(ctx, env, proc.Cmd{Argv: argv, Quiet: true})
		if err == nil {
			return nil
		}
		if attempt >= 20 || !strings.Contains(r.Stderr, "lock") || ctx.Err() != nil {
			return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
		}
		time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
	}
}
