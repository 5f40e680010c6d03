package root

import (
	"fmt"
	"regexp"

	"github.com/spf13/cobra"
)

// runIDPattern is a run id as `cairn runs` lists it (20261204-133718.123-a1b2c3), or a part of one:
// a prefix or the random tail. It holds no "/" and is never "." or "..": an id names a directory
// under runs/ and nothing else.
var runIDPattern = regexp.MustCompile(`^[0-9a-f][0-9a-f.-]{0,25}$`)

// checkRunID refuses an argument that cannot be a run id, before anything is opened.
func checkRunID(id string) error {
	if !runIDPattern.MatchString(id) {
		return &usageErr{fmt.Errorf("%q is not a run id: give one as `cairn runs` lists it (e.g. 20261204-133718.123-a1b2c3, or its last 6 characters)", id)}
	}
	return nil
}

// runIDArgs accepts n arguments (at least n with more, e.g. note's text), the first a run id.
func runIDArgs(n int, more bool) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		check := cobra.ExactArgs(n)
		if more {
			check = cobra.MinimumNArgs(n)
		}
		if err := check(cmd, args); err != nil {
			return err
		}
		return checkRunID(args[0])
	}
}
