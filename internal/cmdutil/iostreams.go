package cmdutil

import (
	"bytes"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// IOStreams are the three standard streams plus what cairn needs to know about them. Nothing in
// cairn reads os.Stdin or asks whether a stream is a terminal except through these.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
	// IsTerminal is true when Out is an interactive terminal (the TUI may open).
	IsTerminal bool
	// InIsTerminal is true when In is an interactive terminal (someone may type answers).
	InIsTerminal bool
	// NoColor is true when NO_COLOR is set or Out is not a terminal.
	NoColor bool
}

// System is the process's own streams, as main hands them to the commands.
func System(getenv func(string) string) *IOStreams {
	out := term.IsTerminal(int(os.Stdout.Fd()))
	return &IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, IsTerminal: out,
		InIsTerminal: term.IsTerminal(int(os.Stdin.Fd())), NoColor: !out || getenv("NO_COLOR") != ""}
}

// CanPrompt reports whether a person can be asked: both ends are terminals, so they see the
// question (Out) and can type the answer (In). cli/cli's IOStreams.CanPrompt.
func (s *IOStreams) CanPrompt() bool { return s.IsTerminal && s.InIsTerminal }

// ReadSecret reads one line from In without echoing it when In is a terminal. Off a terminal it
// reads byte by byte, so nothing after the line is taken from In.
func (s *IOStreams) ReadSecret() (string, error) {
	if f, ok := s.In.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := term.ReadPassword(int(f.Fd()))
		return string(b), err
	}
	var line []byte
	b := make([]byte, 1)
	for {
		n, err := s.In.Read(b)
		if n == 1 && b[0] == '\n' {
			break
		}
		line = append(line, b[:n]...)
		if err == io.EOF && len(line) > 0 {
			break
		}
		if err != nil {
			return "", err
		}
	}
	return strings.TrimSuffix(string(line), "\r"), nil
}

// TestIOStreams are streams on buffers for a test: no terminal at either end.
func TestIOStreams() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, NoColor: true}, in, out, errOut
}
