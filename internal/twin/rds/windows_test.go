package rds

import (
	"errors"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

func TestCheckWindows(t *testing.T) {
	cases := []struct {
		backup, maintenance string
		code                string // "" when accepted
	}{
		{"03:00-03:30", "sun:05:00-sun:05:30", ""},
		{"01:30-02:00", "sat:22:00-sat:22:30", ""},
		{"23:45-00:15", "mon:01:00-mon:01:30", ""},
		{"23:45-00:15", "mon:00:00-mon:00:30", "InvalidParameterCombination"}, // the backup window wraps into Monday
		{"00:00-00:30", "sun:23:45-mon:00:15", "InvalidParameterCombination"}, // the maintenance window wraps into the week
		{"05:00-05:30", "wed:05:15-wed:05:45", "InvalidParameterCombination"},
		{"05:00-05:30", "wed:05:30-wed:06:00", ""}, // touching is not overlapping
		{"05:00-05:10", "sun:05:00-sun:05:30", "InvalidParameterValue"},
		{"5:00-5:30", "sun:05:00-sun:05:30", "InvalidParameterValue"},
		{"25:00-25:30", "sun:05:00-sun:05:30", "InvalidParameterValue"},
		{"03:00-03:30", "someday", "InvalidParameterValue"},
		{"03:00-03:30", "sun:05:00-sun:05:15", "InvalidParameterValue"},
		{"03:00-03:30", "xyz:05:00-xyz:05:30", "InvalidParameterValue"},
	}
	for _, c := range cases {
		err := checkWindows(c.backup, c.maintenance)
		var e *awswire.Error
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s / %s refused: %v", c.backup, c.maintenance, err)
		case c.code != "" && (!errors.As(err, &e) || e.Code != c.code):
			t.Errorf("%s / %s: err = %v, want %s", c.backup, c.maintenance, err, c.code)
		}
	}
}
