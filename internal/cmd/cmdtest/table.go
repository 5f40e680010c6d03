package cmdtest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
)

// Env is the environment of every table test: the state directory is /state.
var Env = map[string]string{"CAIRN_STATE_DIR": "/state"}

// Case is one argv (what follows the verb's name) and the options it parses into, or the usage
// error it is refused with.
type Case[O any] struct {
	Name string
	Argv []string
	Want O
	// Usage, when set, is part of the usage error argv is refused with before the run function.
	Usage string
}

// Table runs every case through the verb's constructor (with Env): argv parses into exactly Want
// once deps has zeroed the dependencies (streams, environment, factory), which argv does not decide;
// or argv is refused with a usage error (exit status 2) and the run function is never reached.
func Table[O any](t *testing.T, newCmd NewCmd[O], deps func(*O), cases []Case[O]) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			f, _, _ := Factory(Env)
			got, err := Parse(f, newCmd, c.Argv...)
			if c.Usage != "" {
				if !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), c.Usage) || got != nil {
					t.Fatalf("%q: %v (run function reached: %v), want a usage error saying %q", c.Argv, err, got != nil, c.Usage)
				}
				return
			}
			if err != nil {
				t.Fatalf("%q: %v", c.Argv, err)
			}
			deps(got)
			if !reflect.DeepEqual(*got, c.Want) {
				t.Fatalf("%q parsed into\n%+v\nwant\n%+v", c.Argv, *got, c.Want)
			}
		})
	}
}

// Output runs argv through the verb as cairn does, in the environment env, and returns what it
// wrote to stdout and stderr and its error.
func Output[O any](env map[string]string, newCmd NewCmd[O], argv ...string) (out, errOut string, err error) {
	f, o, e := Factory(env)
	err = Run(f, newCmd, argv...)
	return o.String(), e.String(), err
}
