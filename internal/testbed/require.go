package testbed

import (
	"os"
	"testing"
)

// Require skips the test when probe says the component what is unavailable; under CI=true it
// fails the test instead, so CI never passes by skipping.
func Require(t testing.TB, what string, probe func() error) {
	t.Helper()
	err := probe()
	if err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required (CI=true): %v", what, err)
	}
	t.Skipf("%s not available: %v", what, err)
}

// RequireRoot is Require for root; why says what the test needs it for ("" for nothing more).
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	what := "root"
	if why != "" {
		what += " (" + why + ")"
	}
	Require(t, what, requireRoot)
}

// requireRoot is the probe for helpers that create OS users and own files for other users.
func requireRoot() error {
	if os.Geteuid() != 0 {
		return errNotRoot
	}
	return nil
}
