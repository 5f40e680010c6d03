package steps

import (
	"fmt"
	"time"

	"github.com/goccy/go-yaml/token"
)

// Chooser is a kind's field type whose values are a fixed set (its own UnmarshalYAML refuses any
// other at its line): `cairn show --kind` lists them.
type Chooser interface {
	Choices() []string
}

// ParseDuration reads a duration field's token ("2s", "10m") for a kind's own YAML decoding. A bare
// number, a negative duration or one under min is refused as a ValueError at the token, saying what
// to write instead; why says why min (shown after it, may be empty).
func ParseDuration(tk *token.Token, min time.Duration, why string) (time.Duration, error) {
	s := tk.Value
	v, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, &ValueError{Token: tk, Msg: fmt.Sprintf("want a duration such as 2s, 90s or 10m (a number needs its unit), got %q", s)}
	case v < 0:
		return 0, &ValueError{Token: tk, Msg: fmt.Sprintf("want a duration of 0 or more (such as 10m), got %q", s)}
	case v < min:
		if why != "" {
			why = " (" + why + ")"
		}
		return 0, &ValueError{Token: tk, Msg: fmt.Sprintf("want a duration of %s or more%s, got %q", min, why, s)}
	}
	return v, nil
}
