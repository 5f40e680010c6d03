package cmdutil

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A usage error is known by its type, wrapped or not; an error that only reads like one is not.
func TestIsUsage(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{FlagErrorf("--format %q: use md or json", "x"), true},
		{fmt.Errorf("resume: %w", FlagErrorWrap(errors.New("bad"))), true},
		{errors.New("unknown flag: --bogus"), false},
		{errors.New("accepts 1 arg(s), received 0"), false},
	} {
		if got := IsUsage(tt.err); got != tt.want {
			t.Errorf("IsUsage(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
	if FlagErrorWrap(nil) != nil {
		t.Error("FlagErrorWrap(nil) is not nil")
	}
}

// A person can be asked only when they see the question and can type the answer.
func TestCanPrompt(t *testing.T) {
	for _, tt := range []struct{ out, in, want bool }{{true, true, true}, {true, false, false}, {false, true, false}, {false, false, false}} {
		s := &IOStreams{IsTerminal: tt.out, InIsTerminal: tt.in}
		if s.CanPrompt() != tt.want {
			t.Errorf("stdout terminal %v, stdin terminal %v: CanPrompt %v", tt.out, tt.in, !tt.want)
		}
	}
}

// Off a terminal, ReadSecret reads one line of In, without its line end, and leaves the rest.
func TestReadSecretFromAPipe(t *testing.T) {
	in := strings.NewReader("s3cret\r\nnext")
	s := &IOStreams{In: in}
	if got, err := s.ReadSecret(); got != "s3cret" || err != nil {
		t.Fatalf("ReadSecret = %q, %v", got, err)
	}
	if got, err := s.ReadSecret(); got != "next" || err != nil {
		t.Fatalf("second ReadSecret = %q, %v", got, err)
	}
}
