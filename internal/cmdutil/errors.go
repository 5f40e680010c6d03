package cmdutil

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

// FlagError is a usage error: wrong flags or arguments (exit status 2). It is recognised by its
// type, never by its message.
type FlagError struct{ err error }

func (e *FlagError) Error() string { return e.err.Error() }
func (e *FlagError) Unwrap() error { return e.err }

// FlagErrorf is a usage error in its own words.
func FlagErrorf(format string, args ...any) error { return &FlagError{fmt.Errorf(format, args...)} }

// FlagErrorWrap makes err a usage error (nil stays nil).
func FlagErrorWrap(err error) error {
	if err == nil {
		return nil
	}
	return &FlagError{err}
}

// IsUsage reports whether err is a usage error (exit status 2).
func IsUsage(err error) bool {
	var fe *FlagError
	return errors.As(err, &fe)
}

// FlagErrorFunc is the root command's cobra flag error hook: a flag that does not parse is a
// usage error.
func FlagErrorFunc(_ *cobra.Command, err error) error { return FlagErrorWrap(err) }
