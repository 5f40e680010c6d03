package ref

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// maxPasswordLength is pg_saslprep's MAX_PASSWORD_LENGTH: libpq cannot log in with a longer
// password (the server refuses one as "password too long").
const maxPasswordLength = 1024

// ScramVerifier computes the SCRAM-SHA-256 verifier PostgreSQL stores for a password
// (SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>), so cairn can set a password without the
// password itself ever appearing in a statement. The password is prepared with SASLprep as
// PostgreSQL does, so a password with a non-breaking space or a ligature logs in.
func ScramVerifier(password string) (string, error) {
	if len(password) > maxPasswordLength {
		return "", fmt.Errorf("scram: the password is %d bytes; PostgreSQL's clients cannot log in with more than %d: choose a shorter one", len(password), maxPasswordLength)
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("scram salt: %w", err)
	}
	stored, server, err := scramKeys(password, salt, scramIterations)
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(stored), b64(server)), nil
}

// ScramMatches reports whether a stored SCRAM-SHA-256 verifier (pg_authid.rolpassword) was made from
// password, SASLprep'd as PostgreSQL does: whether a libpq client logs in with it.
func ScramMatches(verifier, password string) bool {
	rest, ok := strings.CutPrefix(verifier, "SCRAM-SHA-256$")
	if !ok {
		return false
	}
	iterSalt, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	iterS, saltS, ok := strings.Cut(iterSalt, ":")
	storedS, _, ok2 := strings.Cut(keys, ":")
	if !ok || !ok2 {
		return false
	}
	iter, err := strconv.Atoi(iterS)
	salt, err2 := base64.StdEncoding.DecodeString(saltS)
	stored, err3 := base64.StdEncoding.DecodeString(storedS)
	if err != nil || err2 != nil || err3 != nil || iter < 1 {
		return false
	}
	got, _, err := scramKeys(password, salt, iter)
	return err == nil && hmac.Equal(got, stored)
}

// scramKeys derives StoredKey and ServerKey (RFC 5802) from the SASLprep'd password.
func scramKeys(password string, salt []byte, iter int) (stored, server []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, saslPrep(password), salt, iter, sha256.Size)
	if err != nil {
		return nil, nil, fmt.Errorf("scram: %w", err)
	}
	s := sha256.Sum256(hmacSHA256(salted, "Client Key"))
	return s[:], hmacSHA256(salted, "Server Key"), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}
