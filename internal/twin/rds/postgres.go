package rds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
)

// AdminUser is the superuser that owns every cluster, as on RDS.
const AdminUser = "rdsadmin"

// clusterDir is short on purpose: the socket path under it must fit in 107 bytes.
func (s *Service) clusterDir(resourceID string) string { return ClusterDir(s.o.Dir, resourceID) }

// ClusterDir is where, in the twin's state directory stateDir, the cluster of the instance with
// DbiResourceId resourceID lives.
func ClusterDir(stateDir, resourceID string) string {
	return filepath.Join(stateDir, "pg", strings.ToLower(strings.TrimPrefix(resourceID, "db-"))[:10])
}

func (s *Service) settings() map[string]string {
	// As RDS's default parameter group: pg_stat_statements preloaded, and rds.force_ssl 1 (the
	// rds_allowances hook refuses TCP connections without TLS).
	out := map[string]string{"wal_keep_size": "256MB", "max_connections": "50", "shared_buffers": "32MB",
		"shared_preload_libraries": s.preload("pg_stat_statements")}
	// RDS's own parameters at their defaults: so SHOW finds them, and ALTER SYSTEM (a parameter
	// group's value) may set them.
	for _, d := range rdsParams {
		out[d.Name] = d.Default
	}
	maps.Copy(out, s.o.Settings)
	return out
}

// preload adds the libraries every instance loads to a shared_preload_libraries value.
func (s *Service) preload(libs string) string {
	return strings.Join(slices.DeleteFunc(append([]string{libs}, s.o.Preload...), func(l string) bool { return l == "" }), ",")
}

// template returns a data directory initdb'd with rdsadmin as superuser, made once per state directory,
// that new clusters are copied from (much faster than initdb).
func (s *Service) template(ctx context.Context) (string, error) {
	s.tmplMu.Lock()
	defer s.tmplMu.Unlock()
	dir := filepath.Join(s.o.Dir, "pg", "template")
	data := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(dir, "cluster.json")); err == nil {
		return data, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("cluster template: %w", err)
	}
	if _, err := pgcluster.Init(ctx, pgcluster.Options{Dir: dir, Superuser: AdminUser}); err != nil {
		return "", fmt.Errorf("cluster template: %w", err)
	}
	return data, nil
}

// provision makes and starts an instance's cluster with RDS's roles: rdsadmin the superuser,
// rds_superuser, and the master user (CREATEROLE, CREATEDB, member of rds_superuser, SCRAM password).
func (s *Service) provision(ctx context.Context, inst Instance) (*pgcluster.Cluster, error) {
	dir := s.clusterDir(inst.ResourceID)
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("provision %s: %w", inst.ID, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("provision %s: %w", inst.ID, err)
	}
	tmpl, err := s.template(ctx)
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", inst.ID, err)
	}
	c, err := pgcluster.Init(ctx, pgcluster.Options{Dir: dir, Superuser: AdminUser, Settings: s.settings(), Template: tmpl})
	if err != nil {
		return nil, fmt.Errorf("provision %s: %w", inst.ID, err)
	}
	if err := c.Start(ctx); err != nil {
		return nil, fmt.Errorf("provision %s: %w", inst.ID, err)
	}
	conn, err := pgx.Connect(ctx, c.ConnString("postgres", AdminUser))
	if err != nil {
		return nil, fmt.Errorf("provision %s: connect as %s: %w", inst.ID, AdminUser, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	master := pgx.Identifier{inst.MasterUsername}.Sanitize()
	stmts := []string{
		"CREATE ROLE rds_superuser NOLOGIN",
		"CREATE ROLE rds_replication NOLOGIN",
		"CREATE ROLE rds_password NOLOGIN",
		"CREATE ROLE rds_iam NOLOGIN", // members log in with an IAM token, not a password
		"CREATE ROLE rds_ad NOLOGIN",  // members log in with Kerberos (Active Directory)
		"GRANT pg_monitor, pg_signal_backend, pg_read_all_settings, pg_read_all_stats, pg_stat_scan_tables, pg_checkpoint TO rds_superuser WITH ADMIN OPTION",
		"GRANT rds_replication, rds_password, rds_iam, rds_ad TO rds_superuser WITH ADMIN OPTION",
		fmt.Sprintf("CREATE ROLE %s LOGIN CREATEROLE CREATEDB PASSWORD %s IN ROLE rds_superuser", master, quoteLiteral(inst.MasterPassword)),
		fmt.Sprintf("GRANT rds_superuser TO %s WITH ADMIN OPTION", master),
		// As on RDS: postgres and template1 belong to the master user, template0 and the rdsadmin
		// database to rdsadmin, and the master cannot connect to rdsadmin (ACL rdsadmin=CTc/rdsadmin).
		"ALTER DATABASE postgres OWNER TO " + master,
		"ALTER DATABASE template1 OWNER TO " + master,
		"CREATE DATABASE rdsadmin OWNER " + AdminUser,
		"REVOKE ALL ON DATABASE rdsadmin FROM PUBLIC",
	}
	if inst.DBName != "" {
		stmts = append(stmts, fmt.Sprintf("CREATE DATABASE %s OWNER %s", pgx.Identifier{inst.DBName}.Sanitize(), master))
	}
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			if strings.Contains(q, "PASSWORD") {
				q = "CREATE ROLE <master> …"
			}
			return nil, fmt.Errorf("provision %s: %s: %w", inst.ID, q, err)
		}
	}
	return c, nil
}

func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// restoreCluster makes and starts a new cluster from a snapshot's files.
func (s *Service) restoreCluster(ctx context.Context, inst Instance, sc Snapshot) (*pgcluster.Cluster, error) {
	return s.clusterFrom(ctx, inst, sc.ID, func(w io.Writer) error { return s.readSnapshot(sc, w) })
}

// clusterFrom makes and starts a new cluster from the tar stream fill writes (a snapshot's, or a
// running cluster's base backup for a point-in-time restore).
func (s *Service) clusterFrom(ctx context.Context, inst Instance, from string, fill func(io.Writer) error) (*pgcluster.Cluster, error) {
	dir := s.clusterDir(inst.ResourceID)
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("restore %s: %w", inst.ID, err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("restore %s: %w", inst.ID, err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(fill(pw)) }()
	c, err := pgcluster.InitFromBackup(ctx, pgcluster.Options{Dir: dir, Superuser: AdminUser, Settings: s.settings()}, pr)
	pr.CloseWithError(errors.New("restore stopped"))
	if err != nil {
		return nil, fmt.Errorf("restore %s from %s: %w", inst.ID, from, err)
	}
	if err := c.Start(ctx); err != nil {
		return nil, fmt.Errorf("restore %s from %s: %w", inst.ID, from, err)
	}
	return c, nil
}

// resume starts the clusters of provisioned instances and restarts the jobs left in flight.
func (s *Service) resume(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for res, i := range s.st.Instances {
		if !i.Provisioned {
			continue
		}
		c, err := pgcluster.Open(s.clusterDir(res))
		if err == nil {
			// A cluster made by an older twin gets today's settings: the rds_allowances hook, rds.force_ssl.
			err = c.SetSettings(s.settings())
		}
		if err == nil && i.Status != StatusStopped {
			err = c.Start(ctx)
		}
		if err != nil {
			i.Status, i.Job, i.StatusInfo = StatusFailed, jobNone, fmt.Sprintf("start after twin restart: %v", err)
			continue
		}
		s.clusters[res] = c
		i.Port = c.Port
	}
	for res, i := range s.st.Instances {
		switch i.Job {
		case jobCreate:
			s.goJob(func(ctx context.Context) { s.runCreate(ctx, res) })
		case jobRestore:
			s.goJob(func(ctx context.Context) { s.runRestore(ctx, res) })
		case jobDelete:
			s.goJob(func(ctx context.Context) { s.runDelete(ctx, res) })
		case jobRename:
			s.goJob(func(ctx context.Context) { s.runRename(ctx, res) })
		case jobModify:
			s.goJob(func(ctx context.Context) { s.runModify(ctx, res) })
		case jobReboot:
			s.goJob(func(ctx context.Context) { s.runReboot(ctx, res) })
		case jobStop:
			s.goJob(func(ctx context.Context) { s.runStop(ctx, res) })
		case jobStart:
			s.goJob(func(ctx context.Context) { s.runStart(ctx, res) })
		}
	}
	for res, sn := range s.st.Snapshots {
		switch sn.Job {
		case jobSnapshot:
			if owner := s.st.Instances[sn.DbiResourceID]; owner != nil && owner.FinalSnapshot == res {
				continue // the delete job takes it
			}
			s.goJob(func(ctx context.Context) { s.runSnapshot(ctx, res) })
		case jobCopy:
			s.goJob(func(ctx context.Context) { s.runCopy(ctx, res) })
		}
	}
	return s.saveLocked()
}
