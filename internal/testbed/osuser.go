package testbed

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// homes holds test users' homes: 0755 root-owned parents, never world-writable, so sshd's
// StrictModes accepts keys in them.
const homes = "/home/cairn-testbed"

// User is an OS user made for one test.
type User struct {
	Name string
	Home string
	UID  int
	GID  int
}

// OSUser creates an OS user named UniqueName(prefix) with a home under /home/cairn-testbed,
// in the given (existing) supplementary groups, unlocked for ssh key logins (no password).
// Cleanup deletes it and its home. It needs root: otherwise the test is skipped (failed under
// CI=true).
func OSUser(t testing.TB, prefix string, groups ...string) *User {
	t.Helper()
	Require(t, "root (to create OS users)", requireRoot)
	if err := mkdir755(homes); err != nil {
		t.Fatalf("testbed os user: %v", err)
	}
	name := UniqueName(t, prefix)
	home := filepath.Join(homes, name)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	args := []string{"-m", "-d", home, "-s", "/bin/bash"}
	if len(groups) > 0 {
		args = append(args, "-G", strings.Join(groups, ","))
	}
	if err := shadowTool(ctx, "useradd", append(args, name)...); err != nil {
		t.Fatalf("testbed os user: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := shadowTool(ctx, "userdel", "-r", "-f", name); err != nil {
			t.Errorf("testbed os user cleanup: %v", err)
		}
		_ = os.RemoveAll(home)
	})
	// useradd leaves "!" in the password field, which sshd (UsePAM no) treats as locked.
	if err := shadowTool(ctx, "usermod", "-p", "*", name); err != nil {
		t.Fatalf("testbed os user: %v", err)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("testbed os user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &User{Name: name, Home: home, UID: uid, GID: gid}
}

// shadowTool runs useradd/usermod/userdel, retrying while another process holds the
// /etc/passwd lock (parallel tests do).
func shadowTool(ctx context.Context, tool string, args ...string) error {
	for attempt := 0; ; attempt++ {
		out, err := exec.CommandContext(ctx, tool, args...).CombinedOutput()
		if err == nil {
			return nil
		}
		msg := strings.TrimSpace(string(out))
		if attempt >= 20 || !strings.Contains(msg, "lock") || ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w: %s", tool, strings.Join(args, " "), err, msg)
		}
		time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
	}
}
