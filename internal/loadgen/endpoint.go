package loadgen

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
)

// Endpoint asks RDS once for instance's endpoint — on RDS a DNS name made from the identifier, on
// the twin a port that follows the name — and returns a connection string for it, as user on db.
// The writer keeps using it whatever happens to the instance behind it, as an application keeps
// its configured host name. It uses TLS (sslmode=require), as RDS for PostgreSQL 15 requires by default
// (rds.force_ssl=1).
func Endpoint(ctx context.Context, rds *awsrds.Client, instance, db, user, password string) (string, error) {
	out, err := rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(instance)})
	if err != nil {
		return "", fmt.Errorf("endpoint of %s: %w", instance, err)
	}
	if len(out.DBInstances) == 0 || out.DBInstances[0].Endpoint == nil {
		return "", fmt.Errorf("endpoint of %s: the instance has no endpoint yet", instance)
	}
	ep := out.DBInstances[0].Endpoint
	return fmt.Sprintf("host=%s port=%d dbname=%s user=%s password=%s sslmode=require connect_timeout=5",
		pgcluster.QuoteValue(aws.ToString(ep.Address)), aws.ToInt32(ep.Port), pgcluster.QuoteValue(db),
		pgcluster.QuoteValue(user), pgcluster.QuoteValue(password)), nil
}
