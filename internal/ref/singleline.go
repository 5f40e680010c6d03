package ref

import (
	"fmt"
	"strings"
)

// LineBreakError is a value that must be one line (a config file's value, a parameter shown in a plan
// or a report, a pg_hba or crontab line) and holds a line break or a NUL: written out, it would add
// lines of its own — `repo-path=/x` + LF + `repo1-host=evil` is two keys in an INI file.
type LineBreakError struct {
	What  string // "parameter repo-path", "config key [global] repo1-path"
	Value string
}

func (e *LineBreakError) Error() string {
	return fmt.Sprintf("%s: %q holds a line break (CR or LF) or a NUL; it must be one line: give it without one", e.What, e.Value)
}

// SingleLine returns a *LineBreakError when v holds CR, LF or NUL.
func SingleLine(what, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return &LineBreakError{What: what, Value: v}
	}
	return nil
}
