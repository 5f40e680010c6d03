package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// The demo seed's names.
const (
	DemoInstance    = "app-db"
	DemoKeyAlias    = "alias/cairn-demo"
	DemoSecret      = "cairn/app-db/master"
	DemoMaster      = "cairn_admin"
	DemoDatabase    = "app"
	DemoOptionGroup = "app-postgres15-options"
	// DemoParameterGroup is app-db's own DB parameter group (empty: the defaults).
	DemoParameterGroup = "app-postgres15"
	demoRowsDefault    = 300000
	// demoCreatePassword is what CreateDBInstance is called with (AWS refuses " @ / and space there);
	// the seed then rotates to DemoPassword over SQL, as Secrets Manager rotation does.
	demoCreatePassword = "Cairn-demo-initial-1"
)

// DemoPassword is the demo master password: it holds ", ', \ and a space, so runbooks that quote it
// badly fail in rehearsal rather than in the window.
const DemoPassword = `c"a'i\rn demo-7`

// AWSConfig is an aws.Config for clients of the twin: region, dummy credentials; set BaseEndpoint on
// each client to Endpoint().
func AWSConfig() aws.Config {
	return aws.Config{
		Region: awswire.Region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: DummyAccessKeyID, SecretAccessKey: DummySecretAccessKey, Source: "cairn-twin"}, nil
		}),
	}
}

// seedDemo creates the demo resources through the twin's own API, once per state directory.
func (s *Server) seedDemo(ctx context.Context) error {
	cfg := AWSConfig()
	endpoint := s.Endpoint()
	rdsc := awsrds.NewFromConfig(cfg, func(o *awsrds.Options) { o.BaseEndpoint = &endpoint })
	kmsc := awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.BaseEndpoint = &endpoint })

	if _, err := s.kms.Resolve(DemoKeyAlias); err != nil {
		key, err := kmsc.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("cairn demo key")})
		if err != nil {
			return fmt.Errorf("create demo key: %w", err)
		}
		if _, err := kmsc.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(DemoKeyAlias), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
			return fmt.Errorf("create demo key alias: %w", err)
		}
	}
	if _, err := s.rds.Lookup(DemoInstance); err == nil {
		return nil // seeded before
	}
	if _, err := rdsc.CreateOptionGroup(ctx, &awsrds.CreateOptionGroupInput{OptionGroupName: aws.String(DemoOptionGroup),
		EngineName: aws.String("postgres"), MajorEngineVersion: aws.String("15"), OptionGroupDescription: aws.String("options of the demo application")}); err != nil {
		var e *rdstypes.OptionGroupAlreadyExistsFault
		if !errors.As(err, &e) {
			return fmt.Errorf("create demo option group: %w", err)
		}
	}
	if _, err := rdsc.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String(DemoParameterGroup),
		DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("parameters of the demo application")}); err != nil {
		var e *rdstypes.DBParameterGroupAlreadyExistsFault
		if !errors.As(err, &e) {
			return fmt.Errorf("create demo parameter group: %w", err)
		}
	}
	// The demo instance's operational settings are not AWS's defaults, so a rehearsal shows them
	// copied to the rebuilt instance.
	_, err := rdsc.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(DemoInstance), Engine: aws.String("postgres"), EngineVersion: aws.String("15.18"),
		DBInstanceClass: aws.String("db.t3.medium"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String(DemoMaster), MasterUserPassword: aws.String(demoCreatePassword),
		DBName: aws.String(DemoDatabase), VpcSecurityGroupIds: []string{"sg-0cairn0app000000"},
		DBSubnetGroupName: aws.String("app-private"), DBParameterGroupName: aws.String(DemoParameterGroup),
		CopyTagsToSnapshot: aws.Bool(true), BackupRetentionPeriod: aws.Int32(7), OptionGroupName: aws.String(DemoOptionGroup),
		PreferredBackupWindow: aws.String("01:30-02:00"), PreferredMaintenanceWindow: aws.String("sat:22:00-sat:22:30"),
		EnableIAMDatabaseAuthentication: aws.Bool(true), EnablePerformanceInsights: aws.Bool(true), PerformanceInsightsRetentionPeriod: aws.Int32(7),
		EnableCloudwatchLogsExports: []string{"postgresql"}, MaxAllocatedStorage: aws.Int32(100),
		Tags: []rdstypes.Tag{{Key: aws.String("app"), Value: aws.String("shop")}, {Key: aws.String("env"), Value: aws.String("demo")}},
	})
	if err != nil {
		return fmt.Errorf("create %s: %w", DemoInstance, err)
	}
	waiter := awsrds.NewDBInstanceAvailableWaiter(rdsc, func(o *awsrds.DBInstanceAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, 2*time.Second
	})
	out, err := waiter.WaitForOutput(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(DemoInstance)}, 10*time.Minute)
	if err != nil {
		return fmt.Errorf("wait for %s: %w", DemoInstance, err)
	}
	port := int(*out.DBInstances[0].Endpoint.Port)
	rows := s.o.Rows
	if rows <= 0 {
		rows = demoRowsDefault
	}
	if err := loadDemo(ctx, port, s.tls.CABundle, rows); err != nil {
		return err
	}
	secret, err := json.Marshal(map[string]any{"username": DemoMaster, "password": DemoPassword, "host": "127.0.0.1",
		"port": port, "dbname": DemoDatabase, "engine": "postgres", "dbInstanceIdentifier": DemoInstance})
	if err != nil {
		return fmt.Errorf("demo secret: %w", err)
	}
	if _, err := s.secrets.CreateSecret(DemoSecret, string(secret), "Master credentials of the demo instance app-db"); err != nil {
		var e *awswire.Error
		if !errors.As(err, &e) || e.Code != "ResourceExistsException" {
			return fmt.Errorf("create demo secret: %w", err)
		}
	}
	return nil
}

// connectMaster logs in as the demo's master user over TLS verified against the twin's CA, as a
// client of RDS does (rds.force_ssl is 1).
func connectMaster(ctx context.Context, port int, caBundle, db, password string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s user=%s password=%s sslmode=verify-full sslrootcert=%s",
		port, db, DemoMaster, pgcluster.QuoteValue(password), pgcluster.QuoteValue(caBundle)))
	if err != nil {
		return nil, fmt.Errorf("connect to %s as %s: %w", db, DemoMaster, err)
	}
	return conn, nil
}

// loadDemo builds a small shop application as the master user, the way one is built on RDS.
func loadDemo(ctx context.Context, port int, caBundle string, rows int) error {
	conn, err := connectMaster(ctx, port, caBundle, DemoDatabase, demoCreatePassword)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	customers := max(rows/10, 1)
	orders := max(rows*4/10, 1)
	items := max(rows-customers-orders, 1)
	app := []string{
		"CREATE ROLE app_owner NOLOGIN",
		"CREATE ROLE app_rw LOGIN PASSWORD 'app-rw-demo'",
		"CREATE ROLE app_ro LOGIN PASSWORD 'app-ro-demo'",
		"CREATE ROLE reporting NOLOGIN",
		"GRANT app_owner TO " + DemoMaster,
		"CREATE EXTENSION IF NOT EXISTS pgcrypto",
		"CREATE EXTENSION IF NOT EXISTS citext",
		"CREATE SCHEMA shop AUTHORIZATION app_owner",
		"CREATE SCHEMA audit AUTHORIZATION app_owner",
		"SET ROLE app_owner",
		`CREATE TABLE shop.customers (id bigserial PRIMARY KEY, email citext UNIQUE NOT NULL, name text NOT NULL,
			api_token bytea NOT NULL DEFAULT gen_random_bytes(16), created_at timestamptz NOT NULL DEFAULT now())`,
		`CREATE TABLE shop.orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES shop.customers,
			status text NOT NULL CHECK (status IN ('new','paid','shipped','cancelled')), placed_at timestamptz NOT NULL)`,
		`CREATE TABLE shop.order_items (order_id bigint NOT NULL REFERENCES shop.orders, line int NOT NULL,
			sku text NOT NULL, qty int NOT NULL, price_cents int NOT NULL, PRIMARY KEY (order_id, line))`,
		"CREATE INDEX ON shop.orders (customer_id)",
		"CREATE SEQUENCE shop.invoice_no_seq START 100000",
		`CREATE TABLE audit.events (id bigserial PRIMARY KEY, at timestamptz NOT NULL DEFAULT now(), actor text NOT NULL, what text NOT NULL)`,
		`CREATE VIEW shop.order_totals AS SELECT o.id, o.customer_id, o.status, sum(i.qty * i.price_cents) AS total_cents
			FROM shop.orders o JOIN shop.order_items i ON i.order_id = o.id GROUP BY o.id`,
		"ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT ON TABLES TO app_ro, reporting",
		"ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO app_rw",
		"ALTER DEFAULT PRIVILEGES IN SCHEMA shop GRANT USAGE, SELECT ON SEQUENCES TO app_rw",
		"GRANT USAGE ON SCHEMA shop TO app_rw, app_ro, reporting",
		"GRANT USAGE ON SCHEMA audit TO app_rw",
		"GRANT SELECT ON ALL TABLES IN SCHEMA shop TO app_ro, reporting",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA shop TO app_rw",
		"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA shop TO app_rw",
		"GRANT INSERT ON audit.events TO app_rw",
		"GRANT USAGE ON SEQUENCE audit.events_id_seq TO app_rw",
		fmt.Sprintf(`INSERT INTO shop.customers (email, name, created_at)
			SELECT 'customer' || g || '@example.com', 'Customer ' || g, now() - g * interval '1 minute' FROM generate_series(1, %d) g`, customers),
		fmt.Sprintf(`INSERT INTO shop.orders (customer_id, status, placed_at)
			SELECT 1 + (g %% %d), (ARRAY['new','paid','shipped','cancelled'])[1 + g %% 4], now() - g * interval '10 seconds'
			FROM generate_series(1, %d) g`, customers, orders),
		fmt.Sprintf(`INSERT INTO shop.order_items (order_id, line, sku, qty, price_cents)
			SELECT 1 + (g %% %d), 1 + g / %d, 'SKU-' || (g %% 500), 1 + g %% 5, 100 + (g * 7) %% 9900
			FROM generate_series(0, %d - 1) g`, orders, orders, items),
		"INSERT INTO audit.events (actor, what) VALUES ('seed', 'demo data loaded')",
		"RESET ROLE",
		"CREATE DATABASE analytics OWNER " + DemoMaster,
		"ALTER ROLE " + DemoMaster + " PASSWORD " + quoteLiteral(DemoPassword),
	}
	for _, q := range app {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("seed %s: %s: %w", DemoDatabase, firstLine(q), err)
		}
	}
	aconn, err := connectMaster(ctx, port, caBundle, "analytics", DemoPassword)
	if err != nil {
		return err
	}
	defer aconn.Close(context.WithoutCancel(ctx))
	analytics := []string{
		"CREATE SCHEMA reports",
		"CREATE TABLE reports.daily_sales (day date PRIMARY KEY, orders int NOT NULL, revenue_cents bigint NOT NULL)",
		"INSERT INTO reports.daily_sales SELECT current_date - g, 100 + g % 37, 100000 + g * 311 FROM generate_series(1, 365) g",
		"GRANT USAGE ON SCHEMA reports TO reporting, app_ro",
		"GRANT SELECT ON ALL TABLES IN SCHEMA reports TO reporting, app_ro",
		"ALTER DEFAULT PRIVILEGES IN SCHEMA reports GRANT SELECT ON TABLES TO reporting",
	}
	for _, q := range analytics {
		if _, err := aconn.Exec(ctx, q); err != nil {
			return fmt.Errorf("seed analytics: %s: %w", firstLine(q), err)
		}
	}
	return nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
