package kms

import (
	"net/http"
	"sort"
	"strconv"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// ServeJSON answers one KMS JSON 1.1 request; op is the part of X-Amz-Target after "TrentService.".
func (s *Service) ServeJSON(w http.ResponseWriter, r *http.Request, op string) {
	out, err := s.dispatch(r, op)
	if err != nil {
		awswire.WriteJSONError(w, err)
		return
	}
	awswire.WriteJSON(w, out)
}

func (s *Service) dispatch(r *http.Request, op string) (any, error) {
	var in request
	if err := awswire.DecodeJSON(r.Body, &in); err != nil {
		return nil, err
	}
	switch op {
	case "CreateKey":
		return s.opCreateKey(in)
	case "DescribeKey":
		return s.opDescribeKey(in)
	case "ListKeys":
		return s.opListKeys(in)
	case "GetKeyPolicy":
		return s.opGetKeyPolicy(in)
	case "GetKeyRotationStatus":
		return s.opGetKeyRotationStatus(in)
	case "CreateAlias":
		return struct{}{}, s.CreateAlias(in.AliasName, in.TargetKeyID)
	case "ListAliases":
		return s.opListAliases(in)
	case "EnableKey":
		return struct{}{}, s.SetEnabled(in.KeyID, true)
	case "DisableKey":
		return struct{}{}, s.SetEnabled(in.KeyID, false)
	case "GenerateDataKey":
		return s.opGenerateDataKey(in)
	case "Encrypt":
		blob, arn, err := s.Encrypt(in.KeyID, in.Plaintext, in.EncryptionContext)
		if err != nil {
			return nil, err
		}
		return map[string]any{"CiphertextBlob": blob, "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
	case "Decrypt":
		plain, arn, err := s.Decrypt(in.CiphertextBlob, in.KeyID, in.EncryptionContext)
		if err != nil {
			return nil, err
		}
		return map[string]any{"Plaintext": plain, "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
	}
	return nil, awswire.Errorf("UnknownOperationException", "The twin's KMS does not implement %s", op)
}

// request holds the members of every KMS operation the twin serves ([]byte fields are base64 on the wire).
type request struct {
	KeyID             string `json:"KeyId"`
	Description       string
	AliasName         string
	TargetKeyID       string `json:"TargetKeyId"`
	KeySpec           string
	NumberOfBytes     int
	Plaintext         []byte
	CiphertextBlob    []byte
	EncryptionContext map[string]string
	Limit             int
	Marker            string
	PolicyName        string
}

type keyMetadata struct {
	AWSAccountID          string `json:"AWSAccountId"`
	KeyID                 string `json:"KeyId"`
	Arn                   string
	CreationDate          awswire.EpochTime
	Enabled               bool
	Description           string
	KeyUsage              string
	KeyState              string
	Origin                string
	KeyManager            string
	CustomerMasterKeySpec string
	KeySpec               string
	EncryptionAlgorithms  []string
	MultiRegion           bool
}

func metadata(k *Key) keyMetadata {
	st := "Enabled"
	if !k.Enabled {
		st = "Disabled"
	}
	return keyMetadata{AWSAccountID: awswire.Account, KeyID: k.ID, Arn: k.ARN(), CreationDate: awswire.EpochTime(k.Created),
		Enabled: k.Enabled, Description: k.Description, KeyUsage: "ENCRYPT_DECRYPT", KeyState: st, Origin: "AWS_KMS",
		KeyManager: k.Manager, CustomerMasterKeySpec: "SYMMETRIC_DEFAULT", KeySpec: "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"}}
}

func (s *Service) opCreateKey(in request) (any, error) {
	info, err := s.CreateKey(in.Description)
	if err != nil {
		return nil, err
	}
	return s.opDescribeKey(request{KeyID: info.ID})
}

func (s *Service) opDescribeKey(in request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.findLocked(in.KeyID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": metadata(k)}, nil
}

type keyListEntry struct {
	KeyID  string `json:"KeyId"`
	KeyArn string
}

func (s *Service) opListKeys(in request) (any, error) {
	limit, start, err := page(in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]*Key, 0, len(s.st.Keys))
	for _, k := range s.st.Keys {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Created.Before(keys[j].Created) })
	out := make([]keyListEntry, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyListEntry{KeyID: k.ID, KeyArn: k.ARN()})
	}
	return paged("Keys", out, limit, start), nil
}

// page reads Limit (1 to 1000, default 100) and Marker (an offset the twin gave).
func page(in request) (limit, start int, err error) {
	limit = in.Limit
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return 0, 0, awswire.Errorf("ValidationException", "1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 1000", in.Limit)
	}
	if in.Marker != "" {
		if start, err = strconv.Atoi(in.Marker); err != nil || start < 0 {
			return 0, 0, awswire.Errorf("InvalidMarkerException", "Invalid marker: %s", in.Marker)
		}
	}
	return limit, start, nil
}

// paged answers one page of list under key, with Truncated and NextMarker as KMS gives them.
func paged[T any](key string, list []T, limit, start int) map[string]any {
	end := min(start+limit, len(list))
	start = min(start, len(list))
	out := map[string]any{key: list[start:end], "Truncated": end < len(list)}
	if end < len(list) {
		out["NextMarker"] = strconv.Itoa(end)
	}
	return out
}

// opGetKeyPolicy answers with the default key policy AWS gives a key (the account's root may do
// everything); the twin keeps and enforces no other.
func (s *Service) opGetKeyPolicy(in request) (any, error) {
	if in.PolicyName != "" && in.PolicyName != "default" {
		return nil, awswire.Errorf("NotFoundException", "No such policy exists: %s", in.PolicyName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.findLocked(in.KeyID); err != nil {
		return nil, err
	}
	policy := `{
  "Version" : "2012-10-17",
  "Id" : "key-default-1",
  "Statement" : [ {
    "Sid" : "Enable IAM User Permissions",
    "Effect" : "Allow",
    "Principal" : {
      "AWS" : "arn:aws:iam::` + awswire.Account + `:root"
    },
    "Action" : "kms:*",
    "Resource" : "*"
  } ]
}`
	return map[string]any{"Policy": policy, "PolicyName": "default"}, nil
}

// opGetKeyRotationStatus says a customer managed key does not rotate (the twin does not rotate keys)
// and an AWS managed key does, as AWS rotates those yearly.
func (s *Service) opGetKeyRotationStatus(in request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.findLocked(in.KeyID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyRotationEnabled": k.Manager == "AWS", "KeyId": k.ARN()}, nil
}

type aliasEntry struct {
	AliasName    string
	AliasArn     string
	TargetKeyID  string `json:"TargetKeyId"`
	CreationDate awswire.EpochTime
}

func (s *Service) opListAliases(in request) (any, error) {
	limit, start, err := page(in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	only := ""
	if in.KeyID != "" {
		k, err := s.findLocked(in.KeyID)
		if err != nil {
			return nil, err
		}
		only = k.ID
	}
	out := []aliasEntry{}
	for _, a := range s.st.Aliases {
		if only != "" && a.TargetKeyID != only {
			continue
		}
		out = append(out, aliasEntry{AliasName: a.Name, AliasArn: a.ARN(), TargetKeyID: a.TargetKeyID, CreationDate: awswire.EpochTime(a.Created)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AliasName < out[j].AliasName })
	return paged("Aliases", out, limit, start), nil
}

func (s *Service) opGenerateDataKey(in request) (any, error) {
	n := in.NumberOfBytes
	switch in.KeySpec {
	case "AES_256":
		n = 32
	case "AES_128":
		n = 16
	case "":
		if n <= 0 || n > 1024 {
			return nil, awswire.Errorf("ValidationException", "Please specify either number of bytes or key spec.")
		}
	default:
		return nil, awswire.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]", in.KeySpec)
	}
	plain, blob, arn, err := s.GenerateDataKey(in.KeyID, n, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "Plaintext": plain, "KeyId": arn}, nil
}
