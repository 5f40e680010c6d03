package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/fsutil"
)

// Refusal is why cairn will not touch a run: what is wrong (naming the file), the state things are
// in, and what to do next. It is an error.
type Refusal struct {
	Summary string
	Detail  string
	State   string
	Next    string
}

func (e *Refusal) Error() string {
	s := e.Summary
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	if e.State != "" {
		s += "; " + e.State
	}
	if e.Next != "" {
		s += "; " + e.Next
	}
	return s
}

// Diag is the refusal as the engineer's diagnostic.
func (e *Refusal) Diag() *events.Diag {
	return &events.Diag{Summary: e.Summary, Detail: e.Detail, State: e.State, Next: e.Next}
}

// Purpose says what a caller of Check will do with the run.
type Purpose int

// Purposes.
const (
	// ToRead: report, follow. The files must be the creator's and unwritable by others.
	ToRead Purpose = iota
	// ToDrive: resume, rollback, the runner. Also the caller must be the uid that created the run,
	// and runbook.yaml must be the one the run started with.
	ToDrive
)

// Check refuses a run that someone other than its creator could have changed: any file or
// directory of the run (the directory itself, work/ and everything in it included) that is a link,
// belongs to another uid, or is group- or world-writable (the runner's socket aside: it is 0660 on
// purpose, and a connection is judged by the kernel's word on who made it); a runs/ directory
// others may write in that is not sticky; a runbook.yaml whose hash is not the one the run was
// created with (meta.json and the first journal record), when the run is to be driven. To drive a
// run, the caller must also be the uid that created it.
func Check(r *Run, purpose Purpose) error {
	refuse := func(file, summary, detail, next string) error {
		return &Refusal{Summary: fmt.Sprintf("run %s: %s %s", r.ID, file, summary), Detail: detail,
			State: "nothing was run or changed", Next: next}
	}
	parent, err := fsutil.OpenDir(filepath.Dir(r.Dir))
	if err != nil {
		return fmt.Errorf("run %s: %w", r.ID, err)
	}
	defer parent.Close()
	pst, err := parent.Stat()
	if err != nil {
		return err
	}
	if pst.Mode&0o022 != 0 && pst.Mode&unix.S_ISVTX == 0 {
		return refuse(parent.Path(), fmt.Sprintf("is %v and not sticky", fsutil.FileMode(pst.Mode)),
			"anyone who may write in it can rename a run directory and put another in its place",
			fmt.Sprintf("as its owner (uid %d) or root: chmod +t %s", pst.Uid, parent.Path()))
	}
	d, err := r.OpenDir()
	if err != nil {
		if st, lerr := parent.Lstat(filepath.Base(r.Dir)); lerr == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return refuse(r.Dir, "is a symbolic link", "a run directory is never reached through a link", "look at who made it: ls -l "+parent.Path())
		}
		return err
	}
	defer d.Close()
	st, err := d.Stat()
	if err != nil {
		return err
	}
	owner := int(st.Uid)
	if purpose == ToDrive {
		if me := os.Geteuid(); me != owner {
			return &Refusal{
				Summary: fmt.Sprintf("run %s belongs to %s; you are %s", r.ID, uidName(owner), uidName(me)),
				Detail:  "only the uid that created a run drives it: its runner writes the run's files and acts with that uid's rights",
				State:   "nothing was run or changed",
				Next:    fmt.Sprintf("ask %s to `cairn resume %s`, or `cairn follow %s` to watch", uidName(owner), r.ID, r.ID),
			}
		}
	}
	// what is in it first: the file someone changed says more than the directory that let them.
	// A reader who is not the owner cannot look into work/ (0700, the runner's alone) and need not:
	// whoever drives the run can, and does.
	if err := walk(d, "", owner, os.Geteuid() != owner, refuse); err != nil {
		return err
	}
	if err := checkEntry(r.Dir, st, owner, false); err != nil {
		return refuse(r.Dir, err.Error(), whyOwned, nextFor(err, r.Dir, r.Dir, owner))
	}
	meta, err := r.Meta()
	if err != nil {
		return err
	}
	if meta.ID != r.ID {
		return refuse(r.Path(MetaFile), fmt.Sprintf("names run %q", meta.ID), "a run directory holds its own run only", nextOwned)
	}
	if meta.OwnerUID != owner && !(meta.OwnerUID == 0 && owner != 0 && meta.RunbookSHA256 == "") {
		// (a run made before owner_uid was recorded has none: its directory's owner stands)
		return refuse(r.Dir, fmt.Sprintf("belongs to %s, but the run was created by %s", uidName(owner), uidName(meta.OwnerUID)), whyOwned, nextOwned)
	}
	if purpose != ToDrive {
		return nil // the record is the journal; the runbook text matters to whoever runs it next
	}
	text, err := d.ReadFile(RunbookFile)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(text)
	have := hex.EncodeToString(sum[:])
	first := ""
	recs, err := ReadAll(r)
	if err != nil {
		return err
	}
	if len(recs) > 0 && recs[0].Run != nil {
		first = recs[0].Run.RunbookSHA256
	}
	for _, want := range []struct{ where, sum string }{{MetaFile, meta.RunbookSHA256}, {"the first journal record", first}} {
		if want.sum != "" && want.sum != have {
			return refuse(r.Path(RunbookFile), "is not the runbook the run started with",
				fmt.Sprintf("its sha256 is %s, %s says %s", short(have), want.where, short(want.sum)),
				"start a new run with the runbook you mean: `cairn run <runbook>`")
		}
	}
	return nil
}

const (
	whyOwned  = "every file of a run is written by its runner, as the uid that created it, and is never writable by others; anything else may have been changed behind the runner's back"
	nextOwned = "look at who changed it (ls -la the run directory), keep the run for the record, and start a new run"
)

// errWritable is what checkEntry says of a file others may write.
var errWritable = errors.New("is writable by others")

// nextFor is the next step for what checkEntry found. A writable file may be nobody's doing (a
// cairn before this one left shared runs group-writable): its owner can look, then close it.
func nextFor(err error, dir, file string, owner int) string {
	if errors.Is(err, errWritable) {
		return fmt.Sprintf("look at who changed what (ls -la %s); if no one did (runs made by an earlier cairn were group-writable), as %s: chmod go-w %s", dir, uidName(owner), file)
	}
	return nextOwned
}

// walk checks every entry under the directory name of d ("" for d itself), recursively.
func walk(d *fsutil.Dir, name string, owner int, reader bool, refuse func(file, summary, detail, next string) error) error {
	names, err := d.ReadDir(orDot(name))
	if reader && name != "" && errors.Is(err, os.ErrPermission) {
		return nil
	}
	if err != nil {
		return refuse(d.Path(name), "cannot be read", err.Error(), nextOwned)
	}
	for _, n := range names {
		rel := filepath.Join(name, n)
		st, err := d.Lstat(rel)
		if errors.Is(err, os.ErrNotExist) {
			continue // gone since the listing (a temporary file renamed into place)
		}
		if err != nil {
			return err
		}
		socket := name == "" && n == SocketFile
		if err := checkEntry(d.Path(rel), st, owner, socket); err != nil {
			return refuse(d.Path(rel), err.Error(), whyOwned, nextFor(err, d.Path(), d.Path(rel), owner))
		}
		if st.Mode&unix.S_IFMT == unix.S_IFDIR {
			if err := walk(d, rel, owner, reader, refuse); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkEntry(path string, st unix.Stat_t, owner int, socket bool) error {
	switch {
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return errors.New("is a symbolic link")
	case int(st.Uid) != owner:
		return fmt.Errorf("belongs to %s, not to %s who created the run", uidName(int(st.Uid)), uidName(owner))
	case socket && st.Mode&unix.S_IFMT == unix.S_IFSOCK:
		if st.Mode&0o002 != 0 {
			return fmt.Errorf("is world-writable (%v)", fsutil.FileMode(st.Mode))
		}
	case st.Mode&0o022 != 0:
		return fmt.Errorf("%w (%v)", errWritable, fsutil.FileMode(st.Mode))
	}
	return nil
}

func orDot(name string) string {
	if name == "" {
		return "."
	}
	return name
}

func uidName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return fmt.Sprintf("uid %d (%s)", uid, u.Username)
	}
	return "uid " + strconv.Itoa(uid)
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12] + "…"
	}
	return strings.TrimSpace(sum)
}
