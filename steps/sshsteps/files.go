package sshsteps

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The file operations below run as small POSIX sh scripts through a shell, so the same code works
// on this host and on the backup host (through sudo there). Paths are arguments ("$1"), never
// pasted into the script.

// fileInfo is what stat says about a path.
type fileInfo struct {
	Exists   bool
	Dir      bool
	Mode     uint32 // permission bits
	UID, GID int
}

func stat(ctx context.Context, sh shell, path string) (fileInfo, error) {
	r, err := sh.run(ctx, nil, "sh", "-c", `[ -e "$1" ] || exit 3; stat -c '%a %u %g %F' -- "$1"`, "sh", path)
	if err != nil {
		return fileInfo{}, err
	}
	if r.Code == 3 {
		return fileInfo{}, nil
	}
	if r.Code != 0 {
		return fileInfo{}, fmt.Errorf("stat %s on %s: %s", path, sh.where(), strings.TrimSpace(r.Stderr))
	}
	f := strings.SplitN(strings.TrimSpace(r.Stdout), " ", 4)
	if len(f) < 4 {
		return fileInfo{}, fmt.Errorf("stat %s: unexpected %q", path, r.Stdout)
	}
	mode, _ := strconv.ParseUint(f[0], 8, 32)
	uid, _ := strconv.Atoi(f[1])
	gid, _ := strconv.Atoi(f[2])
	return fileInfo{Exists: true, Dir: f[3] == "directory", Mode: uint32(mode), UID: uid, GID: gid}, nil
}

// readFile returns a file's bytes; exists is false when there is no such file.
func readFile(ctx context.Context, sh shell, path string) (data []byte, exists bool, err error) {
	r, err := sh.run(ctx, nil, "sh", "-c", `[ -e "$1" ] || exit 3; cat -- "$1"`, "sh", path)
	if err != nil {
		return nil, false, err
	}
	if r.Code == 3 {
		return nil, false, nil
	}
	if r.Code != 0 {
		return nil, false, fmt.Errorf("read %s on %s: %s", path, sh.where(), strings.TrimSpace(r.Stderr))
	}
	return []byte(r.Stdout), true, nil
}

// replaceFile puts data at path atomically (a temporary file in the same directory, fsync'd, renamed
// over it, the directory fsync'd: coreutils' sync FILE), with the given mode and owner.
func replaceFile(ctx context.Context, sh shell, path string, data []byte, mode uint32, uid, gid int) error {
	_, err := mustRun(ctx, sh, data, "sh", "-c",
		`set -e; t=$(mktemp "$1.cairn-XXXXXX"); trap 'rm -f "$t"' EXIT; cat > "$t"; chown "$3" "$t"; chmod "$2" "$t"; sync -- "$t"; mv -f "$t" "$1"; trap - EXIT; sync -- "$(dirname -- "$1")"`,
		"sh", path, fmt.Sprintf("%04o", mode), fmt.Sprintf("%d:%d", uid, gid))
	return err
}

// appendFile appends data to an existing file (O_APPEND: no existing byte is rewritten), fsync'd.
func appendFile(ctx context.Context, sh shell, path string, data []byte) error {
	_, err := mustRun(ctx, sh, data, "sh", "-c", `[ -f "$1" ] || { echo "$1: not a regular file" >&2; exit 1; }; cat >> "$1"; sync -- "$1"`, "sh", path)
	return err
}

// createFile creates a new file (refusing if one exists) with mode and owner, fsync'd with its
// directory.
func createFile(ctx context.Context, sh shell, path string, data []byte, mode uint32, uid, gid int) error {
	_, err := mustRun(ctx, sh, data, "sh", "-c",
		`set -e; set -C; umask 077; cat > "$1"; chown "$3" "$1"; chmod "$2" "$1"; sync -- "$1" "$(dirname -- "$1")"`,
		"sh", path, fmt.Sprintf("%04o", mode), fmt.Sprintf("%d:%d", uid, gid))
	return err
}

// backupCopy copies path to path.cairn-backup-<UTC time> keeping mode and owner, and returns its name.
func backupCopy(ctx context.Context, sh shell, path string, now time.Time) (string, error) {
	b := path + ".cairn-backup-" + now.UTC().Format("20060102T150405Z")
	_, err := mustRun(ctx, sh, nil, "cp", "-p", "--", path, b)
	return b, err
}

// lookupUser finds a login's uid, gid and home on a host.
func lookupUser(ctx context.Context, sh shell, name string) (uid, gid int, home string, err error) {
	r, err := sh.run(ctx, nil, "getent", "passwd", name)
	if err != nil {
		return 0, 0, "", err
	}
	if r.Code != 0 {
		return 0, 0, "", fmt.Errorf("no user %q on %s", name, sh.where())
	}
	f := strings.Split(strings.TrimSpace(r.Stdout), ":")
	if len(f) < 7 {
		return 0, 0, "", fmt.Errorf("getent passwd %s: unexpected %q", name, r.Stdout)
	}
	uid, _ = strconv.Atoi(f[2])
	gid, _ = strconv.Atoi(f[3])
	return uid, gid, f[5], nil
}
