package run

import (
	"errors"
	"fmt"
	"time"
)

// windowEnd works out the maintenance window's end from --window or --until (local time).
func windowEnd(now time.Time, window time.Duration, until string) (time.Time, error) {
	if window < 0 {
		return time.Time{}, fmt.Errorf("--window %s: give the window's length from now, such as 45m", window)
	}
	if window > 0 && until != "" {
		return time.Time{}, errors.New("give --window or --until, not both")
	}
	if window > 0 {
		return now.Add(window), nil
	}
	if until == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("15:04", until, now.Location())
	if err != nil {
		return time.Time{}, fmt.Errorf("--until %q: write a local time as HH:MM, e.g. 03:00", until)
	}
	end := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, now.Location())
	if !end.After(now) {
		end = end.AddDate(0, 0, 1) // past midnight
	}
	return end, nil
}
