package run

import (
	"strings"
	"testing"
	"time"
)

func TestWindowEnd(t *testing.T) {
	loc := time.FixedZone("X", 3600)
	now := time.Date(2026, 11, 25, 23, 30, 0, 0, loc)
	tests := []struct {
		window time.Duration
		until  string
		want   time.Time
		err    string
	}{
		{45 * time.Minute, "", now.Add(45 * time.Minute), ""},
		{0, "03:00", time.Date(2026, 11, 26, 3, 0, 0, 0, loc), ""}, // past midnight
		{0, "23:45", time.Date(2026, 11, 25, 23, 45, 0, 0, loc), ""},
		{0, "23:30", time.Date(2026, 11, 26, 23, 30, 0, 0, loc), ""}, // now is not the future
		{0, "", time.Time{}, ""},
		{0, "3am", time.Time{}, "write a local time as HH:MM"},
		{time.Hour, "03:00", time.Time{}, "not both"},
		{-5 * time.Minute, "", time.Time{}, "--window -5m0s: give the window's length from now"},
	}
	for _, tt := range tests {
		got, err := windowEnd(now, tt.window, tt.until)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("windowEnd(%v, %q) error %v, want %q", tt.window, tt.until, err, tt.err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("windowEnd(%v, %q) = %v, %v; want %v", tt.window, tt.until, got, err, tt.want)
		}
	}
}
