package secrets

import (
	"sort"
	"strconv"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// filter is one of ListSecrets' Filters: a key (name, description, tag-key, tag-value, all) and
// values, each matching as a prefix, or excluding when it starts with "!".
type filter struct {
	Key    string
	Values []string
}

var filterKeys = []string{"name", "description", "tag-key", "tag-value", "primary-region", "owning-service", "all"}

// fields returns what a filter key looks at in sec.
func (sec *Secret) fields(key string) []string {
	var out []string
	if key == "name" || key == "all" {
		out = append(out, sec.Name)
	}
	if key == "description" || key == "all" {
		out = append(out, sec.Description)
	}
	for _, t := range sec.Tags {
		if key == "tag-key" || key == "all" {
			out = append(out, t.Key)
		}
		if key == "tag-value" || key == "all" {
			out = append(out, t.Value)
		}
	}
	return out
}

func (f filter) match(sec *Secret) bool {
	fields := sec.fields(f.Key)
	for _, v := range f.Values {
		neg := strings.HasPrefix(v, "!")
		v = strings.TrimPrefix(v, "!")
		hit := false
		for _, x := range fields {
			if strings.HasPrefix(x, v) {
				hit = true
			}
		}
		if hit != neg {
			return true
		}
	}
	return false
}

// page reads MaxResults (1 to 100, default 100) and NextToken (an offset the twin gave).
func page(in request) (limit, start int, err error) {
	limit = in.MaxResults
	if limit == 0 {
		limit = 100
	}
	if limit < 1 || limit > 100 {
		return 0, 0, awswire.Errorf("InvalidParameterException", "MaxResults must be between 1 and 100.")
	}
	if in.NextToken != "" {
		if start, err = strconv.Atoi(in.NextToken); err != nil || start < 0 {
			return 0, 0, awswire.Errorf("InvalidNextTokenException", "The NextToken value is invalid.")
		}
	}
	return limit, start, nil
}

func (s *Service) list(in request) (any, error) {
	limit, start, err := page(in)
	if err != nil {
		return nil, err
	}
	for _, f := range in.Filters {
		if !contains(filterKeys, f.Key) {
			return nil, awswire.Errorf("ValidationException", "1 validation error detected: Value '%s' at 'filters.1.member.key' failed to satisfy constraint: Member must satisfy enum value set: %v", f.Key, filterKeys)
		}
	}
	if in.SortOrder != "" && in.SortOrder != "asc" && in.SortOrder != "desc" {
		return nil, awswire.Errorf("ValidationException", "Value '%s' at 'sortOrder' failed to satisfy constraint: Member must satisfy enum value set: [asc, desc]", in.SortOrder)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []*Secret
	for _, sec := range s.st.Secrets {
		if sec.Deleted != nil && !in.IncludePlannedDeletion {
			continue
		}
		ok := true
		for _, f := range in.Filters {
			ok = ok && f.match(sec)
		}
		if ok {
			all = append(all, sec)
		}
	}
	// AWS lists by creation date, newest first unless SortOrder is asc.
	sort.Slice(all, func(a, b int) bool {
		if !all[a].Created.Equal(all[b].Created) {
			if in.SortOrder == "asc" {
				return all[a].Created.Before(all[b].Created)
			}
			return all[a].Created.After(all[b].Created)
		}
		return all[a].Name < all[b].Name
	})
	list := []map[string]any{}
	for n := start; n < len(all) && len(list) < limit; n++ {
		list = append(list, listEntry(all[n]))
	}
	out := map[string]any{"SecretList": list}
	if start+limit < len(all) {
		out["NextToken"] = strconv.Itoa(start + limit)
	}
	return out, nil
}

func listEntry(sec *Secret) map[string]any {
	stages := map[string][]string{}
	for _, v := range sec.Versions {
		stages[v.ID] = v.Stages
	}
	e := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "CreatedDate": awswire.EpochTime(sec.Created),
		"LastChangedDate": awswire.EpochTime(sec.Changed), "SecretVersionsToStages": stages}
	if sec.Description != "" {
		e["Description"] = sec.Description
	}
	if sec.KmsKeyID != "" {
		e["KmsKeyId"] = sec.KmsKeyID
	}
	if len(sec.Tags) > 0 {
		e["Tags"] = sec.Tags
	}
	if sec.Deleted != nil {
		e["DeletedDate"] = awswire.EpochTime(*sec.Deleted)
	}
	return e
}

func (s *Service) listVersions(in request) (any, error) {
	limit, start, err := page(in)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findLocked(in.SecretID)
	if err != nil {
		return nil, err
	}
	// The twin drops a version once it has no stage, so there are no deprecated versions to include.
	versions := []map[string]any{}
	for n := start; n < len(sec.Versions) && len(versions) < limit; n++ {
		v := sec.Versions[n]
		versions = append(versions, map[string]any{"VersionId": v.ID, "VersionStages": v.Stages,
			"CreatedDate": awswire.EpochTime(v.Created)})
	}
	out := map[string]any{"ARN": sec.ARN, "Name": sec.Name, "Versions": versions}
	if start+limit < len(sec.Versions) {
		out["NextToken"] = strconv.Itoa(start + limit)
	}
	return out, nil
}
