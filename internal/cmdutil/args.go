package cmdutil

import (
	"regexp"
	"strings"

	"github.com/spf13/cobra"
)

// usageArgs turns cobra's argument check into one whose refusal is a usage error.
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error { return FlagErrorWrap(check(cmd, args)) }
}

// NoArgs, ExactArgs, MaximumNArgs and MinimumNArgs are cobra's, refusing with a FlagError.
var NoArgs = usageArgs(cobra.NoArgs)

func ExactArgs(n int) cobra.PositionalArgs    { return usageArgs(cobra.ExactArgs(n)) }
func MaximumNArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.MaximumNArgs(n)) }
func MinimumNArgs(n int) cobra.PositionalArgs { return usageArgs(cobra.MinimumNArgs(n)) }

// runIDPattern is a run id as `cairn runs` lists it (20261204-133718.123-a1b2c3), or a part of one:
// a prefix or the random tail. It holds no "/" and is never "." or "..": an id names a directory
// under runs/ and nothing else.
var runIDPattern = regexp.MustCompile(`^[0-9a-f][0-9a-f.-]{0,25}$`)

// CheckRunID refuses an argument that cannot be a run id, before anything is opened.
func CheckRunID(id string) error {
	if !runIDPattern.MatchString(id) {
		return FlagErrorf("%q is not a run id: give one as `cairn runs` lists it (e.g. 20261204-133718.123-a1b2c3, or its last 6 characters)", id)
	}
	return nil
}

// RunIDArgs accepts n arguments (at least n with more, e.g. note's text), the first a run id.
func RunIDArgs(n int, more bool) cobra.PositionalArgs {
	check := ExactArgs(n)
	if more {
		check = MinimumNArgs(n)
	}
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return FlagErrorf("which run? give its id: %s (`cairn runs` lists them)", strings.TrimSuffix(cmd.UseLine(), " [flags]"))
		}
		if err := check(cmd, args); err != nil {
			return err
		}
		return CheckRunID(args[0])
	}
}
