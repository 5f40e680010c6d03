// Package common is what every page and component shares: the screen size, the styles, the key map
// and the clock. It is passed by pointer from the root model; nothing here is package-level state.
package common

import (
	"time"

	"github.com/cairn-runbooks/cairn/tui/keymap"
	"github.com/cairn-runbooks/cairn/tui/styles"
)

// Common is the shared context.
type Common struct {
	Width, Height int
	Styles        *styles.Styles
	Keys          *keymap.KeyMap
	Now           func() time.Time
	// Static draws spinners as a still glyph (tests, and anyone who wants no motion at all).
	Static bool
	// After is the timer a prompt's type-ahead guard waits on before it takes keys (tests inject
	// one they release by hand); nil means time.After.
	After func(time.Duration) <-chan time.Time
}

// Timer returns the guard's timer: After, or time.After.
func (c *Common) Timer() func(time.Duration) <-chan time.Time {
	if c.After != nil {
		return c.After
	}
	return time.After
}

// New returns a context for an 80×24 dark terminal until told otherwise.
func New(now func() time.Time) *Common {
	if now == nil {
		now = time.Now
	}
	return &Common{Width: 80, Height: 24, Styles: styles.New(true), Keys: keymap.Default(), Now: now}
}

// FormatDuration writes a duration the way the screens show it: 42s, 3m05s, 1h02m.
func FormatDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	d = d.Round(time.Second)
	h := int(d / time.Hour)
	m := int(d % time.Hour / time.Minute)
	s := int(d % time.Minute / time.Second)
	switch {
	case h > 0:
		return itoa(h) + "h" + pad2(m) + "m"
	case m > 0:
		return itoa(m) + "m" + pad2(s) + "s"
	default:
		return itoa(s) + "s"
	}
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func pad2(n int) string {
	if n < 10 {
		return "0" + itoa(n)
	}
	return itoa(n)
}

// Plural writes "1 step", "3 steps".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return itoa(n) + " " + noun + "s"
}
