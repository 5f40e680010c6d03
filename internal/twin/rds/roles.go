package rds

import (
	"net/http"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// AssociatedRole is an IAM role associated with an instance for one feature (Lambda, s3Import, …).
type AssociatedRole struct {
	RoleArn     string
	FeatureName string
	Status      string // ACTIVE
}

type xmlRole struct {
	RoleArn     string
	FeatureName string
	Status      string
}

func rolesXML(rs []AssociatedRole) []xmlRole {
	out := make([]xmlRole, 0, len(rs))
	for _, r := range rs {
		out = append(out, xmlRole(r))
	}
	return out
}

// features RDS for PostgreSQL accepts in AddRoleToDBInstance.
var features = map[string]bool{"Lambda": true, "s3Import": true, "s3Export": true, "SageMaker": true, "Comprehend": true, "Bedrock": true}

// addRole answers AddRoleToDBInstance: the association is ACTIVE at once (AWS passes through PENDING).
func (s *Service) addRole(form awswire.Form) (any, error) {
	id, arn, feature := form.String("DBInstanceIdentifier"), form.String("RoleArn"), form.String("FeatureName")
	if arn == "" || feature == "" {
		return nil, awswire.Errorf("InvalidParameterValue", "RoleArn and FeatureName must be provided.")
	}
	if !features[feature] {
		return nil, awswire.Errorf("InvalidParameterValue", "The feature-name parameter must be one of Lambda, s3Import, s3Export, SageMaker, Comprehend, Bedrock for the postgres engine.")
	}
	if !strings.HasPrefix(arn, "arn:aws:iam::") || (s.o.RoleExists != nil && !s.o.RoleExists(arn)) {
		return nil, awswire.Errorf("InvalidParameterValue", "IAM role ARN value is invalid or does not include the required permissions for: %s", feature)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.instanceLocked(id)
	if err != nil {
		return nil, err
	}
	if i.Status != StatusAvailable {
		return nil, awswire.Errorf("InvalidDBInstanceState", "DB instance %s is not in the available state (it is %s).", i.ID, i.Status)
	}
	for _, r := range i.Roles {
		if r.RoleArn == arn || r.FeatureName == feature {
			return nil, awswire.Errorf("DBInstanceRoleAlreadyExists", "Role %s is already associated with DB Instance %s for feature %s.", r.RoleArn, i.ID, r.FeatureName)
		}
	}
	if len(i.Roles) >= 5 {
		return nil, awswire.Errorf("DBInstanceRoleQuotaExceeded", "DB instance %s already has the maximum number of associated roles.", i.ID)
	}
	i.Roles = append(i.Roles, AssociatedRole{RoleArn: arn, FeatureName: feature, Status: "ACTIVE"})
	return nil, s.saveLocked()
}

// removeRole answers RemoveRoleFromDBInstance.
func (s *Service) removeRole(form awswire.Form) (any, error) {
	id, arn, feature := form.String("DBInstanceIdentifier"), form.String("RoleArn"), form.String("FeatureName")
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.instanceLocked(id)
	if err != nil {
		return nil, err
	}
	for n, r := range i.Roles {
		if r.RoleArn == arn && (feature == "" || r.FeatureName == feature) {
			i.Roles = append(i.Roles[:n], i.Roles[n+1:]...)
			return nil, s.saveLocked()
		}
	}
	return nil, &awswire.Error{Code: "DBInstanceRoleNotFound", Message: "Role " + arn + " cannot be found for DB instance " + i.ID + ".", Status: http.StatusNotFound}
}

// PortRole finds the instance whose cluster listens on port and the role it has for feature: the
// twin's aws_lambda extension asks this to act, as RDS does, only with an associated role.
func (s *Service) PortRole(port int, feature string) (instanceID, roleArn string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, i := range s.st.Instances {
		if i.Port != port || i.Port == 0 {
			continue
		}
		for _, r := range i.Roles {
			if r.FeatureName == feature && r.Status == "ACTIVE" {
				return i.ID, r.RoleArn, nil
			}
		}
		return i.ID, "", nil
	}
	return "", "", awswire.NotFoundf("DBInstanceNotFound", "No DB instance listens on port %d.", port)
}
