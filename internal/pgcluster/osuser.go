package pgcluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"time"
)

// serverUser is the OS user the server runs as when the caller is root.
const serverUser = "postgres"

// account is the OS user that owns a cluster's files and runs its server.
type account struct {
	name     string
	uid, gid int
	asRoot   bool // the caller is root and must switch to name with runuser
}

// currentAccount picks the server's OS user: "postgres" when running as root, else the caller.
func currentAccount() (account, error) {
	if os.Geteuid() == 0 {
		u, err := user.Lookup(serverUser)
		if err != nil {
			return account{}, fmt.Errorf("running as root needs the %q OS user: %w", serverUser, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return account{name: u.Username, uid: uid, gid: gid, asRoot: true}, nil
	}
	u, err := user.Current()
	if err != nil {
		return account{}, fmt.Errorf("current OS user: %w", err)
	}
	return account{name: u.Username, uid: os.Getuid(), gid: os.Getgid()}, nil
}

// command builds a command that runs as the account. Its stdin is /dev/null and its output is
// collected by run; WaitDelay keeps a stray grandchild holding the pipe from hanging the caller.
func (a account) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if a.asRoot {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", a.name, "--", name}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, name, args...)
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs name as the account and returns its combined output; the error carries that output.
func (a account) run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := a.command(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// chown gives path to the account when the caller is root; otherwise it is already the owner.
func (a account) chown(path string) error {
	if !a.asRoot {
		return nil
	}
	if err := os.Chown(path, a.uid, a.gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, a.name, err)
	}
	return nil
}

// chownTree gives a whole tree to the account when the caller is root.
func (a account) chownTree(ctx context.Context, path string) error {
	if !a.asRoot {
		return nil
	}
	out, err := exec.CommandContext(ctx, "chown", "-R", fmt.Sprintf("%d:%d", a.uid, a.gid), path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("chown -R %s to %s: %w: %s", path, a.name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// canWrite checks the account can reach and write dir, which fails when a parent is not
// searchable by it (a 0700 t.TempDir, say).
func (a account) canWrite(ctx context.Context, dir string) error {
	if !a.asRoot {
		return nil
	}
	if _, err := a.run(ctx, "test", "-w", dir, "-a", "-x", dir); err != nil {
		return fmt.Errorf("OS user %s cannot write %s: every parent directory must be searchable by it (t.TempDir is 0700; use testbed.TempDir): %w", a.name, dir, err)
	}
	return nil
}
