package tui_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/lookup"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui"
)

// TestPickers fills a form whose parameters name lookups: the instance list shows the eligible
// instance picked and the encrypted one only with its reason (and refuses it), the KMS lookup
// fails and leaves a plain input with the reason, and a secret the lookup did not list is typed.
func TestPickers(t *testing.T) {
	rb := &runbooks.Runbook{Name: "rds-encrypt", Title: "Encrypt an RDS instance", Parameters: []*runbooks.Param{
		{Name: "region", Type: runbooks.TString},
		{Name: "instance", Type: runbooks.TString, Required: true, Choices: runbooks.LookupRDSUnencrypted},
		{Name: "kms-key", Type: runbooks.TString, Required: true, Choices: runbooks.LookupKMSKeys},
		{Name: "credentials-secret", Type: runbooks.TString, Choices: runbooks.LookupSecrets},
	}, Steps: []*runbooks.StepSpec{{ID: "snapshot"}}}
	var (
		mu      sync.Mutex
		regions []string
		given   = make(chan map[string]string, 1)
	)
	var vals runbooks.Values
	d := wizardDeps(newFake("r-1"), &vals)
	d.Prefill = nil
	d.Lookup = func(_ context.Context, l runbooks.Lookup, in lookup.Inputs) lookup.Result {
		switch l {
		case runbooks.LookupRDSUnencrypted:
			mu.Lock()
			regions = append(regions, in.Region)
			mu.Unlock()
			return lookup.Result{Lookup: l, Choices: []lookup.Choice{
				{Value: "app-db", Detail: "postgres 15.20 · db.t3.medium · 20 GiB · unencrypted · available"},
				{Value: "ledger", Detail: "postgres 15.20 · encrypted", NotEligible: "already encrypted with alias/cairn-demo"},
			}}
		case runbooks.LookupKMSKeys:
			return lookup.Result{Lookup: l, Failed: "cannot reach 127.0.0.1:1: connect: connection refused"}
		}
		return lookup.Result{Lookup: l, Choices: []lookup.Choice{{Value: "cairn/app-db/master", Detail: "changed 2026-12-04 16:02 UTC"}}}
	}
	d.Resolve = func(_ *runbooks.Runbook, g map[string]string) (runbooks.Values, error) {
		given <- g
		return runbooks.Values{}, nil
	}
	tm := start(t, tui.New(d, append(opts(), tui.WithRunbook(rb))...), 80, 24)
	waitScreen(t, tm, "┃ region")
	tm.Type("eu-west-1")
	tm.Send(key("enter"))
	goldenAs(t, "instance", waitScreen(t, tm, "> app-db", "ledger  not eligible: already encrypted with alias/cairn-demo"))
	tm.Send(key("down"))
	tm.Send(key("enter"))
	waitScreen(t, tm, "ledger cannot be picked: already encrypted with alias/cairn-demo")
	tm.Send(key("up"))
	tm.Send(key("enter"))
	waitScreen(t, tm, "could not list kms-keys: cannot reach 127.0.0.1:1: connect: connection", "refused", "type the value")
	tm.Type("alias/typed-key")
	tm.Send(key("enter"))
	waitScreen(t, tm, "cairn/app-db/master  changed 2026-12-04")
	tm.Type("cairn/other")
	waitScreen(t, tm, "none of secrets matches — enter takes what you typed")
	tm.Send(key("enter"))
	g := <-given
	if g["instance"] != "app-db" || g["kms-key"] != "alias/typed-key" || g["credentials-secret"] != "cairn/other" || g["region"] != "eu-west-1" {
		t.Errorf("the form gave %v", g)
	}
	stop(t, tm)
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(regions, ",") != ",eu-west-1" {
		t.Errorf("rds-unencrypted was looked up for regions %q, want once before and once after the region was typed", regions)
	}
}
