package fsutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WriteAtomic replaces name inside d with data, mode exactly perm: a new temporary file next to it
// (O_EXCL, never a link), written and fsync'd, renamed over name, then the directory fsync'd. A
// reader sees the old content or the new, never part of either; a crash at any point leaves one of
// them (and at worst a stray ".name.cairn-*.tmp").
func (d *Dir) WriteAtomic(name string, data []byte, perm os.FileMode) error {
	return d.WriteAtomicAs(name, data, perm, -1, -1)
}

// WriteAtomicAs is WriteAtomic with the new file owned by uid:gid (-1 leaves either as created).
func (d *Dir) WriteAtomicAs(name string, data []byte, perm os.FileMode, uid, gid int) error {
	pfd, base, owned, err := d.parent(name)
	if err != nil {
		return err
	}
	if owned {
		defer unix.Close(pfd)
	}
	dst := d.Path(name)
	var tmp string
	var fd int
	for range 10 {
		tmp = "." + base + ".cairn-" + randomSuffix() + ".tmp"
		fd, err = unix.Openat(pfd, tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if !errors.Is(err, unix.EEXIST) {
			break
		}
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: filepath.Join(filepath.Dir(dst), tmp), Err: err}
	}
	f := os.NewFile(uintptr(fd), filepath.Join(filepath.Dir(dst), tmp))
	fail := func(op string, err error) error {
		f.Close()
		_ = unix.Unlinkat(pfd, tmp, 0)
		return &os.PathError{Op: op, Path: dst, Err: err}
	}
	if uid >= 0 || gid >= 0 {
		if err := unix.Fchown(fd, uid, gid); err != nil {
			return fail("chown", err)
		}
	}
	// after the chown, which clears setuid/setgid bits
	if err := unix.Fchmod(fd, modeBits(perm)); err != nil {
		return fail("chmod", err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := f.Close(); err != nil {
		_ = unix.Unlinkat(pfd, tmp, 0)
		return &os.PathError{Op: "close", Path: dst, Err: err}
	}
	if err := unix.Renameat(pfd, tmp, pfd, base); err != nil {
		_ = unix.Unlinkat(pfd, tmp, 0)
		return &os.PathError{Op: "rename", Path: dst, Err: err}
	}
	if err := unix.Fsync(pfd); err != nil {
		return &os.PathError{Op: "fsync", Path: filepath.Dir(dst), Err: err}
	}
	return nil
}

// WriteAtomic replaces the file at path as Dir.WriteAtomic does, in path's directory (which is
// the caller's to trust; a link at path itself is replaced, not followed).
func WriteAtomic(path string, data []byte, perm os.FileMode) error {
	return WriteAtomicAs(path, data, perm, -1, -1)
}

// WriteAtomicAs is WriteAtomic with the new file owned by uid:gid (-1 leaves either as created).
func WriteAtomicAs(path string, data []byte, perm os.FileMode, uid, gid int) error {
	d, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.WriteAtomicAs(filepath.Base(path), data, perm, uid, gid)
}

// SyncDir fsyncs the directory at path (after creating, renaming or removing a name in it).
func SyncDir(path string) error {
	d, err := OpenDir(path)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// CreateFileAs makes a new file at path that must not exist yet (O_EXCL, never through a link at
// path), owned by uid:gid (-1 leaves either as created) with exactly perm — both set before any
// byte is written — then writes data, fsyncs it and its directory. On failure nothing is left.
func CreateFileAs(path string, data []byte, perm os.FileMode, uid, gid int) error {
	d, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	name := filepath.Base(path)
	f, err := d.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	fail := func(op string, err error) error {
		f.Close()
		_ = unix.Unlinkat(d.fd, name, 0)
		return &os.PathError{Op: op, Path: path, Err: err}
	}
	if uid >= 0 || gid >= 0 {
		if err := unix.Fchown(int(f.Fd()), uid, gid); err != nil {
			return fail("chown", err)
		}
	}
	if err := unix.Fchmod(int(f.Fd()), modeBits(perm)); err != nil {
		return fail("chmod", err)
	}
	if _, err := f.Write(data); err != nil {
		return fail("write", err)
	}
	if err := f.Sync(); err != nil {
		return fail("fsync", err)
	}
	if err := f.Close(); err != nil {
		_ = unix.Unlinkat(d.fd, name, 0)
		return &os.PathError{Op: "close", Path: path, Err: err}
	}
	return d.Sync()
}
