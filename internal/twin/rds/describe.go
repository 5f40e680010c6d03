package rds

import (
	"sort"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// The read calls an engineer uses to look around that have no state of their own: tags on any
// resource by ARN, subnet groups (the names instances use, in the twin's one VPC) and engine versions
// (the one PostgreSQL installed).

// tagsLocked finds the tags of the resource an ARN names (db, snapshot, pg, og).
func (s *Service) tagsLocked(arn string) (*[]Tag, error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 7 || parts[0] != "arn" || parts[2] != "rds" {
		return nil, awswire.Errorf("InvalidParameterValue", "Invalid resource name: %s", arn)
	}
	kind, id := parts[5], strings.ToLower(parts[6])
	switch kind {
	case "db":
		if i, err := s.instanceLocked(id); err == nil {
			return &i.Tags, nil
		}
		return nil, awswire.NotFoundf("DBInstanceNotFound", "DBInstance %s not found.", id)
	case "snapshot":
		if sn, err := s.snapshotLocked(id); err == nil {
			return &sn.Tags, nil
		}
		return nil, awswire.NotFoundf("DBSnapshotNotFound", "DBSnapshot not found: %s", id)
	case "pg":
		if g, ok := s.st.ParamGroups[id]; ok {
			return &g.Tags, nil
		}
		if isDefaultParamGroup(id) {
			return &[]Tag{}, nil
		}
		return nil, paramGroupNotFound(id)
	}
	return nil, awswire.Errorf("InvalidParameterValue", "The twin keeps no tags for resources of type %s (%s).", kind, arn)
}

type tagListResult struct {
	TagList []xmlTag `xml:"TagList>Tag"`
}

func (s *Service) listTags(form awswire.Form) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.tagsLocked(form.String("ResourceName"))
	if err != nil {
		return nil, err
	}
	return tagListResult{TagList: tagsXML(*tags)}, nil
}

func (s *Service) addTags(form awswire.Form) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.tagsLocked(form.String("ResourceName"))
	if err != nil {
		return nil, err
	}
	for _, t := range readTags(form) {
		replaced := false
		for n := range *tags {
			if (*tags)[n].Key == t.Key {
				(*tags)[n].Value, replaced = t.Value, true
			}
		}
		if !replaced {
			*tags = append(*tags, t)
		}
	}
	return nil, s.saveLocked()
}

func (s *Service) removeTags(form awswire.Form) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tags, err := s.tagsLocked(form.String("ResourceName"))
	if err != nil {
		return nil, err
	}
	keys := form.Strings("TagKeys")
	kept := (*tags)[:0]
	for _, t := range *tags {
		if !match(keys, t.Key) || len(keys) == 0 {
			kept = append(kept, t)
		}
	}
	*tags = kept
	return nil, s.saveLocked()
}

type xmlSubnet struct {
	SubnetIdentifier       string
	SubnetAvailabilityZone struct{ Name string }
	SubnetStatus           string
}

type xmlSubnetGroupFull struct {
	DBSubnetGroupName        string
	DBSubnetGroupDescription string
	VpcID                    string `xml:"VpcId"`
	SubnetGroupStatus        string
	Subnets                  []xmlSubnet `xml:"Subnets>Subnet"`
	DBSubnetGroupArn         string
	SupportedNetworkTypes    []string `xml:"SupportedNetworkTypes>member"`
}

type subnetGroupsResult struct {
	Marker         string               `xml:",omitempty"`
	DBSubnetGroups []xmlSubnetGroupFull `xml:"DBSubnetGroups>DBSubnetGroup"`
}

// describeSubnetGroups answers with the subnet groups the twin's instances name (and "default"), each
// in the twin's VPC with two subnets: the twin keeps names, it enforces no networking.
func (s *Service) describeSubnetGroups(form awswire.Form) (any, error) {
	max, _, err := describeParams(form)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	names := map[string]bool{"default": true}
	for _, i := range s.st.Instances {
		names[i.SubnetGroup] = true
	}
	want := form.String("DBSubnetGroupName")
	if want != "" && !names[want] {
		return nil, awswire.NotFoundf("DBSubnetGroupNotFoundFault", "DBSubnetGroup %s not found.", want)
	}
	list := make([]string, 0, len(names))
	for n := range names {
		if want == "" || n == want {
			list = append(list, n)
		}
	}
	sort.Strings(list)
	out := subnetGroupsResult{DBSubnetGroups: []xmlSubnetGroupFull{}}
	for _, n := range list {
		if len(out.DBSubnetGroups) == max {
			out.Marker = n
			break
		}
		g := xmlSubnetGroupFull{DBSubnetGroupName: n, DBSubnetGroupDescription: n, VpcID: defaultVPC, SubnetGroupStatus: "Complete",
			DBSubnetGroupArn: "arn:aws:rds:" + awswire.Region + ":" + awswire.Account + ":subgrp:" + n, SupportedNetworkTypes: []string{"IPV4"}}
		for _, az := range []string{"us-east-1a", "us-east-1b"} {
			sn := xmlSubnet{SubnetIdentifier: "subnet-0cairn0" + strings.TrimPrefix(az, "us-east-") + "000000", SubnetStatus: "Active"}
			sn.SubnetAvailabilityZone.Name = az
			g.Subnets = append(g.Subnets, sn)
		}
		out.DBSubnetGroups = append(out.DBSubnetGroups, g)
	}
	return out, nil
}

type xmlEngineVersion struct {
	Engine                             string
	EngineVersion                      string
	DBParameterGroupFamily             string
	DBEngineDescription                string
	DBEngineVersionDescription         string
	MajorEngineVersion                 string
	Status                             string
	SupportsLogExportsToCloudwatchLogs bool
	ExportableLogTypes                 []string `xml:"ExportableLogTypes>member"`
}

type engineVersionsResult struct {
	DBEngineVersions []xmlEngineVersion `xml:"DBEngineVersions>DBEngineVersion"`
}

// describeEngineVersions answers with the one version the twin runs.
func (s *Service) describeEngineVersions(form awswire.Form) (any, error) {
	if _, _, err := describeParams(form, "engine", "engine-version", "status"); err != nil {
		return nil, err
	}
	out := engineVersionsResult{DBEngineVersions: []xmlEngineVersion{}}
	e, v, fam := form.String("Engine"), form.String("EngineVersion"), form.String("DBParameterGroupFamily")
	if (e != "" && e != "postgres") || (v != "" && v != s.version && v != majorVersion(s.version)) || (fam != "" && fam != "postgres"+majorVersion(s.version)) {
		return out, nil
	}
	out.DBEngineVersions = append(out.DBEngineVersions, xmlEngineVersion{Engine: "postgres", EngineVersion: s.version,
		DBParameterGroupFamily: "postgres" + majorVersion(s.version), DBEngineDescription: "PostgreSQL",
		DBEngineVersionDescription: "PostgreSQL " + s.version + "-R1", MajorEngineVersion: majorVersion(s.version), Status: "available",
		SupportsLogExportsToCloudwatchLogs: true, ExportableLogTypes: logTypes})
	return out, nil
}
