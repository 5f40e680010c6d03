package ref

import "testing"

// What pg_saslprep makes of a password, case by case (the PostgreSQL login test is scram_pg_test.go).
func TestSASLprepAsPostgreSQL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain ascii, even \x07", "plain ascii, even \x07"}, // ASCII: as it is
		{"pass\u00a0word", "pass word"},                      // non-breaking space → space
		{"\u3000ideographic\u2003em", " ideographic em"},     // other spaces → space
		{"so\u00adft", "soft"},                               // soft hyphen → nothing
		{"\ufb01le\ufb02ow", "fileflow"},                     // ligatures → NFKC
		{"\u2168", "IX"},                                     // roman numeral → NFKC
		{"e\u0301t\u00e9", "\u00e9t\u00e9"},                  // composed
		{"bell\x07\u00e4", "bell\x07\u00e4"},                 // prohibited: used unchanged
		{"\u0627\u0644\u0633\u0644\u0627\u0645", "\u0627\u0644\u0633\u0644\u0627\u0645"}, // right-to-left only
		{"ab\u0627", "ab\u0627"},                       // mixed directions: unchanged
		{"\u00ad", "\u00ad"},                           // nothing left: unchanged
		{"\xff\xfe\u00a0", "\xff\xfe\u00a0"},           // not UTF-8: unchanged
		{"\U000e0001tag\u00e4", "\U000e0001tag\u00e4"}, // tagging character: unchanged
	}
	for _, tt := range tests {
		if got := saslPrep(tt.in); got != tt.want {
			t.Errorf("saslPrep(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
