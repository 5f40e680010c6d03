package rds

import (
	"strconv"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// The backup window is daily, "hh24:mi-hh24:mi"; the maintenance window weekly,
// "ddd:hh24:mi-ddd:hh24:mi"; both in UTC, at least 30 minutes, and they must not overlap.

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

const (
	day  = 24 * 60
	week = 7 * day
)

// span is a window in minutes from its start's origin (midnight, or Monday midnight); end may pass
// the period's end when the window wraps.
type span struct{ start, end int }

func clock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

func parseBackupWindow(w string) (span, error) {
	a, b, ok := strings.Cut(w, "-")
	start, ok1 := clock(a)
	end, ok2 := clock(b)
	if !ok || !ok1 || !ok2 {
		return span{}, awswire.Errorf("InvalidParameterValue", "The backup window %q is not valid: use hh24:mi-hh24:mi in UTC.", w)
	}
	if end <= start {
		end += day
	}
	if end-start < 30 {
		return span{}, awswire.Errorf("InvalidParameterValue", "The backup window %s must be at least 30 minutes.", w)
	}
	return span{start, end}, nil
}

func weekMinute(s string) (int, bool) {
	d, t, ok := strings.Cut(s, ":")
	idx := -1
	for n, w := range weekdays {
		if strings.EqualFold(d, w) {
			idx = n
		}
	}
	m, ok2 := clock(t)
	return idx*day + m, ok && ok2 && idx >= 0
}

func parseMaintenanceWindow(w string) (span, error) {
	a, b, ok := cutWindow(w)
	start, ok1 := weekMinute(a)
	end, ok2 := weekMinute(b)
	if !ok || !ok1 || !ok2 {
		return span{}, awswire.Errorf("InvalidParameterValue", "The maintenance window %q is not valid: use ddd:hh24:mi-ddd:hh24:mi in UTC.", w)
	}
	if end <= start {
		end += week
	}
	if end-start < 30 {
		return span{}, awswire.Errorf("InvalidParameterValue", "The maintenance window %s must be at least 30 minutes.", w)
	}
	return span{start, end}, nil
}

// cutWindow splits "sun:05:00-sun:05:30" at the dash between its two ends.
func cutWindow(w string) (string, string, bool) {
	if len(w) != len("ddd:hh:mi-ddd:hh:mi") || w[9] != '-' {
		return "", "", false
	}
	return w[:9], w[10:], true
}

// checkWindows refuses malformed or short windows, and a daily backup window that overlaps the
// weekly maintenance window on any day.
func checkWindows(backup, maintenance string) error {
	b, err := parseBackupWindow(backup)
	if err != nil {
		return err
	}
	m, err := parseMaintenanceWindow(maintenance)
	if err != nil {
		return err
	}
	// Compare the backup window on every day of the week (and the wrap into the next week) with the
	// maintenance window.
	for d := -1; d <= 7; d++ {
		bs, be := b.start+d*day, b.end+d*day
		for _, shift := range []int{0, week} {
			ms, me := m.start+shift, m.end+shift
			if bs < me && ms < be {
				return awswire.Errorf("InvalidParameterCombination", "The backup window %s and the maintenance window %s must not overlap.", backup, maintenance)
			}
		}
	}
	return nil
}
