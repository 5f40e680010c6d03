// Package kms is the twin's AWS Key Management Service: symmetric keys, aliases, data keys, Encrypt and
// Decrypt, on the JSON 1.1 protocol (X-Amz-Target TrentService.*). It also offers the same operations as
// Go methods, which the twin's RDS uses to seal snapshots.
//
// Key material is random and kept in the twin's state file (mode 0600); there are no key policies,
// grants, rotation or deletion schedules. A ciphertext blob carries its key id, so Decrypt needs no KeyId,
// as on AWS.
package kms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
	"github.com/cairn-runbooks/cairn/internal/twin/statefile"
)

// Key is one KMS key as the twin keeps it.
type Key struct {
	ID          string
	Description string
	Enabled     bool
	// Manager is CUSTOMER, or AWS for the service default keys (alias/aws/rds).
	Manager  string
	Created  time.Time
	Material []byte
}

// ARN is the key's ARN.
func (k *Key) ARN() string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", awswire.Region, awswire.Account, k.ID)
}

// Alias names a key.
type Alias struct {
	Name        string
	TargetKeyID string
	Created     time.Time
}

// ARN is the alias's ARN.
func (a *Alias) ARN() string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:%s", awswire.Region, awswire.Account, a.Name)
}

type state struct {
	Keys    map[string]*Key
	Aliases map[string]*Alias
}

// Service is the twin's KMS. Its methods are safe for concurrent use.
type Service struct {
	file statefile.File
	now  func() time.Time

	mu sync.Mutex
	st state
}

// Open loads the KMS state kept in dir (kms.json), or starts empty.
func Open(dir string) (*Service, error) {
	s := &Service{file: statefile.ForService(dir, "kms"), now: time.Now}
	if err := s.file.Load(&s.st); err != nil {
		return nil, err
	}
	if s.st.Keys == nil {
		s.st.Keys = map[string]*Key{}
	}
	if s.st.Aliases == nil {
		s.st.Aliases = map[string]*Alias{}
	}
	return s, nil
}

// save writes the state; callers hold mu.
func (s *Service) save() error { return s.file.Save(&s.st) }

// KeyInfo is what other services learn about a key.
type KeyInfo struct {
	ID      string
	ARN     string
	Enabled bool
}

// CreateKey makes a new enabled symmetric key.
func (s *Service) CreateKey(description string) (KeyInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.createKeyLocked(description, "CUSTOMER")
	if err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{ID: k.ID, ARN: k.ARN(), Enabled: true}, nil
}

func (s *Service) createKeyLocked(description, manager string) (*Key, error) {
	k := &Key{ID: awswire.RequestID(), Description: description, Enabled: true, Manager: manager,
		Created: s.now().UTC(), Material: make([]byte, 32)}
	if _, err := rand.Read(k.Material); err != nil {
		return nil, awswire.Internal(fmt.Errorf("key material: %w", err))
	}
	s.st.Keys[k.ID] = k
	return k, s.save()
}

// CreateAlias points alias (alias/…) at the key ref names.
func (s *Service) CreateAlias(alias, ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasPrefix(alias, "alias/") || strings.HasPrefix(alias, "alias/aws/") || len(alias) <= len("alias/") {
		return awswire.Errorf("InvalidAliasNameException", "Alias must start with the prefix \"alias/\" and must not begin with \"alias/aws/\"")
	}
	if _, ok := s.st.Aliases[alias]; ok {
		return awswire.Errorf("AlreadyExistsException", "An alias with the name %s already exists", (&Alias{Name: alias}).ARN())
	}
	k, err := s.findLocked(ref)
	if err != nil {
		return err
	}
	s.st.Aliases[alias] = &Alias{Name: alias, TargetKeyID: k.ID, Created: s.now().UTC()}
	return s.save()
}

// Resolve finds a key by id, key ARN, alias name or alias ARN.
func (s *Service) Resolve(ref string) (KeyInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.findLocked(ref)
	if err != nil {
		return KeyInfo{}, err
	}
	return KeyInfo{ID: k.ID, ARN: k.ARN(), Enabled: k.Enabled}, nil
}

// DefaultKey returns the AWS managed key alias/aws/<service>, creating it on first use as AWS does.
func (s *Service) DefaultKey(service string) (KeyInfo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := "alias/aws/" + service
	if a, ok := s.st.Aliases[name]; ok {
		k := s.st.Keys[a.TargetKeyID]
		return KeyInfo{ID: k.ID, ARN: k.ARN(), Enabled: k.Enabled}, nil
	}
	k, err := s.createKeyLocked("Default key that protects my "+strings.ToUpper(service)+" database volumes when no other key is defined", "AWS")
	if err != nil {
		return KeyInfo{}, err
	}
	s.st.Aliases[name] = &Alias{Name: name, TargetKeyID: k.ID, Created: s.now().UTC()}
	return KeyInfo{ID: k.ID, ARN: k.ARN(), Enabled: true}, s.save()
}

func (s *Service) findLocked(ref string) (*Key, error) {
	if ref == "" {
		return nil, awswire.Errorf("ValidationException", "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null")
	}
	id := ref
	alias := ""
	switch {
	case strings.HasPrefix(ref, "arn:"):
		parts := strings.SplitN(ref, ":", 6)
		if len(parts) != 6 || parts[2] != "kms" {
			return nil, awswire.Errorf("NotFoundException", "Invalid arn %s", ref)
		}
		res := parts[5]
		if strings.HasPrefix(res, "alias/") {
			alias = res
		} else {
			id = strings.TrimPrefix(res, "key/")
		}
	case strings.HasPrefix(ref, "alias/"):
		alias = ref
	}
	if alias != "" {
		a, ok := s.st.Aliases[alias]
		if !ok {
			return nil, awswire.Errorf("NotFoundException", "Alias %s is not found.", (&Alias{Name: alias}).ARN())
		}
		id = a.TargetKeyID
	}
	k, ok := s.st.Keys[id]
	if !ok {
		return nil, awswire.Errorf("NotFoundException", "Key '%s' does not exist", (&Key{ID: id}).ARN())
	}
	return k, nil
}

// SetEnabled enables or disables a key.
func (s *Service) SetEnabled(ref string, enabled bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.findLocked(ref)
	if err != nil {
		return err
	}
	k.Enabled = enabled
	return s.save()
}

// GenerateDataKey returns a fresh data key of n bytes, in plaintext and sealed under the key ref names.
func (s *Service) GenerateDataKey(ref string, n int, context map[string]string) (plaintext, blob []byte, keyARN string, err error) {
	plaintext = make([]byte, n)
	if _, err := rand.Read(plaintext); err != nil {
		return nil, nil, "", awswire.Internal(fmt.Errorf("data key: %w", err))
	}
	blob, keyARN, err = s.Encrypt(ref, plaintext, context)
	if err != nil {
		return nil, nil, "", err
	}
	return plaintext, blob, keyARN, nil
}

// blobMagic opens every ciphertext blob the twin makes.
const blobMagic = "ctw1"

// Encrypt seals plaintext under the key ref names. The blob is magic, key id length and key id, nonce,
// and the AES-256-GCM ciphertext (the encryption context is the additional data).
func (s *Service) Encrypt(ref string, plaintext []byte, context map[string]string) ([]byte, string, error) {
	s.mu.Lock()
	k, err := s.findLocked(ref)
	s.mu.Unlock()
	if err != nil {
		return nil, "", err
	}
	if !k.Enabled {
		return nil, "", awswire.Errorf("DisabledException", "%s is disabled.", k.ARN())
	}
	aead, err := newAEAD(k.Material)
	if err != nil {
		return nil, "", err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", awswire.Internal(err)
	}
	blob := []byte(blobMagic)
	blob = binary.BigEndian.AppendUint16(blob, uint16(len(k.ID)))
	blob = append(blob, k.ID...)
	blob = append(blob, nonce...)
	blob = aead.Seal(blob, nonce, plaintext, contextAAD(context))
	return blob, k.ARN(), nil
}

// Decrypt opens a blob made by Encrypt or GenerateDataKey. keyRef, when set, must name the blob's key.
func (s *Service) Decrypt(blob []byte, keyRef string, context map[string]string) ([]byte, string, error) {
	invalid := awswire.Errorf("InvalidCiphertextException", "The ciphertext is invalid or was not made by this key")
	if len(blob) < len(blobMagic)+2 || string(blob[:len(blobMagic)]) != blobMagic {
		return nil, "", invalid
	}
	rest := blob[len(blobMagic):]
	n := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) < n {
		return nil, "", invalid
	}
	id := string(rest[:n])
	rest = rest[n:]
	s.mu.Lock()
	k, err := s.findLocked(id)
	var want *Key
	if err == nil && keyRef != "" {
		want, err = s.findLocked(keyRef)
	}
	s.mu.Unlock()
	if err != nil {
		return nil, "", err
	}
	if want != nil && want.ID != k.ID {
		return nil, "", awswire.Errorf("IncorrectKeyException", "The key ID in the request does not identify a CMK that can perform this operation.")
	}
	if !k.Enabled {
		return nil, "", awswire.Errorf("DisabledException", "%s is disabled.", k.ARN())
	}
	aead, err := newAEAD(k.Material)
	if err != nil {
		return nil, "", err
	}
	if len(rest) < aead.NonceSize() {
		return nil, "", invalid
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], contextAAD(context))
	if err != nil {
		return nil, "", invalid
	}
	return plain, k.ARN(), nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, awswire.Internal(fmt.Errorf("key material: %w", err))
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, awswire.Internal(err)
	}
	return aead, nil
}

func contextAAD(c map[string]string) []byte {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b []byte
	for _, k := range keys {
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(c[k])))
		b = append(b, c[k]...)
	}
	return b
}
