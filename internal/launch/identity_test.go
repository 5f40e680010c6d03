package launch

import "testing"

// SUDO_UID names the person only for root; anyone else is their own uid whatever they claim.
func TestPersonTrustsSudoOnlyForRoot(t *testing.T) {
	for _, tt := range []struct {
		uid  int
		sudo string
		want int
		via  string
	}{
		{1001, "1002", 1001, ""},
		{1001, "", 1001, ""},
		{0, "1002", 1002, "sudo"},
		{0, "", 0, ""},
		{0, "bob", 0, ""},
		{0, "0", 0, ""},
	} {
		got := Person(tt.uid, tt.sudo)
		if got.UID != tt.want || got.Via != tt.via {
			t.Errorf("Person(%d, %q) = uid %d via %q, want %d via %q", tt.uid, tt.sudo, got.UID, got.Via, tt.want, tt.via)
		}
	}
	if root := Person(0, ""); root.User != "root" {
		t.Errorf("uid 0 is named %q, not from the user database", root.User)
	}
}
