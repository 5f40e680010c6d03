// Package rds is the twin's Amazon RDS for PostgreSQL on the Query protocol (API 2014-10-31): DB
// instances and DB snapshots, each instance a real PostgreSQL cluster on its own loopback port.
//
// Like RDS, a cluster's superuser is rdsadmin, and the master user is not a superuser: it has
// CREATEROLE and CREATEDB and is a member of rds_superuser; it logs in over TCP on 127.0.0.1 with a
// SCRAM password. A snapshot is a pg_basebackup of the running cluster (consistent, no downtime),
// stored as a tar; an encrypted snapshot is stored sealed (AES-256-GCM) under a data key from the twin's
// KMS, whose encrypted copy sits next to it. Statuses move as on AWS, at the Pace the twin was started
// with, and background work in flight is resumed when the twin restarts. Each identifier has an
// endpoint of its own that follows the name (endpoints.go); DB parameter groups, reboots, deferred
// modifications, automated snapshots and point-in-time restores follow RDS's rules, and the windows
// follow a twin clock that tests move forward (clock.go).
//
// It never touches anything outside its state directory, and a running instance's files are not
// encrypted (only snapshots are).
package rds

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
	"github.com/cairn-runbooks/cairn/internal/twin/kms"
	"github.com/cairn-runbooks/cairn/internal/twin/statefile"
)

// Namespace is the XML namespace of RDS answers.
const Namespace = "http://rds.amazonaws.com/doc/2014-10-31/"

const (
	defaultVPC = "vpc-0cairn0twin000000"
	// DefaultSecurityGroup is the VPC's default security group, which AWS gives an instance created or
	// restored without VpcSecurityGroupIds.
	DefaultSecurityGroup = "sg-0cairn0default00"
	defaultAZ            = "us-east-1a"
)

// Options configure the service.
type Options struct {
	// Dir holds rds.json, clusters/ and snapshots/.
	Dir  string
	KMS  *kms.Service
	Pace Pace
	// Settings are extra postgresql.conf settings for every cluster (fsync=off for tests, say).
	Settings map[string]string
	// Preload are server libraries (absolute paths) every instance loads whatever its parameter group
	// says, as RDS's own: the twin's rds_allowances hook.
	Preload []string
	// RoleExists says whether an IAM role ARN exists (AddRoleToDBInstance refuses others); nil accepts any.
	RoleExists func(arn string) bool
}

// Service is the twin's RDS. Its methods are safe for concurrent use.
type Service struct {
	o    Options
	file statefile.File
	now  func() time.Time

	bg     context.Context
	stopBG context.CancelFunc
	wg     sync.WaitGroup
	tmplMu sync.Mutex

	// version is the installed PostgreSQL's ("15.20"): every instance's EngineVersion.
	version string
	params  map[string]paramDef // every parameter a DB parameter group can hold
	offset  atomic.Int64        // the clock's offset, see clock.go

	// endpoints are the identifiers' listeners (see endpoints.go); epWG waits for them.
	endpoints map[string]*nameEndpoint
	epWG      sync.WaitGroup

	mu       sync.Mutex
	st       state
	clusters map[string]*pgcluster.Cluster // by instance ResourceID
}

// Open loads the RDS state kept in o.Dir, starts the clusters of existing instances and resumes work
// left in flight by a previous run.
func Open(ctx context.Context, o Options) (*Service, error) {
	s := &Service{o: o, file: statefile.ForService(o.Dir, "rds"), clusters: map[string]*pgcluster.Cluster{}, endpoints: map[string]*nameEndpoint{}}
	s.now = s.clockNow
	var err error
	if err = s.file.Load(&s.st); err != nil {
		return nil, err
	}
	s.offset.Store(int64(s.st.Clock))
	if s.st.Instances == nil {
		s.st.Instances = map[string]*Instance{}
	}
	if s.st.Snapshots == nil {
		s.st.Snapshots = map[string]*Snapshot{}
	}
	if s.version, err = serverVersion(ctx); err != nil {
		return nil, fmt.Errorf("open rds: %w", err)
	}
	if s.params, err = loadParamDefs(ctx, s.settings()); err != nil {
		return nil, fmt.Errorf("open rds: %w", err)
	}
	if d := s.params["shared_preload_libraries"]; d.Name != "" {
		d.Default = "pg_stat_statements" // the twin's own libraries are its business, as RDS's are
		s.params[d.Name] = d
	}
	if s.st.ParamGroups == nil {
		s.st.ParamGroups = map[string]*ParamGroup{}
	}
	for _, i := range s.st.Instances {
		i.EngineVersion = s.version // what the cluster runs, whatever a twin of before said
		if i.NamePort, err = s.endpointLocked(i.ID); err != nil {
			s.closeEndpoints()
			return nil, fmt.Errorf("open rds: %w", err)
		}
		if i.Ops.OptionGroup == "" {
			// kept by a twin from before the operational settings: AWS's defaults
			i.Ops = defaultOps(i.EngineVersion)
		}
	}
	s.bg, s.stopBG = context.WithCancel(context.WithoutCancel(ctx))
	if err := s.resume(ctx); err != nil {
		s.stopBG()
		return nil, err
	}
	s.goJob(s.runClock)
	return s, nil
}

// Close stops background work and every cluster; the state on disk lets Open pick up from here.
func (s *Service) Close(ctx context.Context) error {
	s.stopBG()
	s.closeEndpoints()
	s.wg.Wait()
	s.mu.Lock()
	clusters := make([]*pgcluster.Cluster, 0, len(s.clusters))
	for _, c := range s.clusters {
		clusters = append(clusters, c)
	}
	s.mu.Unlock()
	var first error
	for _, c := range clusters {
		if err := c.Stop(ctx); err != nil && first == nil {
			first = fmt.Errorf("stop rds clusters: %w", err)
		}
	}
	return first
}

// saveLocked writes the state; callers hold mu.
func (s *Service) saveLocked() error { return s.file.Save(&s.st) }

// update runs f under the lock and saves; for background jobs, which can only log a failed save.
func (s *Service) update(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	_ = s.saveLocked()
}

// ServeQuery answers one RDS Query request.
func (s *Service) ServeQuery(w http.ResponseWriter, action string, form awswire.Form) {
	var out any
	var err error
	switch action {
	case "CreateDBInstance":
		out, err = s.createInstance(form)
	case "DescribeDBInstances":
		out, err = s.describeInstances(form)
	case "ModifyDBInstance":
		out, err = s.modifyInstance(form)
	case "DeleteDBInstance":
		out, err = s.deleteInstance(form)
	case "RestoreDBInstanceFromDBSnapshot":
		out, err = s.restoreInstance(form)
	case "CreateDBSnapshot":
		out, err = s.createSnapshot(form)
	case "DescribeDBSnapshots":
		out, err = s.describeSnapshots(form)
	case "CopyDBSnapshot":
		out, err = s.copySnapshot(form)
	case "DeleteDBSnapshot":
		out, err = s.deleteSnapshot(form)
	case "AddRoleToDBInstance":
		out, err = s.addRole(form)
	case "RemoveRoleFromDBInstance":
		out, err = s.removeRole(form)
	case "CreateOptionGroup":
		out, err = s.createOptionGroup(form)
	case "DescribeOptionGroups":
		out, err = s.describeOptionGroups(form)
	case "DescribeEvents":
		out, err = s.describeEvents(form)
	case "CreateDBParameterGroup":
		out, err = s.createParamGroup(form)
	case "CopyDBParameterGroup":
		out, err = s.copyParamGroup(form)
	case "ModifyDBParameterGroup":
		out, err = s.modifyParamGroup(form)
	case "DeleteDBParameterGroup":
		out, err = s.deleteParamGroup(form)
	case "DescribeDBParameterGroups":
		out, err = s.describeParamGroups(form)
	case "DescribeDBParameters":
		out, err = s.describeParameters(form)
	case "RebootDBInstance":
		out, err = s.rebootInstance(form)
	case "StopDBInstance":
		out, err = s.stopInstance(form)
	case "StartDBInstance":
		out, err = s.startInstance(form)
	case "ListTagsForResource":
		out, err = s.listTags(form)
	case "AddTagsToResource":
		out, err = s.addTags(form)
	case "RemoveTagsFromResource":
		out, err = s.removeTags(form)
	case "DescribeDBSubnetGroups":
		out, err = s.describeSubnetGroups(form)
	case "DescribeDBEngineVersions":
		out, err = s.describeEngineVersions(form)
	case "RestoreDBInstanceToPointInTime":
		out, err = s.restoreToPointInTime(form)
	default:
		err = awswire.Errorf("InvalidAction", "The twin's RDS does not implement %s", action)
	}
	if err != nil {
		awswire.WriteQueryError(w, err)
		return
	}
	awswire.WriteQueryResult(w, action, Namespace, out)
}

// Endpoint is where an instance's cluster listens, for the twin's own use (the demo seed).
type Endpoint struct {
	Port           int
	MasterUsername string
	Status         string
}

// Lookup returns a visible instance's endpoint by identifier.
func (s *Service) Lookup(id string) (Endpoint, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i, err := s.instanceLocked(id)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Port: i.Port, MasterUsername: i.MasterUsername, Status: i.Status}, nil
}

// instanceLocked finds a visible instance by identifier or ARN; identifiers are not case-sensitive
// (RDS keeps them lowercase).
func (s *Service) instanceLocked(id string) (*Instance, error) {
	id = strings.ToLower(id)
	now := s.now()
	for _, i := range s.st.Instances {
		if (i.ID == id || i.ARN() == id) && !now.Before(i.HiddenUntil) {
			return i, nil
		}
	}
	return nil, awswire.NotFoundf("DBInstanceNotFound", "DBInstance %s not found.", id)
}

// idTakenLocked reports whether an instance (visible or not) has the identifier.
func (s *Service) idTakenLocked(id string) bool {
	for _, i := range s.st.Instances {
		if i.ID == id {
			return true
		}
	}
	return false
}

func (s *Service) snapshotLocked(id string) (*Snapshot, error) {
	id = strings.ToLower(id)
	for _, sn := range s.st.Snapshots {
		if sn.ID == id || sn.ARN() == id {
			return sn, nil
		}
	}
	return nil, awswire.NotFoundf("DBSnapshotNotFound", "DBSnapshot not found: %s", id)
}

func (s *Service) snapshotDir(resourceID string) string {
	return filepath.Join(s.o.Dir, "snapshots", resourceID)
}

// sleep waits n steps of the pace, or until the twin closes.
func (s *Service) sleep(ctx context.Context, n int) bool {
	return s.sleepUntil(ctx, s.now().Add(time.Duration(n)*s.o.Pace.Step))
}

func (s *Service) sleepUntil(ctx context.Context, t time.Time) bool {
	d := t.Sub(s.now())
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}

// goJob runs background work that Close waits for.
func (s *Service) goJob(f func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.bg)
	}()
}
