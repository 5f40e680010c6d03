package fsutil

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// withUmask runs f under a process umask (the package's tests are not parallel).
func withUmask(t *testing.T, mask int, f func()) {
	t.Helper()
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	f()
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode() & (os.ModePerm | os.ModeSetgid | os.ModeSticky)
}

func TestModesAreExactUnderAnyUmask(t *testing.T) {
	for _, mask := range []int{0o022, 0o077, 0o777} {
		withUmask(t, mask, func() {
			root := t.TempDir()
			d, err := OpenDir(root)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if err := d.Mkdir("runs", 0o770|os.ModeSetgid|os.ModeSticky); err != nil {
				t.Fatal(err)
			}
			if got := mode(t, filepath.Join(root, "runs")); got != 0o770|os.ModeSetgid|os.ModeSticky {
				t.Errorf("umask %03o: runs is %v", mask, got)
			}
			f, err := d.Create("runs/journal", 0o640)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if got := mode(t, filepath.Join(root, "runs/journal")); got != 0o640 {
				t.Errorf("umask %03o: created file is %v", mask, got)
			}
			if err := d.WriteAtomic("runs/meta", []byte("x"), 0o640); err != nil {
				t.Fatal(err)
			}
			if got := mode(t, filepath.Join(root, "runs/meta")); got != 0o640 {
				t.Errorf("umask %03o: written file is %v", mask, got)
			}
		})
	}
}

func TestCreateRefusesWhatIsThere(t *testing.T) {
	root := t.TempDir()
	d, _ := OpenDir(root)
	defer d.Close()
	os.WriteFile(filepath.Join(root, "target"), []byte("root's"), 0o600)
	os.Symlink(filepath.Join(root, "target"), filepath.Join(root, "lock"))
	if _, err := d.Create("lock", 0o600); !errors.Is(err, os.ErrExist) {
		t.Fatalf("create over a link: %v", err)
	}
	if err := d.Mkdir("lock", 0o700); !errors.Is(err, os.ErrExist) {
		t.Fatalf("mkdir over a link: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "target")); string(b) != "root's" {
		t.Fatalf("the link's target changed: %q", b)
	}
}

func TestLinksAreNeverFollowed(t *testing.T) {
	root := t.TempDir()
	elsewhere := t.TempDir()
	secret := filepath.Join(elsewhere, "secret")
	os.WriteFile(secret, []byte("do not touch"), 0o600)
	os.Symlink(secret, filepath.Join(root, "lock"))
	os.Symlink(elsewhere, filepath.Join(root, "work"))
	d, _ := OpenDir(root)
	defer d.Close()

	for _, c := range []struct {
		what string
		err  error
	}{
		{"open a linked file for writing", func() error {
			f, err := d.OpenFile("lock", os.O_RDWR|os.O_CREATE, 0o600)
			if err == nil {
				f.Truncate(0)
				f.Close()
			}
			return err
		}()},
		{"read a linked file", func() error { _, err := d.ReadFile("lock"); return err }()},
		{"read through a linked directory", func() error { _, err := d.ReadFile("work/secret"); return err }()},
		{"write through a linked directory", d.WriteAtomic("work/secret", []byte("x"), 0o600)},
		{"open a linked directory", func() error { _, err := d.OpenDir("work"); return err }()},
		{"chmod a link", d.Chmod("lock", 0o666)},
		{"climb out", func() error { _, err := d.ReadFile("../x"); return err }()},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.what)
		} else if !strings.Contains(c.err.Error(), root) {
			t.Errorf("%s: error does not name the file: %v", c.what, c.err)
		}
	}
	if b, _ := os.ReadFile(secret); string(b) != "do not touch" {
		t.Fatalf("a link was followed: %q", b)
	}
	if got := mode(t, secret); got != 0o600 {
		t.Fatalf("a link was followed by chmod: %v", got)
	}
	// the only things to say about a link: it is one
	st, err := d.Lstat("lock")
	if err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFLNK {
		t.Fatalf("lstat: %v %o", err, st.Mode)
	}
}

func TestWriteAtomicReplacesWholeAndLeavesNothingBehind(t *testing.T) {
	root := t.TempDir()
	p := filepath.Join(root, "pg_hba.conf")
	// a link at the target is replaced by the file, its own target untouched
	other := filepath.Join(t.TempDir(), "other")
	os.WriteFile(other, []byte("other"), 0o644)
	os.Symlink(other, p)
	if err := WriteAtomic(p, []byte("new\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(other); string(b) != "other" {
		t.Fatalf("the link's target was written: %q", b)
	}
	if b, _ := os.ReadFile(p); string(b) != "new\n" || mode(t, p) != 0o640 {
		t.Fatalf("file %q %v", b, mode(t, p))
	}
	if err := WriteAtomicAs(p, []byte("newer\n"), 0o600, os.Getuid(), os.Getgid()); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(root)
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
	// a failed write (no such directory) says where
	if err := WriteAtomic(filepath.Join(root, "nodir", "f"), nil, 0o600); err == nil || !strings.Contains(err.Error(), "nodir") {
		t.Fatalf("write into a missing directory: %v", err)
	}
}

func TestRenameRemoveAndList(t *testing.T) {
	root := t.TempDir()
	d, _ := OpenDir(root)
	defer d.Close()
	d.Mkdir("a", 0o700)
	d.WriteAtomic("a/x", []byte("1"), 0o600)
	if err := d.Rename("a/x", "y"); err != nil {
		t.Fatal(err)
	}
	names, err := d.ReadDir(".")
	if err != nil || strings.Join(names, ",") != "a,y" && strings.Join(names, ",") != "y,a" {
		t.Fatalf("names %v %v", names, err)
	}
	if err := d.Remove("y"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Lstat("y"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after remove: %v", err)
	}
}

func TestCreateFileAsIsNewExactAndLeavesNothingOnFailure(t *testing.T) {
	withUmask(t, 0o077, func() {
		root := t.TempDir()
		p := filepath.Join(root, "id_ed25519.pub")
		if err := CreateFileAs(p, []byte("key\n"), 0o644, os.Getuid(), os.Getgid()); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != "key\n" || mode(t, p) != 0o644 {
			t.Fatalf("file %q %v", b, mode(t, p))
		}
		if err := CreateFileAs(p, []byte("other\n"), 0o644, -1, -1); !errors.Is(err, os.ErrExist) {
			t.Fatalf("over an existing file: %v", err)
		}
		link := filepath.Join(root, "id_ed25519")
		os.Symlink(filepath.Join(root, "elsewhere"), link)
		if err := CreateFileAs(link, []byte("secret"), 0o600, -1, -1); err == nil {
			t.Fatal("created through a dangling link")
		}
		if _, err := os.Lstat(filepath.Join(root, "elsewhere")); !errors.Is(err, os.ErrNotExist) {
			t.Fatal("the link was followed")
		}
	})
}
