package rds

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// DB parameter groups as RDS has them: default.postgres<major> always exists and cannot be modified or
// deleted; a custom group (CreateDBParameterGroup, CopyDBParameterGroup) holds the parameters set on
// it. A dynamic parameter set with ApplyMethod=immediate reaches every instance using the group at once
// (ALTER SYSTEM and a reload, as rdsadmin); a static one needs ApplyMethod=pending-reboot and reaches
// an instance when it reboots (RebootDBInstance), its ParameterApplyStatus pending-reboot meanwhile.
// Attaching another group to an instance takes effect at its next reboot too. The parameters are the
// server's own (postgres --describe-config: postmaster context is static) plus RDS's rds.* ones.

// ParamGroup is one custom DB parameter group.
type ParamGroup struct {
	Name        string
	Family      string
	Description string
	Params      map[string]string `json:",omitempty"` // the ones set on it (Source "user")
	Tags        []Tag             `json:",omitempty"`
	Created     time.Time
}

// ARN is the group's ARN.
func (g *ParamGroup) ARN() string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:pg:%s", awswire.Region, awswire.Account, g.Name)
}

// Parameter apply statuses of an instance's group.
const (
	applyInSync        = "in-sync"
	applyPendingReboot = "pending-reboot"
	applyApplying      = "applying"
)

// paramDef describes one parameter.
type paramDef struct {
	Name, Description, DataType, AllowedValues, Default string
	Static, Modifiable                                  bool
	Min, Max                                            float64
	HasRange                                            bool
}

// rdsParams are RDS's own parameters for PostgreSQL that the twin knows.
var rdsParams = []paramDef{
	{Name: "rds.logical_replication", Description: "Enables logical decoding.", DataType: "boolean", AllowedValues: "0,1", Default: "0", Static: true, Modifiable: true},
	{Name: "rds.force_ssl", Description: "Force SSL connections.", DataType: "boolean", AllowedValues: "0,1", Default: "1", Modifiable: true}, // 1 from RDS for PostgreSQL 15
	{Name: "rds.log_retention_period", Description: "Amazon RDS for PostgreSQL will delete PostgreSQL logs that are older than N minutes.", DataType: "integer", AllowedValues: "1440-10080", Default: "4320", Modifiable: true, Min: 1440, Max: 10080, HasRange: true},
	{Name: "rds.restrict_password_commands", Description: "Restricts password-related commands to members of rds_password.", DataType: "boolean", AllowedValues: "0,1", Default: "0", Static: true, Modifiable: true},
}

// loadParamDefs reads the server's parameters (postgres --describe-config) and adds RDS's.
func loadParamDefs(ctx context.Context, settings map[string]string) (map[string]paramDef, error) {
	major, err := pgcluster.Installed()
	if err != nil {
		return nil, err
	}
	out, err := exec.CommandContext(ctx, filepath.Join("/usr/lib/postgresql", strconv.Itoa(major), "bin", "postgres"), "--describe-config").Output()
	if err != nil {
		return nil, fmt.Errorf("postgres --describe-config: %w", err)
	}
	defs := map[string]paramDef{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 8 {
			continue
		}
		d := paramDef{Name: f[0], Description: f[7], Static: f[1] == "postmaster", Modifiable: f[1] != "internal", Default: f[4]}
		switch f[3] {
		case "BOOLEAN":
			d.DataType, d.AllowedValues = "boolean", "0,1"
		case "INTEGER", "REAL":
			d.DataType = map[string]string{"INTEGER": "integer", "REAL": "float"}[f[3]]
			lo, err1 := strconv.ParseFloat(f[5], 64)
			hi, err2 := strconv.ParseFloat(f[6], 64)
			if err1 == nil && err2 == nil {
				d.Min, d.Max, d.HasRange, d.AllowedValues = lo, hi, true, f[5]+"-"+f[6]
			}
		default:
			d.DataType = "string"
		}
		if strings.HasPrefix(d.Name, "ssl") || strings.HasPrefix(d.Name, "data_directory") || d.Name == "port" || d.Name == "listen_addresses" ||
			d.Name == "unix_socket_directories" || d.Name == "hba_file" || d.Name == "config_file" || d.Name == "ident_file" {
			d.Modifiable = false // RDS keeps these to itself
		}
		defs[d.Name] = d
	}
	for _, d := range rdsParams {
		defs[d.Name] = d
	}
	// The twin's own settings are the default group's ("system" values).
	for k, v := range settings {
		if d, ok := defs[k]; ok {
			d.Default = v
			defs[k] = d
		}
	}
	return defs, nil
}

// defaultParamGroup is the default group of the family of engineVersion's major.
func defaultParamGroup(engineVersion string) string {
	return "default.postgres" + majorVersion(engineVersion)
}

func isDefaultParamGroup(name string) bool { return strings.HasPrefix(name, "default.") }

func paramGroupNotFound(name string) error {
	return awswire.NotFoundf("DBParameterGroupNotFound", "DBParameterGroup not found: %s", name)
}

// paramGroupLocked finds a group, the default ones included.
func (s *Service) paramGroupLocked(name string) (*ParamGroup, error) {
	if family, ok := strings.CutPrefix(name, "default."); ok {
		if family == "postgres"+majorVersion(s.version) {
			return &ParamGroup{Name: name, Family: family, Description: "Default parameter group for " + family}, nil
		}
		return nil, paramGroupNotFound(name)
	}
	if g, ok := s.st.ParamGroups[strings.ToLower(name)]; ok {
		return g, nil
	}
	return nil, paramGroupNotFound(name)
}

// attachParameterGroupLocked gives inst the named group (which must exist, of the instance's family);
// as on RDS it takes effect at the instance's next reboot.
func (s *Service) attachParameterGroupLocked(inst *Instance, name string) error {
	g, err := s.paramGroupLocked(name)
	if err != nil {
		return err
	}
	if g.Family != "postgres"+majorVersion(s.version) {
		return awswire.Errorf("InvalidParameterCombination", "The parameter group %s with DBParameterGroupFamily %s cannot be used for this instance. Use a parameter group with DBParameterGroupFamily postgres%s.", g.Name, g.Family, majorVersion(s.version))
	}
	if inst.ParameterGroup != g.Name {
		inst.ParameterGroup = g.Name
		if inst.Provisioned {
			inst.ParamApply = applyPendingReboot
		}
	}
	return nil
}

type xmlParamGroup struct {
	DBParameterGroupName   string
	DBParameterGroupFamily string
	Description            string
	DBParameterGroupArn    string
}

func paramGroupXML(g *ParamGroup) xmlParamGroup {
	return xmlParamGroup{DBParameterGroupName: g.Name, DBParameterGroupFamily: g.Family, Description: g.Description, DBParameterGroupArn: g.ARN()}
}

type paramGroupResult struct {
	DBParameterGroup xmlParamGroup
}

func (s *Service) createParamGroup(form awswire.Form) (any, error) {
	name := strings.ToLower(form.String("DBParameterGroupName"))
	if err := checkIdentifier("DBParameterGroupName", name); err != nil {
		return nil, err
	}
	family, desc := form.String("DBParameterGroupFamily"), form.String("Description")
	if desc == "" {
		return nil, awswire.Errorf("InvalidParameterValue", "The parameter Description must be provided and must not be blank.")
	}
	if family != "postgres"+majorVersion(s.version) {
		return nil, awswire.Errorf("InvalidParameterValue", "ParameterGroupFamily %s is not a valid parameter group family for the twin, which runs postgres%s only.", family, majorVersion(s.version))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.paramGroupLocked(name); err == nil || isDefaultParamGroup(name) {
		return nil, awswire.Errorf("DBParameterGroupAlreadyExists", "Parameter group %s already exists", name)
	}
	g := &ParamGroup{Name: name, Family: family, Description: desc, Tags: readTags(form), Created: s.now().UTC()}
	s.st.ParamGroups[name] = g
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return paramGroupResult{DBParameterGroup: paramGroupXML(g)}, nil
}

func (s *Service) copyParamGroup(form awswire.Form) (any, error) {
	target := strings.ToLower(form.String("TargetDBParameterGroupIdentifier"))
	if err := checkIdentifier("TargetDBParameterGroupIdentifier", target); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := s.paramGroupLocked(lastARNPart(form.String("SourceDBParameterGroupIdentifier")))
	if err != nil {
		return nil, err
	}
	if _, err := s.paramGroupLocked(target); err == nil || isDefaultParamGroup(target) {
		return nil, awswire.Errorf("DBParameterGroupAlreadyExists", "Parameter group %s already exists", target)
	}
	g := &ParamGroup{Name: target, Family: src.Family, Description: form.String("TargetDBParameterGroupDescription"),
		Params: map[string]string{}, Tags: readTags(form), Created: s.now().UTC()}
	for k, v := range src.Params {
		g.Params[k] = v
	}
	s.st.ParamGroups[target] = g
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return paramGroupResult{DBParameterGroup: paramGroupXML(g)}, nil
}

func lastARNPart(id string) string {
	if strings.HasPrefix(id, "arn:") {
		return id[strings.LastIndex(id, ":")+1:]
	}
	return id
}

// checkParamValue refuses a value the parameter cannot take.
func checkParamValue(d paramDef, v string) error {
	switch d.DataType {
	case "boolean":
		if v != "0" && v != "1" && v != "on" && v != "off" && v != "true" && v != "false" {
			return awswire.Errorf("InvalidParameterValue", "Value: %s is outside of range: %s for parameter: %s", v, d.AllowedValues, d.Name)
		}
	case "integer", "float":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || (d.HasRange && (f < d.Min || f > d.Max)) {
			return awswire.Errorf("InvalidParameterValue", "Value: %s is outside of range: %s for parameter: %s", v, d.AllowedValues, d.Name)
		}
	}
	return nil
}

func (s *Service) modifyParamGroup(form awswire.Form) (any, error) {
	name := strings.ToLower(form.String("DBParameterGroupName"))
	params := form.Structs("Parameters")
	if len(params) == 0 || len(params) > 20 {
		return nil, awswire.Errorf("InvalidParameterValue", "Between 1 and 20 parameters can be modified in a single request (got %d).", len(params))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.paramGroupLocked(name)
	if err != nil {
		return nil, err
	}
	if isDefaultParamGroup(g.Name) {
		return nil, awswire.Errorf("InvalidParameterValue", "Cannot modify a default parameter group.")
	}
	set := map[string]string{}
	reboot, now := false, map[string]string{}
	for _, p := range params {
		pn, pv, method := p.String("ParameterName"), p.String("ParameterValue"), p.String("ApplyMethod")
		d, ok := s.params[pn]
		if !ok {
			return nil, awswire.Errorf("InvalidParameterValue", "Could not find parameter with name: %s", pn)
		}
		if !d.Modifiable {
			return nil, awswire.Errorf("InvalidParameterValue", "The parameter %s cannot be modified.", pn)
		}
		if err := checkParamValue(d, pv); err != nil {
			return nil, err
		}
		switch method {
		case "immediate":
			if d.Static {
				return nil, awswire.Errorf("InvalidParameterCombination", "cannot use immediate apply method for static parameter")
			}
			now[pn] = pv
		case "pending-reboot":
			reboot = true
		default:
			return nil, awswire.Errorf("InvalidParameterValue", "Invalid ApplyMethod %q for parameter %s: use immediate or pending-reboot.", method, pn)
		}
		set[pn] = pv
	}
	if g.Params == nil {
		g.Params = map[string]string{}
	}
	for k, v := range set {
		g.Params[k] = v
	}
	var targets []string
	for res, i := range s.st.Instances {
		if i.ParameterGroup != g.Name || !i.Provisioned {
			continue
		}
		if reboot {
			i.ParamApply = applyPendingReboot
		}
		if len(now) > 0 {
			targets = append(targets, res)
		}
	}
	s.eventLocked("db-parameter-group", g.Name, "Updated parameter "+strings.Join(sortedNames(set), ", ")+".", "configuration change")
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	for _, res := range targets {
		s.goJob(func(ctx context.Context) { _ = s.setParams(ctx, res, now, false) })
	}
	return struct{ DBParameterGroupName string }{g.Name}, nil
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (s *Service) deleteParamGroup(form awswire.Form) (any, error) {
	name := strings.ToLower(form.String("DBParameterGroupName"))
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.paramGroupLocked(name)
	if err != nil {
		return nil, err
	}
	if isDefaultParamGroup(g.Name) {
		return nil, awswire.Errorf("InvalidDBParameterGroupState", "Default DBParameterGroup cannot be deleted: %s", g.Name)
	}
	for _, i := range s.st.Instances {
		if i.ParameterGroup == g.Name {
			return nil, awswire.Errorf("InvalidDBParameterGroupState", "One or more database instances are still members of this parameter group %s, so the group cannot be deleted", g.Name)
		}
	}
	delete(s.st.ParamGroups, g.Name)
	return nil, s.saveLocked()
}

type paramGroupsResult struct {
	Marker            string          `xml:",omitempty"`
	DBParameterGroups []xmlParamGroup `xml:"DBParameterGroups>DBParameterGroup"`
}

func (s *Service) describeParamGroups(form awswire.Form) (any, error) {
	max, _, err := describeParams(form)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*ParamGroup
	if name := form.String("DBParameterGroupName"); name != "" {
		g, err := s.paramGroupLocked(name)
		if err != nil {
			return nil, err
		}
		list = append(list, g)
	} else {
		g, _ := s.paramGroupLocked(defaultParamGroup(s.version))
		list = append(list, g)
		for _, g := range s.st.ParamGroups {
			list = append(list, g)
		}
	}
	sort.Slice(list, func(a, b int) bool { return list[a].Name < list[b].Name })
	out := paramGroupsResult{DBParameterGroups: []xmlParamGroup{}}
	marker := form.String("Marker")
	for _, g := range list {
		if marker != "" && g.Name < marker {
			continue
		}
		if len(out.DBParameterGroups) == max {
			out.Marker = g.Name
			break
		}
		out.DBParameterGroups = append(out.DBParameterGroups, paramGroupXML(g))
	}
	return out, nil
}

type xmlParameter struct {
	ParameterName  string
	ParameterValue string `xml:",omitempty"`
	Description    string
	Source         string
	ApplyType      string
	DataType       string
	AllowedValues  string `xml:",omitempty"`
	IsModifiable   bool
	ApplyMethod    string `xml:",omitempty"`
}

type parametersResult struct {
	Marker     string         `xml:",omitempty"`
	Parameters []xmlParameter `xml:"Parameters>Parameter"`
}

func (s *Service) describeParameters(form awswire.Form) (any, error) {
	max, _, err := describeParams(form)
	if err != nil {
		return nil, err
	}
	source := form.String("Source")
	if source != "" && !slices.Contains([]string{"user", "system", "engine-default"}, source) {
		return nil, awswire.Errorf("InvalidParameterValue", "Invalid source %s: use user, system or engine-default.", source)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, err := s.paramGroupLocked(form.String("DBParameterGroupName"))
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(s.params))
	for n := range s.params {
		names = append(names, n)
	}
	sort.Strings(names)
	out := parametersResult{Parameters: []xmlParameter{}}
	skip, _, _ := form.Int("Marker")
	n := 0
	for _, name := range names {
		d := s.params[name]
		x := xmlParameter{ParameterName: name, ParameterValue: d.Default, Description: d.Description, Source: "engine-default",
			ApplyType: "dynamic", DataType: d.DataType, AllowedValues: d.AllowedValues, IsModifiable: d.Modifiable, ApplyMethod: "pending-reboot"}
		if d.Static {
			x.ApplyType = "static"
		}
		if v, ok := g.Params[name]; ok {
			x.ParameterValue, x.Source = v, "user"
		} else if _, ok := s.o.Settings[name]; ok || name == "shared_preload_libraries" || name == "rds.force_ssl" {
			x.Source = "system"
		}
		if source != "" && x.Source != source {
			continue
		}
		n++
		if n <= skip {
			continue
		}
		if len(out.Parameters) == max {
			out.Marker = strconv.Itoa(n - 1)
			break
		}
		out.Parameters = append(out.Parameters, x)
	}
	return out, nil
}

// effectiveSettings turns a group's parameters into the server settings they make: rds.logical_replication
// sets wal_level=logical and raises the WAL senders and replication slots, as on RDS.
// A group's shared_preload_libraries keeps the twin's own libraries, as RDS keeps its own.
func (s *Service) effectiveSettings(params map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range params {
		out[k] = v
	}
	if v, ok := params["shared_preload_libraries"]; ok {
		out["shared_preload_libraries"] = s.preload(v)
	}
	if v := params["rds.logical_replication"]; v == "1" || v == "on" || v == "true" {
		out["wal_level"] = "logical"
		if _, ok := params["max_wal_senders"]; !ok {
			out["max_wal_senders"] = "20"
		}
		if _, ok := params["max_replication_slots"]; !ok {
			out["max_replication_slots"] = "20"
		}
	}
	return out
}

// setParams writes settings into the instance's server as rdsadmin (ALTER SYSTEM); all replaces what
// was set before. A reload applies the dynamic ones; static ones wait for a restart.
func (s *Service) setParams(ctx context.Context, res string, settings map[string]string, all bool) error {
	s.mu.Lock()
	c := s.clusters[res]
	s.mu.Unlock()
	if c == nil {
		return fmt.Errorf("set parameters: the instance's cluster is not running")
	}
	conn, err := pgx.Connect(ctx, c.ConnString("postgres", AdminUser))
	if err != nil {
		return fmt.Errorf("set parameters: connect as %s: %w", AdminUser, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if all {
		if _, err := conn.Exec(ctx, "ALTER SYSTEM RESET ALL"); err != nil {
			return fmt.Errorf("set parameters: %w", err)
		}
	}
	for _, k := range sortedNames(settings) {
		if _, err := conn.Exec(ctx, fmt.Sprintf("ALTER SYSTEM SET %s = %s", pgx.Identifier{k}.Sanitize(), quoteLiteral(settings[k]))); err != nil {
			return fmt.Errorf("set parameter %s: %w", k, err)
		}
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		return fmt.Errorf("set parameters: reload: %w", err)
	}
	return nil
}

// groupSettingsLocked is what an instance's group makes of its server's settings.
func (s *Service) groupSettingsLocked(inst *Instance) map[string]string {
	g, err := s.paramGroupLocked(inst.ParameterGroup)
	if err != nil {
		return nil
	}
	return s.effectiveSettings(g.Params)
}
