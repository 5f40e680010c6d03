package rds

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// OptionGroup is an option group made with CreateOptionGroup (RDS for PostgreSQL has no options to
// add; a group is a name an instance is associated with). The default group of each major version,
// default:postgres-<major>, always exists, as on AWS.
type OptionGroup struct {
	Name         string
	Description  string
	Engine       string
	MajorVersion string
	Created      time.Time
}

// ARN is the option group's ARN.
func (g *OptionGroup) ARN() string {
	return fmt.Sprintf("arn:aws:rds:%s:%s:og:%s", awswire.Region, awswire.Account, g.Name)
}

func defaultOptionGroup(engineVersion string) string {
	return "default:postgres-" + majorVersion(orDefault(engineVersion, "15"))
}

// optionGroupLocked finds an option group, the default groups included.
func (s *Service) optionGroupLocked(name string) (*OptionGroup, bool) {
	if major, ok := strings.CutPrefix(name, "default:postgres-"); ok && major != "" {
		return &OptionGroup{Name: name, Description: "Default option group for postgres " + major, Engine: "postgres", MajorVersion: major}, true
	}
	g, ok := s.st.OptionGroups[name]
	return g, ok
}

// checkOptionGroupLocked refuses an unknown option group, or one of another major version.
func (s *Service) checkOptionGroupLocked(name, engineVersion string) error {
	g, ok := s.optionGroupLocked(name)
	if !ok {
		return awswire.NotFoundf("OptionGroupNotFoundFault", "Specified OptionGroupName: %s not found.", name)
	}
	if major := majorVersion(orDefault(engineVersion, "15")); g.Engine != "postgres" || g.MajorVersion != major {
		return awswire.Errorf("InvalidParameterCombination", "The option group %s is for %s %s and cannot be used with postgres %s.", name, g.Engine, g.MajorVersion, major)
	}
	return nil
}

type xmlOptionGroup struct {
	OptionGroupName                       string
	OptionGroupDescription                string
	EngineName                            string
	MajorEngineVersion                    string
	Options                               struct{}
	AllowsVpcAndNonVpcInstanceMemberships bool
	VpcID                                 string `xml:"VpcId"`
	OptionGroupArn                        string
	CopyTimestamp                         string `xml:",omitempty"`
}

func optionGroupXML(g *OptionGroup) xmlOptionGroup {
	return xmlOptionGroup{OptionGroupName: g.Name, OptionGroupDescription: g.Description, EngineName: g.Engine,
		MajorEngineVersion: g.MajorVersion, AllowsVpcAndNonVpcInstanceMemberships: true, VpcID: defaultVPC, OptionGroupArn: g.ARN()}
}

type optionGroupResult struct {
	OptionGroup xmlOptionGroup
}

type optionGroupsResult struct {
	Marker           string `xml:",omitempty"`
	OptionGroupsList struct {
		Items []xmlOptionGroup `xml:"OptionGroup"`
	}
}

func (s *Service) createOptionGroup(form awswire.Form) (any, error) {
	name, engine, major, desc := form.String("OptionGroupName"), form.String("EngineName"), form.String("MajorEngineVersion"), form.String("OptionGroupDescription")
	if name == "" || engine == "" || major == "" || desc == "" {
		return nil, awswire.Errorf("InvalidParameterValue", "OptionGroupName, EngineName, MajorEngineVersion and OptionGroupDescription must be provided.")
	}
	if strings.HasPrefix(strings.ToLower(name), "default") || len(name) > 255 || !identifierRE.MatchString(name) {
		return nil, awswire.Errorf("InvalidParameterValue", "The parameter OptionGroupName is not a valid identifier: it must begin with a letter, contain only ASCII letters, digits and hyphens, and cannot begin with \"default\".")
	}
	if engine != "postgres" {
		return nil, awswire.Errorf("InvalidParameterCombination", "Invalid engine name %s: the twin runs engine postgres only.", engine)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.optionGroupLocked(name); ok {
		return nil, awswire.Errorf("OptionGroupAlreadyExistsFault", "Option group %s already exists.", name)
	}
	g := &OptionGroup{Name: name, Description: desc, Engine: engine, MajorVersion: major, Created: s.now().UTC()}
	if s.st.OptionGroups == nil {
		s.st.OptionGroups = map[string]*OptionGroup{}
	}
	s.st.OptionGroups[name] = g
	if err := s.saveLocked(); err != nil {
		return nil, err
	}
	return optionGroupResult{OptionGroup: optionGroupXML(g)}, nil
}

func (s *Service) describeOptionGroups(form awswire.Form) (any, error) {
	max, _, err := describeParams(form)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var list []*OptionGroup
	if name := form.String("OptionGroupName"); name != "" {
		g, ok := s.optionGroupLocked(name)
		if !ok {
			return nil, awswire.NotFoundf("OptionGroupNotFoundFault", "Specified OptionGroupName: %s not found.", name)
		}
		list = append(list, g)
	} else {
		majors := map[string]bool{majorVersion(s.version): true}
		for _, i := range s.st.Instances {
			majors[majorVersion(i.EngineVersion)] = true
		}
		for m := range majors {
			g, _ := s.optionGroupLocked("default:postgres-" + m)
			list = append(list, g)
		}
		for _, g := range s.st.OptionGroups {
			list = append(list, g)
		}
	}
	sort.Slice(list, func(a, b int) bool { return list[a].Name < list[b].Name })
	var out optionGroupsResult
	engine, major, marker := form.String("EngineName"), form.String("MajorEngineVersion"), form.String("Marker")
	for _, g := range list {
		if engine != "" && g.Engine != engine || major != "" && g.MajorVersion != major || marker != "" && g.Name < marker {
			continue
		}
		if len(out.OptionGroupsList.Items) == max {
			out.Marker = g.Name
			break
		}
		out.OptionGroupsList.Items = append(out.OptionGroupsList.Items, optionGroupXML(g))
	}
	return out, nil
}
