// Package fsutil is the one place cairn writes files it will later trust: run files, step artifacts,
// configuration it installs. Every write here is durable and leaves no half-file behind — a temporary
// file created with O_EXCL in the same directory, written, fsync'd, renamed over the target, then the
// directory fsync'd — and every open relative to a Dir follows no symbolic link anywhere in the name
// (O_NOFOLLOW on each component, relative to the directory's descriptor), so a file swapped for a
// link by someone else is refused, never followed. Modes are set explicitly with fchmod after
// creation, so they never depend on the caller's umask.
//
// It never changes a file in place: a file is either created (O_EXCL), appended to, or replaced whole.
package fsutil

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is an open directory. Names given to its methods are relative to it, may hold several
// components ("work/pg"), and never resolve through a symbolic link or "..".
type Dir struct {
	fd   int
	path string
}

// OpenDir opens the directory at path. The path itself is the caller's (a configured state
// directory may sit under a linked /var); only names opened relative to the Dir are held to
// no-follow.
func OpenDir(path string) (*Dir, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	return &Dir{fd: fd, path: path}, nil
}

// Path is the directory's path as it was opened, or the path of name inside it.
func (d *Dir) Path(name ...string) string {
	return filepath.Join(append([]string{d.path}, name...)...)
}

// Fd is the directory's descriptor (valid until Close).
func (d *Dir) Fd() int { return d.fd }

// Close closes the directory's descriptor.
func (d *Dir) Close() error {
	if d == nil || d.fd < 0 {
		return nil
	}
	err := unix.Close(d.fd)
	d.fd = -1
	return err
}

// Sync fsyncs the directory, making the names created, renamed or removed in it durable.
func (d *Dir) Sync() error {
	if err := unix.Fsync(d.fd); err != nil {
		return &os.PathError{Op: "fsync", Path: d.path, Err: err}
	}
	return nil
}

// ErrBadName is returned for a name that is absolute, empty, or climbs out with "..".
var ErrBadName = errors.New("not a plain name inside the directory")

// parent opens the directory holding name's last component (no symlink followed on the way) and
// returns its descriptor and that last component. The caller closes the descriptor unless it is
// d.fd (owned reports whether it must).
func (d *Dir) parent(name string) (fd int, base string, owned bool, err error) {
	clean := filepath.Clean(name)
	if name == "" || filepath.IsAbs(name) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
		return -1, "", false, &os.PathError{Op: "open", Path: d.path + "/" + name, Err: ErrBadName}
	}
	parts := strings.Split(clean, "/")
	fd = d.fd
	for _, p := range parts[:len(parts)-1] {
		next, err := unix.Openat(fd, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if owned {
			unix.Close(fd)
		}
		if err != nil {
			return -1, "", false, &os.PathError{Op: "open", Path: d.Path(name), Err: linkErr(err)}
		}
		fd, owned = next, true
	}
	return fd, parts[len(parts)-1], owned, nil
}

// linkErr names the usual no-follow failures plainly: ELOOP from O_NOFOLLOW, ENOTDIR from
// O_DIRECTORY|O_NOFOLLOW meeting a link.
func linkErr(err error) error {
	if errors.Is(err, unix.ELOOP) {
		return fmt.Errorf("is a symbolic link, not followed: %w", err)
	}
	return err
}

// OpenDir opens a directory inside d without following a link.
func (d *Dir) OpenDir(name string) (*Dir, error) {
	pfd, base, owned, err := d.parent(name)
	if err != nil {
		return nil, err
	}
	if owned {
		defer unix.Close(pfd)
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOTDIR) {
			if st, e := d.Lstat(name); e == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		return nil, &os.PathError{Op: "open", Path: d.Path(name), Err: linkErr(err)}
	}
	return &Dir{fd: fd, path: d.Path(name)}, nil
}

// OpenFile opens name inside d with flag (os.O_* values) and never follows a link at any
// component. A file it creates gets exactly perm (fchmod after creation; umask does not apply); an
// existing file keeps its mode.
func (d *Dir) OpenFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	pfd, base, owned, err := d.parent(name)
	if err != nil {
		return nil, err
	}
	if owned {
		defer unix.Close(pfd)
	}
	flag |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	created := false
	fd := -1
	if flag&os.O_CREATE != 0 {
		// try to create it first, so a file made here is known to be ours and gets perm exactly
		fd, err = unix.Openat(pfd, base, flag|os.O_EXCL, 0o600)
		if err == nil {
			created = true
		} else if errors.Is(err, unix.EEXIST) && flag&os.O_EXCL == 0 {
			fd, err = unix.Openat(pfd, base, flag&^os.O_CREATE, 0)
		}
	} else {
		fd, err = unix.Openat(pfd, base, flag, 0)
	}
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: d.Path(name), Err: linkErr(err)}
	}
	f := os.NewFile(uintptr(fd), d.Path(name))
	if created {
		if err := unix.Fchmod(fd, modeBits(perm)); err != nil {
			f.Close()
			return nil, &os.PathError{Op: "chmod", Path: d.Path(name), Err: err}
		}
		if err := unix.Fsync(pfd); err != nil {
			f.Close()
			return nil, &os.PathError{Op: "fsync", Path: filepath.Dir(d.Path(name)), Err: err}
		}
	}
	return f, nil
}

// Create makes a new file (O_EXCL: it must not exist, not even as a link) with exactly perm, open
// for writing. The directory is fsync'd so the name survives a crash.
func (d *Dir) Create(name string, perm os.FileMode) (*os.File, error) {
	return d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
}

// ReadFile reads a whole file inside d without following a link.
func (d *Dir) ReadFile(name string) ([]byte, error) {
	f, err := d.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &os.PathError{Op: "read", Path: d.Path(name), Err: errors.New("not a regular file")}
	}
	return io.ReadAll(f)
}

// Mkdir creates the directory name inside d with exactly perm (setgid and sticky included; umask
// does not apply) and fsyncs d. It fails if name exists in any form.
func (d *Dir) Mkdir(name string, perm os.FileMode) error {
	pfd, base, owned, err := d.parent(name)
	if err != nil {
		return err
	}
	if owned {
		defer unix.Close(pfd)
	}
	if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
		return &os.PathError{Op: "mkdir", Path: d.Path(name), Err: err}
	}
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: d.Path(name), Err: linkErr(err)}
	}
	defer unix.Close(fd)
	if err := unix.Fchmod(fd, modeBits(perm)); err != nil {
		return &os.PathError{Op: "chmod", Path: d.Path(name), Err: err}
	}
	if err := unix.Fsync(pfd); err != nil {
		return &os.PathError{Op: "fsync", Path: d.Path(name), Err: err}
	}
	return nil
}

// Chmod sets name's mode exactly (a link is refused, never followed).
func (d *Dir) Chmod(name string, perm os.FileMode) error {
	f, err := d.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Fchmod(int(f.Fd()), modeBits(perm)); err != nil {
		return &os.PathError{Op: "chmod", Path: d.Path(name), Err: err}
	}
	return nil
}

// Lstat describes name inside d without following a link at any component.
func (d *Dir) Lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	pfd, base, owned, err := d.parent(name)
	if err != nil {
		return st, err
	}
	if owned {
		defer unix.Close(pfd)
	}
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, &os.PathError{Op: "lstat", Path: d.Path(name), Err: err}
	}
	return st, nil
}

// Stat describes the directory itself.
func (d *Dir) Stat() (unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstat(d.fd, &st); err != nil {
		return st, &os.PathError{Op: "stat", Path: d.path, Err: err}
	}
	return st, nil
}

// Remove removes the file name inside d (not a directory) and fsyncs d.
func (d *Dir) Remove(name string) error {
	pfd, base, owned, err := d.parent(name)
	if err != nil {
		return err
	}
	if owned {
		defer unix.Close(pfd)
	}
	if err := unix.Unlinkat(pfd, base, 0); err != nil {
		return &os.PathError{Op: "remove", Path: d.Path(name), Err: err}
	}
	return unix.Fsync(pfd)
}

// Rename moves oldname to newname, both inside d, replacing newname, and fsyncs the directories.
func (d *Dir) Rename(oldname, newname string) error {
	ofd, obase, oowned, err := d.parent(oldname)
	if err != nil {
		return err
	}
	if oowned {
		defer unix.Close(ofd)
	}
	nfd, nbase, nowned, err := d.parent(newname)
	if err != nil {
		return err
	}
	if nowned {
		defer unix.Close(nfd)
	}
	if err := unix.Renameat(ofd, obase, nfd, nbase); err != nil {
		return &os.LinkError{Op: "rename", Old: d.Path(oldname), New: d.Path(newname), Err: err}
	}
	if err := unix.Fsync(nfd); err != nil {
		return err
	}
	if ofd != nfd {
		return unix.Fsync(ofd)
	}
	return nil
}

// ReadDir lists the names in the directory name inside d ("" or "." for d itself).
func (d *Dir) ReadDir(name string) ([]string, error) {
	sub := d
	if name != "" && name != "." {
		var err error
		if sub, err = d.OpenDir(name); err != nil {
			return nil, err
		}
		defer sub.Close()
	}
	fd, err := unix.Openat(sub.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: sub.path, Err: err}
	}
	f := os.NewFile(uintptr(fd), sub.path)
	defer f.Close()
	return f.Readdirnames(-1)
}

// modeBits turns an os.FileMode into the kernel's mode bits, setgid/setuid/sticky included.
func modeBits(m os.FileMode) uint32 {
	b := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		b |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		b |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		b |= unix.S_ISVTX
	}
	return b
}

// FileMode turns the kernel's mode bits (as in a Stat_t) into an os.FileMode's permission,
// setuid, setgid and sticky bits.
func FileMode(bits uint32) os.FileMode {
	m := os.FileMode(bits & 0o777)
	if bits&unix.S_ISUID != 0 {
		m |= os.ModeSetuid
	}
	if bits&unix.S_ISGID != 0 {
		m |= os.ModeSetgid
	}
	if bits&unix.S_ISVTX != 0 {
		m |= os.ModeSticky
	}
	return m
}
