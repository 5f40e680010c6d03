package pgcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Options say how Init creates a cluster.
type Options struct {
	Dir       string            // cluster directory: data in Dir/data, socket in Dir/run, log in Dir/postgres.log
	Port      int               // 0 = pick a free loopback port (and pick again if it is taken at Start)
	Version   int               // 0 = newest under /usr/lib/postgresql/*/bin
	Superuser string            // bootstrap superuser name, default "postgres"
	Settings  map[string]string // extra postgresql.conf settings, e.g. {"fsync": "off"}
	// Template is an initdb'd data directory (see TemplateDir) to copy instead of running
	// initdb. It is used only when its major version matches and, when it carries a
	// TemplateDir marker, its superuser matches; otherwise Init runs initdb.
	Template string
}

// Cluster is one PostgreSQL cluster living in Dir. Its fields are saved in Dir/cluster.json.
type Cluster struct {
	Dir       string `json:"dir"`
	DataDir   string `json:"data_dir"`
	SocketDir string `json:"socket_dir"`
	Port      int    `json:"port"`
	// AutoPort is true when Init picked Port; Start then moves to a new free port, once,
	// if another process took it.
	AutoPort  bool   `json:"auto_port"`
	Version   int    `json:"version"`
	Bin       string `json:"bin"`
	Superuser string `json:"superuser"`
	// OSUser runs the server and owns the files: "postgres" when the caller is root, else the caller.
	OSUser string `json:"os_user"`
}

const (
	stateFile   = "cluster.json"
	confFile    = "cairn.conf" // in the data dir, included from postgresql.conf
	logFile     = "postgres.log"
	maxSockPath = 107 // sun_path holds 108 bytes with the NUL
)

// Init creates a cluster in o.Dir (which must not hold one yet) without starting it.
func Init(ctx context.Context, o Options) (*Cluster, error) {
	c, acct, err := newCluster(o, "init cluster")
	if err != nil {
		return nil, err
	}
	dir := c.Dir
	if n := len(c.SocketDir) + len("/.s.PGSQL.65535"); n > maxSockPath {
		return nil, fmt.Errorf("init cluster in %s: socket path would be %d bytes, over the %d the kernel allows; use a shorter directory", dir, n, maxSockPath)
	}
	if _, err := os.Stat(c.DataDir); err == nil {
		return nil, fmt.Errorf("init cluster in %s: %s already exists (use Open)", dir, c.DataDir)
	}
	if c.Port == 0 {
		if c.Port, err = freePort(); err != nil {
			return nil, fmt.Errorf("init cluster in %s: %w", dir, err)
		}
	}
	for _, d := range []string{dir, c.SocketDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("init cluster: %w", err)
		}
		if err := os.Chmod(d, 0o755); err != nil {
			return nil, fmt.Errorf("init cluster: %w", err)
		}
		if err := acct.chown(d); err != nil {
			return nil, fmt.Errorf("init cluster: %w", err)
		}
	}
	if err := acct.canWrite(ctx, dir); err != nil {
		return nil, fmt.Errorf("init cluster: %w", err)
	}
	if usable(o.Template, c.Version, c.Superuser) {
		err = copyTemplate(ctx, acct, o.Template, c.DataDir)
	} else {
		err = initdb(ctx, acct, c.Bin, c.DataDir, c.Superuser)
	}
	if err != nil {
		return nil, fmt.Errorf("init cluster in %s: %w", dir, err)
	}
	if err := c.writeConfig(acct, o.Settings); err != nil {
		return nil, fmt.Errorf("init cluster in %s: %w", dir, err)
	}
	if err := c.save(acct); err != nil {
		return nil, fmt.Errorf("init cluster in %s: %w", dir, err)
	}
	return c, nil
}

// Open reads back a cluster that Init created in dir.
func Open(dir string) (*Cluster, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, fmt.Errorf("open cluster in %s: %w", dir, err)
	}
	var c Cluster
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("open cluster in %s: %s: %w", dir, stateFile, err)
	}
	return &c, nil
}

// SetSettings replaces the caller's postgresql.conf settings (Options.Settings) of a cluster, for
// its next start or reload: a cluster made by an older program gets what the current one sets.
func (c *Cluster) SetSettings(settings map[string]string) error {
	acct, err := currentAccount()
	if err != nil {
		return fmt.Errorf("set settings of cluster in %s: %w", c.Dir, err)
	}
	if err := c.writeConf(acct, settings); err != nil {
		return fmt.Errorf("set settings of cluster in %s: %w", c.Dir, err)
	}
	return nil
}

// save writes cluster.json.
func (c *Cluster) save(acct account) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", stateFile, err)
	}
	path := filepath.Join(c.Dir, stateFile)
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", stateFile, err)
	}
	return acct.chown(path)
}

// initdb creates a data directory with the cluster's defaults: UTF8, C.UTF-8 locale.
func initdb(ctx context.Context, acct account, bin, dataDir, superuser string) error {
	_, err := acct.run(ctx, filepath.Join(bin, "initdb"), "-D", dataDir, "-U", superuser,
		"-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync")
	return err
}

// copyTemplate copies a template data directory with cp -a and makes it the account's.
func copyTemplate(ctx context.Context, acct account, template, dataDir string) error {
	if out, err := exec.CommandContext(ctx, "cp", "-a", template, dataDir).CombinedOutput(); err != nil {
		return fmt.Errorf("copy template %s: %w: %s", template, err, strings.TrimSpace(string(out)))
	}
	if err := os.Remove(filepath.Join(dataDir, markerFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("copy template %s: %w", template, err)
	}
	if err := acct.chownTree(ctx, dataDir); err != nil {
		return fmt.Errorf("copy template %s: %w", template, err)
	}
	if err := os.Chmod(dataDir, 0o700); err != nil {
		return fmt.Errorf("copy template %s: %w", template, err)
	}
	return nil
}

// writeConfig writes pg_hba.conf and cairn.conf (included from postgresql.conf).
func (c *Cluster) writeConfig(acct account, settings map[string]string) error {
	hba := strings.Join([]string{
		"# Written by cairn pgcluster.",
		"local all all trust",
		"local replication all trust",
		"host all all 127.0.0.1/32 scram-sha-256",
		"host replication all 127.0.0.1/32 scram-sha-256",
		"",
	}, "\n")
	if err := writeOwned(acct, filepath.Join(c.DataDir, "pg_hba.conf"), hba); err != nil {
		return err
	}
	if err := c.writeConf(acct, settings); err != nil {
		return err
	}
	main := filepath.Join(c.DataDir, "postgresql.conf")
	b, err := os.ReadFile(main)
	if err != nil {
		return fmt.Errorf("read postgresql.conf: %w", err)
	}
	include := "include = '" + confFile + "'"
	if strings.Contains(string(b), include) {
		return nil
	}
	return writeOwned(acct, main, string(b)+"\n"+include+"\n")
}

// writeConf writes cairn.conf: the cluster's address, port and socket plus the caller's settings.
func (c *Cluster) writeConf(acct account, settings map[string]string) error {
	if settings == nil {
		settings = c.readSettings()
	}
	var b strings.Builder
	b.WriteString("# Written by cairn pgcluster from Options.Settings; settings after the marker are the caller's.\n")
	fmt.Fprintf(&b, "listen_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = %s\n", c.Port, confQuote(c.SocketDir))
	b.WriteString(settingsMarker + "\n")
	for _, k := range sortedKeys(settings) {
		fmt.Fprintf(&b, "%s = %s\n", k, confQuote(settings[k]))
	}
	return writeOwned(acct, filepath.Join(c.DataDir, confFile), b.String())
}

const settingsMarker = "# settings:"

// readSettings reads back the caller's settings from cairn.conf, so a port change keeps them.
func (c *Cluster) readSettings() map[string]string {
	b, err := os.ReadFile(filepath.Join(c.DataDir, confFile))
	if err != nil {
		return nil
	}
	_, rest, ok := strings.Cut(string(b), settingsMarker+"\n")
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, line := range strings.Split(rest, "\n") {
		k, v, ok := strings.Cut(line, " = ")
		if !ok {
			continue
		}
		v = strings.TrimSuffix(strings.TrimPrefix(v, "'"), "'")
		out[k] = strings.ReplaceAll(v, "''", "'")
	}
	return out
}

func confQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

func writeOwned(acct account, path, content string) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return acct.chown(path)
}

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

// newCluster resolves what every new cluster needs — its absolute directory, the server binaries of
// the asked version, the account it runs as — into a Cluster not yet on disk. what names the
// operation in errors ("init cluster", "init cluster from backup").
func newCluster(o Options, what string) (*Cluster, account, error) {
	if o.Dir == "" {
		return nil, account{}, errors.New(what + ": Options.Dir is empty")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, account{}, fmt.Errorf("%s in %s: %w", what, o.Dir, err)
	}
	bin, version, err := findBin(o.Version)
	if err != nil {
		return nil, account{}, fmt.Errorf("%s in %s: %w", what, dir, err)
	}
	acct, err := currentAccount()
	if err != nil {
		return nil, account{}, fmt.Errorf("%s in %s: %w", what, dir, err)
	}
	c := &Cluster{
		Dir: dir, DataDir: filepath.Join(dir, "data"), SocketDir: filepath.Join(dir, "run"),
		Port: o.Port, AutoPort: o.Port == 0, Version: version, Bin: bin,
		Superuser: o.Superuser, OSUser: acct.name,
	}
	if c.Superuser == "" {
		c.Superuser = "postgres"
	}
	return c, acct, nil
}
