package ref

import (
	"unicode/utf8"

	"github.com/xdg-go/stringprep"
	"golang.org/x/text/unicode/norm"
)

// saslPrep prepares a password as PostgreSQL's pg_saslprep (src/common/saslprep.c) does before
// SCRAM hashes it — on the server for CREATE ROLE … PASSWORD 'text', in libpq when a client logs
// in — so a verifier cairn computes matches the login of every libpq client (psql, pgBackRest):
//
//   - pure ASCII is used as it is;
//   - otherwise non-ASCII spaces (RFC 3454 C.1.2) become U+0020, the characters commonly mapped to
//     nothing (B.1, e.g. the soft hyphen) go, and the rest is normalized to NFKC (a ligature ﬁ
//     becomes fi, a non-breaking space a space);
//   - where PostgreSQL gives up — not UTF-8, nothing left, a prohibited (C.1.2–C.9) or unassigned
//     (A.1) character, or mixed directions (RFC 3454 §6) — the password is used unchanged, as
//     PostgreSQL then does. Like pg_saslprep, those checks look at the mapped characters before
//     normalization.
//
// The tables are RFC 3454's, from github.com/xdg-go/stringprep (its SASLprep profile checks after
// normalization and refuses instead of falling back, so only its tables are used); NFKC is
// golang.org/x/text's. golang.org/x/text/secure/precis is not used: its OpaqueString (RFC 8265)
// normalizes to NFC, not NFKC, and would leave a ligature as it is.
func saslPrep(pw string) string {
	ascii := true
	for i := 0; i < len(pw); i++ {
		if pw[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii || !utf8.ValidString(pw) {
		return pw
	}
	mapped := make([]rune, 0, len(pw))
	for _, r := range pw {
		switch {
		case stringprep.TableC1_2.Contains(r):
			mapped = append(mapped, ' ')
		case mappedToNothing(r):
		default:
			mapped = append(mapped, r)
		}
	}
	if len(mapped) == 0 {
		return pw
	}
	randAL := false
	for _, r := range mapped {
		if prohibited(r) || stringprep.TableA1.Contains(r) {
			return pw
		}
		randAL = randAL || stringprep.TableD1.Contains(r)
	}
	if randAL {
		for _, r := range mapped {
			if stringprep.TableD2.Contains(r) {
				return pw
			}
		}
		if !stringprep.TableD1.Contains(mapped[0]) || !stringprep.TableD1.Contains(mapped[len(mapped)-1]) {
			return pw
		}
	}
	return norm.NFKC.String(string(mapped))
}

func mappedToNothing(r rune) bool {
	_, ok := stringprep.TableB1.Map(r)
	return ok
}

// prohibitedOutput are the tables pg_saslprep's prohibited_output_ranges holds.
var prohibitedOutput = []stringprep.Set{
	stringprep.TableC1_2, stringprep.TableC2_1, stringprep.TableC2_2, stringprep.TableC3, stringprep.TableC4,
	stringprep.TableC5, stringprep.TableC6, stringprep.TableC7, stringprep.TableC8, stringprep.TableC9,
}

func prohibited(r rune) bool {
	for _, s := range prohibitedOutput {
		if s.Contains(r) {
			return true
		}
	}
	return false
}
