// Package secrets is the twin's AWS Secrets Manager on the JSON 1.1 protocol (X-Amz-Target
// secretsmanager.*): CreateSecret, GetSecretValue, PutSecretValue, DescribeSecret, DeleteSecret,
// ListSecrets and ListSecretVersionIds, with versions and the AWSCURRENT/AWSPREVIOUS stages, and ARNs
// ending in AWS's random six-character suffix.
//
// Secret values are kept in the twin's state file as they are (mode 0600), not sealed with KMS; there
// are no resource policies, rotation or replication.
package secrets

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
	"github.com/cairn-runbooks/cairn/internal/twin/statefile"
)

// Version is one value of a secret.
type Version struct {
	ID      string
	String  string `json:",omitempty"`
	Binary  []byte `json:",omitempty"`
	Stages  []string
	Created time.Time
}

// Secret is one secret as the twin keeps it.
type Secret struct {
	Name        string
	ARN         string
	Description string `json:",omitempty"`
	KmsKeyID    string `json:",omitempty"`
	Tags        []Tag  `json:",omitempty"`
	Created     time.Time
	Changed     time.Time
	Deleted     *time.Time `json:",omitempty"`
	DeletesAt   *time.Time `json:",omitempty"`
	Versions    []*Version
}

// Tag is a secret's tag.
type Tag struct {
	Key   string
	Value string
}

type state struct {
	Secrets map[string]*Secret // by name
}

// Service is the twin's Secrets Manager. Its methods are safe for concurrent use.
type Service struct {
	file statefile.File
	now  func() time.Time

	mu sync.Mutex
	st state
}

// Open loads the state kept in dir (secrets.json), or starts empty.
func Open(dir string) (*Service, error) {
	s := &Service{file: statefile.ForService(dir, "secrets"), now: time.Now}
	if err := s.file.Load(&s.st); err != nil {
		return nil, err
	}
	if s.st.Secrets == nil {
		s.st.Secrets = map[string]*Secret{}
	}
	return s, nil
}

func (s *Service) save() error { return s.file.Save(&s.st) }

// request holds the members of every operation the twin serves.
type request struct {
	Name                       string
	SecretID                   string `json:"SecretId"`
	Description                string
	KmsKeyID                   string `json:"KmsKeyId"`
	SecretString               *string
	SecretBinary               []byte
	ClientRequestToken         string
	Tags                       []Tag
	VersionID                  string `json:"VersionId"`
	VersionStage               string
	VersionStages              []string
	RecoveryWindowInDays       int
	ForceDeleteWithoutRecovery bool
	// ListSecrets and ListSecretVersionIds
	MaxResults             int
	NextToken              string
	Filters                []filter
	IncludePlannedDeletion bool
	SortOrder              string
	IncludeDeprecated      bool
}

// ServeJSON answers one request; op is the part of X-Amz-Target after "secretsmanager.".
func (s *Service) ServeJSON(w http.ResponseWriter, r *http.Request, op string) {
	var in request
	if err := awswire.DecodeJSON(r.Body, &in); err != nil {
		awswire.WriteJSONError(w, err)
		return
	}
	var out any
	var err error
	switch op {
	case "CreateSecret":
		out, err = s.Create(in)
	case "GetSecretValue":
		out, err = s.getValue(in)
	case "PutSecretValue":
		out, err = s.putValue(in)
	case "DescribeSecret":
		out, err = s.describe(in)
	case "DeleteSecret":
		out, err = s.delete(in)
	case "ListSecrets":
		out, err = s.list(in)
	case "ListSecretVersionIds":
		out, err = s.listVersions(in)
	default:
		err = awswire.Errorf("UnknownOperationException", "The twin's Secrets Manager does not implement %s", op)
	}
	if err != nil {
		awswire.WriteJSONError(w, err)
		return
	}
	awswire.WriteJSON(w, out)
}

const suffixChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func randomSuffix() string {
	var b strings.Builder
	for range 6 {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(suffixChars))))
		b.WriteByte(suffixChars[n.Int64()])
	}
	return b.String()
}

func versionID(token string) string {
	if token != "" {
		return token
	}
	return awswire.RequestID()
}

// CreateSecret makes a secret; it is exported for the twin's demo seed.
func (s *Service) CreateSecret(name, value, description string) (arn string, err error) {
	out, err := s.Create(request{Name: name, SecretString: &value, Description: description})
	if err != nil {
		return "", err
	}
	return out.(map[string]any)["ARN"].(string), nil
}

// Create answers CreateSecret.
func (s *Service) Create(in request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Name == "" {
		return nil, awswire.Errorf("InvalidParameterException", "You must provide a value for the Name parameter.")
	}
	if ex, ok := s.st.Secrets[in.Name]; ok {
		if ex.Deleted != nil {
			return nil, awswire.Errorf("InvalidRequestException", "You can't create this secret because a secret with this name is already scheduled for deletion.")
		}
		return nil, awswire.Errorf("ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
	}
	if in.SecretString != nil && in.SecretBinary != nil {
		return nil, awswire.Errorf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	}
	now := s.now().UTC()
	sec := &Secret{Name: in.Name, Description: in.Description, KmsKeyID: in.KmsKeyID, Tags: in.Tags, Created: now, Changed: now,
		ARN: fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", awswire.Region, awswire.Account, in.Name, randomSuffix())}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name}
	if in.SecretString != nil || in.SecretBinary != nil {
		v := &Version{ID: versionID(in.ClientRequestToken), Binary: in.SecretBinary, Stages: []string{"AWSCURRENT"}, Created: now}
		if in.SecretString != nil {
			v.String = *in.SecretString
		}
		sec.Versions = append(sec.Versions, v)
		out["VersionId"] = v.ID
	}
	s.st.Secrets[sec.Name] = sec
	return out, s.save()
}

// findLocked finds a secret by name, full ARN or ARN without its suffix.
func (s *Service) findLocked(id string) (*Secret, error) {
	if sec, ok := s.st.Secrets[id]; ok {
		return sec, nil
	}
	for _, sec := range s.st.Secrets {
		if sec.ARN == id || (strings.HasPrefix(id, "arn:") && strings.TrimSuffix(sec.ARN, sec.ARN[len(sec.ARN)-7:]) == id) {
			return sec, nil
		}
	}
	return nil, awswire.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func (s *Service) liveLocked(id string) (*Secret, error) {
	sec, err := s.findLocked(id)
	if err != nil {
		return nil, err
	}
	if sec.Deleted != nil {
		return nil, awswire.Errorf("InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion.")
	}
	return sec, nil
}

func (s *Service) getValue(in request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.liveLocked(in.SecretID)
	if err != nil {
		return nil, err
	}
	stage := in.VersionStage
	if stage == "" && in.VersionID == "" {
		stage = "AWSCURRENT"
	}
	for _, v := range sec.Versions {
		if (in.VersionID == "" || v.ID == in.VersionID) && (stage == "" || contains(v.Stages, stage)) {
			out := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "VersionId": v.ID, "VersionStages": v.Stages,
				"CreatedDate": awswire.EpochTime(v.Created)}
			if v.Binary != nil {
				out["SecretBinary"] = v.Binary
			} else {
				out["SecretString"] = v.String
			}
			return out, nil
		}
	}
	return nil, awswire.Errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", stage)
}

func (s *Service) putValue(in request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.liveLocked(in.SecretID)
	if err != nil {
		return nil, err
	}
	if (in.SecretString == nil) == (in.SecretBinary == nil) {
		return nil, awswire.Errorf("InvalidParameterException", "You must provide either SecretString or SecretBinary.")
	}
	stages := in.VersionStages
	if len(stages) == 0 {
		stages = []string{"AWSCURRENT"}
	}
	now := s.now().UTC()
	v := &Version{ID: versionID(in.ClientRequestToken), Binary: in.SecretBinary, Stages: stages, Created: now}
	if in.SecretString != nil {
		v.String = *in.SecretString
	}
	if contains(stages, "AWSCURRENT") {
		kept := sec.Versions[:0]
		for _, old := range sec.Versions {
			old.Stages = remove(old.Stages, "AWSPREVIOUS")
			if contains(old.Stages, "AWSCURRENT") {
				old.Stages = append(remove(old.Stages, "AWSCURRENT"), "AWSPREVIOUS")
			}
			if len(old.Stages) > 0 {
				kept = append(kept, old)
			}
		}
		sec.Versions = kept
	}
	sec.Versions = append(sec.Versions, v)
	sec.Changed = now
	return map[string]any{"ARN": sec.ARN, "Name": sec.Name, "VersionId": v.ID, "VersionStages": v.Stages}, s.save()
}

func (s *Service) describe(in request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLocked(in.SecretID)
	if err != nil {
		return nil, err
	}
	stages := map[string][]string{}
	for _, v := range sec.Versions {
		stages[v.ID] = v.Stages
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "CreatedDate": awswire.EpochTime(sec.Created),
		"LastChangedDate": awswire.EpochTime(sec.Changed), "VersionIdsToStages": stages}
	if sec.Description != "" {
		out["Description"] = sec.Description
	}
	if sec.KmsKeyID != "" {
		out["KmsKeyId"] = sec.KmsKeyID
	}
	if len(sec.Tags) > 0 {
		out["Tags"] = sec.Tags
	}
	if sec.Deleted != nil {
		out["DeletedDate"] = awswire.EpochTime(*sec.Deleted)
	}
	return out, nil
}

func (s *Service) delete(in request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLocked(in.SecretID)
	if err != nil {
		return nil, err
	}
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != 0 {
		return nil, awswire.Errorf("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.")
	}
	now := s.now().UTC()
	when := now
	if in.ForceDeleteWithoutRecovery {
		delete(s.st.Secrets, sec.Name)
	} else {
		days := in.RecoveryWindowInDays
		if days == 0 {
			days = 30
		}
		if days < 7 || days > 30 {
			return nil, awswire.Errorf("InvalidParameterException", "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).")
		}
		if sec.Deleted != nil {
			return nil, awswire.Errorf("InvalidRequestException", "You can't perform this operation on the secret because it was already scheduled for deletion.")
		}
		when = now.AddDate(0, 0, days)
		sec.Deleted, sec.DeletesAt = &now, &when
	}
	return map[string]any{"ARN": sec.ARN, "Name": sec.Name, "DeletionDate": awswire.EpochTime(when)}, s.save()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func remove(list []string, s string) []string {
	out := make([]string, 0, len(list))
	for _, v := range list {
		if v != s {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}
