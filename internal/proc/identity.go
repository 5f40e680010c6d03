package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// Identity is what the kernel says a process is, read from /proc: enough to tell a process cairn
// started from a later one that reused its pid, or from one a forged record points at.
type Identity struct {
	PID       int
	StartTick uint64   // /proc/<pid>/stat field 22: when it started, in clock ticks since boot
	PGID      int      // its process group (a child cairn starts leads its own)
	UID       int      // its real uid
	Argv      []string // /proc/<pid>/cmdline
}

// Lookup reads a live process's identity.
func Lookup(pid int) (Identity, error) {
	id := Identity{PID: pid}
	if pid <= 1 {
		return id, fmt.Errorf("pid %d is not a process cairn starts", pid)
	}
	dir := "/proc/" + strconv.Itoa(pid)
	b, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return id, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return id, errors.New("bad stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return id, errors.New("bad stat")
	}
	if id.StartTick, err = strconv.ParseUint(f[19], 10, 64); err != nil {
		return id, err
	}
	if id.PGID, err = strconv.Atoi(f[2]); err != nil {
		return id, err
	}
	st, err := os.ReadFile(dir + "/status")
	if err != nil {
		return id, err
	}
	id.UID = -1
	for _, line := range strings.Split(string(st), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				id.UID, _ = strconv.Atoi(f[0])
			}
		}
	}
	cl, err := os.ReadFile(dir + "/cmdline")
	if err != nil {
		return id, err
	}
	for _, a := range bytes.Split(bytes.TrimRight(cl, "\x00"), []byte{0}) {
		id.Argv = append(id.Argv, string(a))
	}
	return id, nil
}

// StartTick reads a process's start time in clock ticks (/proc/<pid>/stat field 22), so a pid
// recorded in the journal can be told apart from a later process that reused it.
func StartTick(pid int) (uint64, error) {
	id, err := Lookup(pid)
	return id.StartTick, err
}

// Leftover is a child as the runner that started it recorded it.
type Leftover struct {
	PID       int
	StartTick uint64
	UID       int
	Argv0     string
}

// KillLeftover kills a leftover child's process group, but only when the process now at its pid
// is that child: the same start tick, real uid and argv[0], and still the leader of its own
// process group (as cairn started it). It says what it did, or why it signalled nothing.
func KillLeftover(c Leftover) (bool, string) {
	id, err := Lookup(c.PID)
	if err != nil {
		return false, "gone"
	}
	switch {
	case id.StartTick != c.StartTick:
		return false, "its pid now belongs to a later process"
	case id.UID != c.UID:
		return false, fmt.Sprintf("the process at its pid runs as uid %d, not %d", id.UID, c.UID)
	case len(id.Argv) == 0 || id.Argv[0] != c.Argv0:
		return false, "the process at its pid runs another program"
	case id.PGID != c.PID:
		return false, "the process at its pid is not the leader of its own process group"
	}
	_ = syscall.Kill(-c.PID, syscall.SIGKILL)
	return true, "stopped"
}

// IsRunnerOf checks that pid is a cairn runner of the run in runDir that started at tick: its
// command line is `… __runner --run-dir <runDir> …` and its start tick is the recorded one.
func IsRunnerOf(pid int, tick uint64, runDir string) error {
	id, err := Lookup(pid)
	if err != nil {
		return fmt.Errorf("pid %d: %w", pid, err)
	}
	if tick == 0 || id.StartTick != tick {
		return fmt.Errorf("pid %d started at tick %d, not at %d as the lock records: it is not the runner that took the lock", pid, id.StartTick, tick)
	}
	dirOK, runner := false, false
	for i, a := range id.Argv {
		if a == "__runner" && i > 0 {
			runner = true
		}
		if a == "--run-dir" && i+1 < len(id.Argv) {
			dirOK = sameDir(pid, id.Argv[i+1], runDir)
		}
	}
	if !runner || !dirOK {
		return fmt.Errorf("pid %d is not this run's runner (its command line is %q)", pid, strings.Join(id.Argv, " "))
	}
	return nil
}

// sameDir says whether the directory a process named (relative to its own working directory) is
// runDir.
func sameDir(pid int, named, runDir string) bool {
	if filepath.Clean(named) == filepath.Clean(runDir) {
		return true
	}
	if !filepath.IsAbs(named) {
		named = filepath.Join("/proc", strconv.Itoa(pid), "cwd", named)
	}
	a, err1 := os.Stat(named)
	b, err2 := os.Stat(runDir)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}
