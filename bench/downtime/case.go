package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cairn-runbooks/cairn/internal/loadgen"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// benchCase is one measurement: a strategy on a fresh twin seeded with rows rows, at speed.
type benchCase struct {
	cairn    string
	strategy strategy
	rows     int
	speed    string
	every    time.Duration
}

// result is one row of the table.
type result struct {
	strategy, speed string
	rows            int
	// downtime is the application's last outage, the cut-over's (an earlier one, such as the
	// replicate strategy's reboot before the window, is listed in outages).
	downtime time.Duration
	outages  []loadgen.Outage
	// cutoverAWS is the apply and verify time of the strategy's cut-over steps (their AWS calls
	// and waits), from the journal; run the whole `cairn run`.
	cutoverAWS, run time.Duration
	// cairn is the downtime cairn measured itself (the strategy's measuring step), when it does.
	cairn   time.Duration
	cairnOK bool
	// window is where the window's time went: the steps from the quiesce on, with their times.
	window    string
	verdict   loadgen.Verdict
	uncertain int
	err       error
}

func (c benchCase) run(ctx context.Context) (res result) {
	res = result{strategy: c.strategy.name, speed: c.speed, rows: c.rows}
	dir, err := os.MkdirTemp("/var/tmp", "cairn-bench-downtime-")
	if err != nil {
		res.err = err
		return res
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil { // the postgres user runs the twin's clusters in it
		res.err = err
		return res
	}
	tw, err := twin.Start(ctx, twin.Options{Dir: filepath.Join(dir, "twin"), Speed: twin.Speed(c.speed), Seed: twin.SeedDemo, Rows: c.rows})
	if err != nil {
		res.err = fmt.Errorf("start the twin: %w", err)
		return res
	}
	defer tw.Close(context.WithoutCancel(ctx))
	ep := tw.Endpoint()
	rds := awsrds.NewFromConfig(twin.AWSConfig(), func(o *awsrds.Options) { o.BaseEndpoint = &ep })
	sm := awssm.NewFromConfig(twin.AWSConfig(), func(o *awssm.Options) { o.BaseEndpoint = &ep })
	roles, _ := json.Marshal(map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	if _, err := sm.CreateSecret(ctx, &awssm.CreateSecretInput{Name: aws.String(rolesSecret), SecretString: aws.String(string(roles))}); err != nil {
		res.err = fmt.Errorf("create %s: %w", rolesSecret, err)
		return res
	}

	conn, err := loadgen.Endpoint(ctx, rds, twin.DemoInstance, twin.DemoDatabase, "app_rw", "app-rw-demo")
	if err != nil {
		res.err = err
		return res
	}
	w := loadgen.New(loadgen.Config{ConnString: conn, Every: c.every})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan *loadgen.Record, 1)
	go func() { done <- w.Run(wctx) }()
	finish := sync.OnceValue(func() *loadgen.Record { stop(); return <-done })
	defer finish()
	if err := waitStats(w, 2*time.Minute, func(s loadgen.Stats) bool { return s.Commits >= 20 }); err != nil {
		res.err = fmt.Errorf("the writer before the run: %w", err)
		return res
	}

	state := filepath.Join(dir, "state")
	args := []string{"run", "rds-encrypt", "--no-tui", "--yes",
		"-p", "instance=" + twin.DemoInstance, "-p", "kms-key=" + twin.DemoKeyAlias, "-p", "credentials-secret=" + twin.DemoSecret,
		"-p", "dump-dir=" + filepath.Join(dir, "dump"), "-p", "keep-old=true"}
	for _, p := range c.strategy.params {
		args = append(args, "-p", p)
	}
	for _, step := range c.strategy.confirm {
		args = append(args, "--confirm", step+"="+twin.DemoInstance)
	}
	cmd := exec.CommandContext(ctx, c.cairn, args...)
	cmd.Env = append(append(os.Environ(), tw.Env()...), "CAIRN_STATE_DIR="+state)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	res.run = time.Since(start)
	if err != nil {
		res.err = fmt.Errorf("cairn run: %v\n%s", err, tail(out.String(), 30))
		return res
	}
	recs, err := records(state)
	if err != nil {
		res.err = err
		return res
	}
	res.cutoverAWS = stepTimes(recs, c.strategy.cutover)
	res.window = window(recs)
	if c.strategy.measured != "" {
		res.cairn, res.cairnOK = stepSeconds(recs, c.strategy.measured, "seconds")
	}
	// the application writes again under the original name: a few orders after its last outage
	if err := waitStats(w, 5*time.Minute, func(s loadgen.Stats) bool { return s.Outages > 0 && !s.Failing }); err != nil {
		res.err = fmt.Errorf("the writer after the run: %w", err)
		return res
	}
	since := w.Stats().Commits
	if err := waitStats(w, time.Minute, func(s loadgen.Stats) bool { return s.Commits >= since+20 }); err != nil {
		res.err = fmt.Errorf("the writer after the run: %w", err)
		return res
	}
	rec := finish()
	res.downtime, res.outages, res.uncertain = rec.LastOutage().Length(), rec.Outages, rec.Uncertain
	if res.verdict, err = loadgen.Check(ctx, conn, rec); err != nil {
		res.err = err
	}
	return res
}

func waitStats(w *loadgen.Writer, limit time.Duration, cond func(loadgen.Stats) bool) error {
	for deadline := time.Now().Add(limit); !cond(w.Stats()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("not there after %v: %+v", limit, w.Stats())
		}
	}
	return nil
}

func tail(s string, lines int) string {
	b := []byte(s)
	for i, n := len(b)-1, 0; i >= 0; i-- {
		if b[i] == '\n' {
			if n++; n > lines {
				return string(b[i+1:])
			}
		}
	}
	return s
}
