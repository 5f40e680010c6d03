package steptest

import (
	"context"
	"testing"

	"github.com/cairn-runbooks/cairn/steps"
)

// LookAlike is something at the step's own address that looks like the step's work done but is not
// this target's: a snapshot of the same name taken from another instance, a role of the same name
// with other attributes, an authorized_keys line with the same key but other options, a file of the
// same path with other content, a pgBackRest stanza of another cluster.
//
// The probe plants it, confirms with the test's own eyes (There) that it is in place, and then:
// Check must not say Done; and Apply must not silently overwrite it. Either Check says Blocked with
// a fix (the runner never applies a blocked step), or Apply fails and leaves the look-alike as it
// was, or Apply does its work beside it (the look-alike still there), or — only when the plan said
// it changes what is there (Update or Replace, never Create) — Apply replaces it and Rollback puts
// it back exactly. Then Remove takes it away and the rest of the contract starts from the target as
// it was.
type LookAlike struct {
	// What names the look-alike for the test's messages ("snapshot contract-snap of app-db-old").
	What string
	// Plant puts the look-alike at the step's own address.
	Plant func(t testing.TB)
	// There is the test's independent probe (SQL, stat, the API — never the step): is the
	// look-alike in place, exactly as planted? It must say false before Plant and after Remove.
	There func(t testing.TB) bool
	// Remove takes the look-alike away, leaving the target as it was before Plant.
	Remove func(t testing.TB)
}

// lookAlikeProbe runs a case's look-alike probe; readOnly cases (a preflight, a proof) must refuse
// the look-alike outright: Check blocked, or Apply failing.
func lookAlikeProbe(t *testing.T, c Case, readOnly bool) {
	t.Helper()
	ctx := context.Background()
	la := c.LookAlike
	if la == nil {
		if c.NoLookAlike == "" {
			t.Fatalf("the case has no look-alike: plant one at the step's own address (Case.LookAlike), or say in Case.NoLookAlike why this kind cannot have one")
		}
		t.Logf("no look-alike: %s", c.NoLookAlike)
		return
	}
	if la.What == "" || la.Plant == nil || la.There == nil || la.Remove == nil {
		t.Fatalf("look-alike %q: What, Plant, There and Remove are all needed", la.What)
	}
	before := c.Probe(t)
	if la.There(t) {
		t.Fatalf("look-alike %s: the probe sees it before it is planted (the probe cannot tell)", la.What)
	}
	la.Plant(t)
	if !la.There(t) {
		t.Fatalf("look-alike %s: planted, but the probe does not see it", la.What)
	}
	planted := c.Probe(t)
	ch := c.Step.Check(ctx, c.Env)
	switch {
	case ch.State == steps.Done:
		t.Fatalf("look-alike %s: check says done (%s)", la.What, ch.Reason)
	case ch.State == steps.Blocked && ch.Fix == "":
		t.Fatalf("look-alike %s: blocked without a fix (%s)", la.What, ch.Reason)
	}
	if got := c.Probe(t); got != planted || !la.There(t) {
		t.Fatalf("look-alike %s: check changed the target:\nbefore: %s\nafter:  %s", la.What, planted, got)
	}
	t.Logf("look-alike %s: check says %s (%s; fix: %s)", la.What, ch.State, ch.Reason, ch.Fix)
	if ch.State != steps.Blocked {
		_, err := c.Step.Apply(ctx, c.Env)
		switch {
		case err != nil:
			t.Logf("look-alike %s: apply refuses: %v", la.What, err)
			if !la.There(t) {
				t.Fatalf("look-alike %s: apply failed (%v) but did not leave the look-alike as it was", la.What, err)
			}
		case readOnly:
			t.Fatalf("look-alike %s: a read-only step passed over it (check %s: %s)", la.What, ch.State, ch.Reason)
		default:
			kept := la.There(t)
			if !kept && ch.Change != steps.Update && ch.Change != steps.Replace {
				t.Fatalf("look-alike %s: apply overwrote it, though the plan said %s (%s)", la.What, ch.Change, ch.Reason)
			}
			if err := c.Step.Rollback(ctx, c.Env); err != nil {
				t.Fatalf("look-alike %s: apply went ahead (look-alike kept: %v) and rollback fails: %v", la.What, kept, err)
			}
			if !la.There(t) {
				t.Fatalf("look-alike %s: after apply and rollback it is not back as planted", la.What)
			}
			t.Logf("look-alike %s: apply went ahead (look-alike kept: %v, plan: %s), rollback put it back", la.What, kept, ch.Change)
		}
	}
	la.Remove(t)
	if la.There(t) {
		t.Fatalf("look-alike %s: still there after Remove", la.What)
	}
	if got := c.Probe(t); got != before {
		t.Fatalf("look-alike %s: the target is not as it was after Remove:\nwant: %s\ngot:  %s", la.What, before, got)
	}
}
