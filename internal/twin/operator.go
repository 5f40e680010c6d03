package twin

import (
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/twin/rds"
)

// SuperuserConnString is the connection string, as rdsadmin over its Unix socket, of the cluster behind
// the instance with DbiResourceId resourceID, in the twin whose state is in stateDir. Only the twin's
// operator can do this (on RDS nobody can): tests use it to make an instance hold what RDS would not let
// its master create. An instance's endpoint is not its cluster's port (endpoints follow names).
func SuperuserConnString(stateDir, resourceID, db string) (string, error) {
	c, err := pgcluster.Open(rds.ClusterDir(stateDir, resourceID))
	if err != nil {
		return "", fmt.Errorf("the cluster of %s: %w", resourceID, err)
	}
	return c.ConnString(db, rds.AdminUser), nil
}
