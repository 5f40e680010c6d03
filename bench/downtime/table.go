package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

func (r result) line() string {
	if r.err != nil {
		return fmt.Sprintf("%s %d rows %s: FAILED: %v", r.strategy, r.rows, r.speed, r.err)
	}
	return fmt.Sprintf("%s %d rows %s: downtime %s (%d outages), cut-over AWS %s, run %s; %s\n  window: %s",
		r.strategy, r.rows, r.speed, secs(r.downtime), len(r.outages), secs(r.cutoverAWS), secs(r.run), r.verdict, r.window)
}

func secs(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }

// printTable prints the results as a Markdown table, then the replicate strategy's targets.
func printTable(w io.Writer, results []result) {
	fmt.Fprintln(w, "| strategy | rows | speed | downtime (writer) | cairn's own measure | outages | cut-over AWS ops | whole run | committed | lost | sequence |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range results {
		if r.err != nil {
			fmt.Fprintf(w, "| %s | %d | %s | failed: %s | | | | | | | |\n", r.strategy, r.rows, r.speed, strings.ReplaceAll(firstLine(r.err.Error()), "|", "/"))
			continue
		}
		seq := "not behind"
		if r.verdict.SequenceBehind {
			seq = fmt.Sprintf("**behind** (%d)", r.verdict.SequenceLast)
		}
		own := "—"
		if r.cairnOK {
			own = secs(r.cairn)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %d | %d | %s |\n", r.strategy, r.rows, r.speed, secs(r.downtime), own,
			outageList(r), secs(r.cutoverAWS), secs(r.run), r.verdict.Committed, r.verdict.Lost(), seq)
	}
	targets(w, results)
}

// outageList is the number of outages, with the lengths of the others when there is more than one.
func outageList(r result) string {
	if len(r.outages) <= 1 {
		return fmt.Sprint(len(r.outages))
	}
	var parts []string
	for _, o := range r.outages {
		parts = append(parts, fmt.Sprintf("%.1f", o.Length().Seconds()))
	}
	return fmt.Sprintf("%d (%s s)", len(r.outages), strings.Join(parts, ", "))
}

// targets judges the replicate strategy against issue 18's: its downtime does not grow with the
// data (smallest and largest size within 20 %), under 10 s at fast speed, and at realistic speed at
// most the cut-over's own AWS operations plus 10 s; and nothing lost anywhere.
func targets(w io.Writer, results []result) {
	bySpeed := map[string][]result{}
	var speeds []string
	for _, r := range results {
		if r.strategy != "replicate" || r.err != nil {
			continue
		}
		if _, ok := bySpeed[r.speed]; !ok {
			speeds = append(speeds, r.speed)
		}
		bySpeed[r.speed] = append(bySpeed[r.speed], r)
	}
	if len(speeds) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, speed := range speeds {
		rs := bySpeed[speed]
		lo, hi := rs[0], rs[0]
		for _, r := range rs {
			if r.rows < lo.rows {
				lo = r
			}
			if r.rows > hi.rows {
				hi = r
			}
		}
		if lo.rows != hi.rows {
			spread := math.Abs(hi.downtime.Seconds()-lo.downtime.Seconds()) / lo.downtime.Seconds()
			fmt.Fprintf(w, "- replicate, %s: %d rows %s vs %d rows %s — %.0f %% apart (target ≤ 20 %%): %s\n",
				speed, lo.rows, secs(lo.downtime), hi.rows, secs(hi.downtime), 100*spread, met(spread <= 0.20))
		}
		for _, r := range rs {
			switch speed {
			case "fast":
				fmt.Fprintf(w, "- replicate, fast, %d rows: %s (target < 10 s): %s\n", r.rows, secs(r.downtime), met(r.downtime < 10*time.Second))
			case "realistic":
				fmt.Fprintf(w, "- replicate, realistic, %d rows: %s (target ≤ cut-over AWS %s + 10 s): %s\n", r.rows, secs(r.downtime),
					secs(r.cutoverAWS), met(r.downtime <= r.cutoverAWS+10*time.Second))
			}
			fmt.Fprintf(w, "- replicate, %s, %d rows: %d lost: %s\n", speed, r.rows, r.verdict.Lost(), met(r.verdict.OK()))
		}
	}
}

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
