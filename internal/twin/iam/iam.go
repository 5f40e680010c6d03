// Package iam is the twin's AWS Identity and Access Management, for roles only, on the Query protocol
// (API 2010-05-08): CreateRole, GetRole, DeleteRole, PutRolePolicy, GetRolePolicy, ListRolePolicies and
// DeleteRolePolicy. Roles and their inline policies are kept, listed and described as IAM does (policy
// documents come back URL-encoded, as from AWS), but never enforced: the twin lets every caller do
// everything. RDS asks it whether a role exists before associating it with an instance.
package iam

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
	"github.com/cairn-runbooks/cairn/internal/twin/statefile"
)

// Namespace is the XML namespace of IAM answers.
const Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// Version is the Query API version IAM requests carry.
const Version = "2010-05-08"

// Role is one role as the twin keeps it.
type Role struct {
	Name        string
	ID          string
	Path        string
	Trust       string // AssumeRolePolicyDocument, as sent
	Description string `json:",omitempty"`
	Tags        []Tag  `json:",omitempty"`
	Policies    map[string]string
	Created     time.Time
}

// Tag is a role's tag.
type Tag struct{ Key, Value string }

// ARN is the role's ARN.
func (r *Role) ARN() string {
	return fmt.Sprintf("arn:aws:iam::%s:role%s%s", awswire.Account, r.Path, r.Name)
}

type state struct {
	Roles map[string]*Role // by name
}

// Service is the twin's IAM. Its methods are safe for concurrent use.
type Service struct {
	file statefile.File
	now  func() time.Time

	mu sync.Mutex
	st state
}

// Open loads the state kept in dir (iam.json), or starts empty.
func Open(dir string) (*Service, error) {
	s := &Service{file: statefile.ForService(dir, "iam"), now: time.Now}
	if err := s.file.Load(&s.st); err != nil {
		return nil, err
	}
	if s.st.Roles == nil {
		s.st.Roles = map[string]*Role{}
	}
	return s, nil
}

// RoleExists reports whether a role with this ARN exists (for RDS and Lambda, which refuse unknown roles).
func (s *Service) RoleExists(arn string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.st.Roles {
		if r.ARN() == arn {
			return true
		}
	}
	return false
}

// ServeQuery answers one IAM Query request.
func (s *Service) ServeQuery(w http.ResponseWriter, action string, form awswire.Form) {
	s.mu.Lock()
	out, err := s.serveLocked(action, form)
	s.mu.Unlock()
	if err != nil {
		awswire.WriteQueryError(w, err)
		return
	}
	awswire.WriteQueryResult(w, action, Namespace, out)
}

var nameRE = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

func (s *Service) serveLocked(action string, form awswire.Form) (any, error) {
	switch action {
	case "ListRoles":
		return s.listRoles(form)
	case "CreateRole", "GetRole", "DeleteRole", "PutRolePolicy", "GetRolePolicy", "ListRolePolicies", "DeleteRolePolicy":
	default:
		return nil, awswire.Errorf("InvalidAction", "The twin's IAM does not implement %s", action)
	}
	name := form.String("RoleName")
	if !nameRE.MatchString(name) {
		return nil, awswire.Errorf("ValidationError", "1 validation error detected: Value '%s' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+", name)
	}
	switch action {
	case "CreateRole":
		return s.createRole(name, form)
	case "GetRole":
		r, err := s.role(name)
		if err != nil {
			return nil, err
		}
		return roleResult{Role: roleXML(r)}, nil
	case "DeleteRole":
		r, err := s.role(name)
		if err != nil {
			return nil, err
		}
		if len(r.Policies) > 0 {
			return nil, &awswire.Error{Code: "DeleteConflict", Message: "Cannot delete entity, must delete policies first.", Status: http.StatusConflict}
		}
		delete(s.st.Roles, name)
		return nil, s.save()
	case "PutRolePolicy":
		r, err := s.role(name)
		if err != nil {
			return nil, err
		}
		pn, doc := form.String("PolicyName"), form.String("PolicyDocument")
		if !nameRE.MatchString(pn) {
			return nil, awswire.Errorf("ValidationError", "PolicyName %q is not valid", pn)
		}
		if err := checkPolicy(doc); err != nil {
			return nil, err
		}
		if r.Policies == nil {
			r.Policies = map[string]string{}
		}
		r.Policies[pn] = doc
		return nil, s.save()
	case "GetRolePolicy":
		r, err := s.role(name)
		if err != nil {
			return nil, err
		}
		pn := form.String("PolicyName")
		doc, ok := r.Policies[pn]
		if !ok {
			return nil, awswire.NotFoundf("NoSuchEntity", "The role policy with name %s cannot be found.", pn)
		}
		return rolePolicyResult{RoleName: name, PolicyName: pn, PolicyDocument: url.QueryEscape(doc)}, nil
	case "ListRolePolicies":
		r, err := s.role(name)
		if err != nil {
			return nil, err
		}
		var out listPoliciesResult
		for pn := range r.Policies {
			out.PolicyNames = append(out.PolicyNames, pn)
		}
		sort.Strings(out.PolicyNames)
		return out, nil
	case "DeleteRolePolicy":
		r, err := s.role(name)
		if err != nil {
			return nil, err
		}
		pn := form.String("PolicyName")
		if _, ok := r.Policies[pn]; !ok {
			return nil, awswire.NotFoundf("NoSuchEntity", "The role policy with name %s cannot be found.", pn)
		}
		delete(r.Policies, pn)
		return nil, s.save()
	}
	return nil, awswire.Errorf("InvalidAction", "The twin's IAM does not implement %s", action)
}

func (s *Service) createRole(name string, form awswire.Form) (any, error) {
	if _, ok := s.st.Roles[name]; ok {
		return nil, &awswire.Error{Code: "EntityAlreadyExists", Message: fmt.Sprintf("Role with name %s already exists.", name), Status: http.StatusConflict}
	}
	trust := form.String("AssumeRolePolicyDocument")
	if err := checkPolicy(trust); err != nil {
		return nil, err
	}
	path := form.String("Path")
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") || !strings.HasSuffix(path, "/") {
		return nil, awswire.Errorf("ValidationError", "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters.")
	}
	r := &Role{Name: name, ID: roleID(), Path: path, Trust: trust, Description: form.String("Description"), Created: s.now().UTC()}
	for _, t := range form.Structs("Tags") {
		r.Tags = append(r.Tags, Tag{Key: t.String("Key"), Value: t.String("Value")})
	}
	s.st.Roles[name] = r
	return roleResult{Role: roleXML(r)}, s.save()
}

func (s *Service) role(name string) (*Role, error) {
	r, ok := s.st.Roles[name]
	if !ok {
		return nil, awswire.NotFoundf("NoSuchEntity", "The role with name %s cannot be found.", name)
	}
	return r, nil
}

func (s *Service) save() error { return s.file.Save(&s.st) }

// checkPolicy refuses a document that is not a JSON policy with Version and Statement, as IAM does.
func checkPolicy(doc string) error {
	var p struct {
		Version   string
		Statement json.RawMessage
	}
	if doc == "" || json.Unmarshal([]byte(doc), &p) != nil || len(p.Statement) == 0 {
		return awswire.Errorf("MalformedPolicyDocument", "Syntax errors in policy.")
	}
	if p.Version != "2012-10-17" && p.Version != "2008-10-17" {
		return awswire.Errorf("MalformedPolicyDocument", "The policy must contain a valid version string")
	}
	return nil
}

func roleID() string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b [17]byte
	_, _ = rand.Read(b[:])
	out := []byte("AROA")
	for _, c := range b {
		out = append(out, chars[int(c)%len(chars)])
	}
	return string(out)
}

type xmlTag struct{ Key, Value string }

type xmlRole struct {
	Path                     string
	RoleName                 string
	RoleID                   string `xml:"RoleId"`
	Arn                      string
	CreateDate               string
	AssumeRolePolicyDocument string
	Description              string   `xml:",omitempty"`
	MaxSessionDuration       int      `xml:",omitempty"`
	Tags                     []xmlTag `xml:"Tags>member,omitempty"`
}

func roleXML(r *Role) xmlRole {
	x := xmlRole{Path: r.Path, RoleName: r.Name, RoleID: r.ID, Arn: r.ARN(), CreateDate: awswire.FormatTime(r.Created),
		AssumeRolePolicyDocument: url.QueryEscape(r.Trust), Description: r.Description, MaxSessionDuration: 3600}
	for _, t := range r.Tags {
		x.Tags = append(x.Tags, xmlTag(t))
	}
	return x
}

type listRolesResult struct {
	Roles       []xmlRole `xml:"Roles>member"`
	IsTruncated bool
	Marker      string `xml:",omitempty"`
}

// listRoles answers ListRoles: roles by name, PathPrefix, MaxItems (1 to 1000, default 100) and Marker.
func (s *Service) listRoles(form awswire.Form) (any, error) {
	limit, _, err := form.Int("MaxItems")
	if err != nil {
		return nil, err
	}
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 1000 {
		return nil, awswire.Errorf("ValidationError", "1 validation error detected: Value '%d' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 1000", limit)
	}
	prefix := form.String("PathPrefix")
	names := make([]string, 0, len(s.st.Roles))
	for n, r := range s.st.Roles {
		if strings.HasPrefix(r.Path, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := listRolesResult{Roles: []xmlRole{}}
	marker := form.String("Marker")
	for _, n := range names {
		if marker != "" && n < marker {
			continue
		}
		if len(out.Roles) == limit {
			out.IsTruncated, out.Marker = true, n
			break
		}
		out.Roles = append(out.Roles, roleXML(s.st.Roles[n]))
	}
	return out, nil
}

type roleResult struct {
	Role xmlRole
}

type rolePolicyResult struct {
	RoleName       string
	PolicyName     string
	PolicyDocument string
}

type listPoliciesResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool
}
