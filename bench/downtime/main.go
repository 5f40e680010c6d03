// Command downtime is `make bench-downtime`: rds-encrypt's strategies rebuild the twin's demo
// instance while an application (internal/loadgen) writes through the instance's name-following
// endpoint the whole time, and the application measures the downtime itself — first refused write
// to first write committed under the original name. Each strategy runs on the same demo data at
// each size and twin speed, on a fresh twin; afterwards every order the application saw committed
// is checked on the instance under the original name (0 lost, sequence not behind). It prints one
// table, then the replicate strategy's targets when it ran.
//
// Run as root (the twin's clusters run as the postgres user), after `make build`:
//
//	go run ./bench/downtime [-rows 300000,3000000] [-speeds fast,realistic] [-strategies snapshot-copy,logical,replicate]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

func main() {
	cairn := flag.String("cairn", "bin/cairn", "the cairn binary to run")
	rows := flag.String("rows", "300000,3000000", "demo data sizes (the seed's rows), comma-separated")
	speeds := flag.String("speeds", "fast,realistic", "twin speeds, comma-separated")
	names := flag.String("strategies", "", "strategies to run, comma-separated (default all)")
	every := flag.Duration("every", 5*time.Millisecond, "the writer's pause between rounds (an insert and an update)")
	flag.Parse()
	if err := run(*cairn, *rows, *speeds, *names, *every); err != nil {
		fmt.Fprintln(os.Stderr, "bench-downtime:", err)
		os.Exit(1)
	}
}

func run(cairn, rowList, speedList, nameList string, every time.Duration) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("run as root: the twin's clusters run as the postgres user")
	}
	if _, err := os.Stat(cairn); err != nil {
		return fmt.Errorf("%s: %w (make build first)", cairn, err)
	}
	var sizes []int
	for _, s := range strings.Split(rowList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-rows: %q is not a positive number", s)
		}
		sizes = append(sizes, n)
	}
	chosen := strategies
	if nameList != "" {
		chosen = nil
		for _, n := range strings.Split(nameList, ",") {
			s, ok := strategyNamed(strings.TrimSpace(n))
			if !ok {
				return fmt.Errorf("-strategies: no strategy %q", n)
			}
			chosen = append(chosen, s)
		}
	}
	var results []result
	for _, speed := range strings.Split(speedList, ",") {
		for _, size := range sizes {
			for _, s := range chosen {
				c := benchCase{cairn: cairn, strategy: s, rows: size, speed: strings.TrimSpace(speed), every: every}
				fmt.Fprintf(os.Stderr, "%s  %s, %d rows, %s speed…\n", time.Now().Format(time.TimeOnly), s.name, size, c.speed)
				res := c.run(context.Background())
				fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format(time.TimeOnly), res.line())
				results = append(results, res)
			}
		}
	}
	printTable(os.Stdout, results)
	return nil
}

func strategyNamed(name string) (strategy, bool) {
	for _, s := range strategies {
		if s.name == name {
			return s, true
		}
	}
	return strategy{}, false
}
