package ref

import (
	"fmt"
	"strings"
)

// ParseBool reads a yes/no value the one way cairn reads it everywhere — a bool parameter, a step's
// flag: true/false, yes/no, on/off, t/f, y/n, 1/0, in any case. Anything else is an error.
func ParseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "yes", "y", "on", "1":
		return true, nil
	case "false", "f", "no", "n", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not true or false", s)
}
