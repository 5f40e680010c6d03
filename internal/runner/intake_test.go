package runner

import (
	"os"
	"syscall"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/journal"
)

// The intake admits the owner, root and members of a shared state directory's group (by the
// kernel's list of the caller's groups), and no one else.
func TestIntakeAdmitsOwnerRootAndGroupOnly(t *testing.T) {
	state := t.TempDir()
	st, err := os.Stat(state)
	if err != nil {
		t.Fatal(err)
	}
	gid := int(st.Sys().(*syscall.Stat_t).Gid)
	stranger := 1 << 20
	shared := &Runner{cfg: Config{Run: &journal.Run{Dir: state + "/runs/x", ID: "x", Shared: true}}}
	private := &Runner{cfg: Config{Run: &journal.Run{Dir: state + "/runs/x", ID: "x"}}}
	for _, tt := range []struct {
		r    *Runner
		peer journal.Peer
		ok   bool
	}{
		{shared, journal.Peer{UID: os.Getuid(), GID: stranger}, true},
		{shared, journal.Peer{UID: 0, GID: stranger}, true},
		{shared, journal.Peer{UID: stranger, GID: stranger, Groups: []int{stranger + 1, gid}}, true},
		{shared, journal.Peer{UID: stranger, GID: gid}, true},
		{shared, journal.Peer{UID: stranger, GID: stranger, Groups: []int{stranger + 1}}, false},
		{private, journal.Peer{UID: stranger, GID: gid, Groups: []int{gid}}, false},
	} {
		err := tt.r.admit(tt.peer)
		if (err == nil) != tt.ok {
			t.Errorf("shared=%v peer %+v: admitted=%v, want %v (%v)", tt.r.cfg.Run.Shared, tt.peer, err == nil, tt.ok, err)
		}
	}
}
