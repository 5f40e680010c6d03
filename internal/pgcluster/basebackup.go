package pgcluster

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// BaseBackup writes a consistent physical copy of the running cluster to w as one tar stream
// (pg_basebackup -Ft -X fetch to standard output, as the superuser over the socket): the data
// directory with the WAL needed to make it consistent. The server keeps running. A cluster
// with extra tablespaces cannot be copied this way.
func (c *Cluster) BaseBackup(ctx context.Context, w io.Writer) error {
	acct, err := currentAccount()
	if err != nil {
		return fmt.Errorf("base backup of %s: %w", c.Dir, err)
	}
	cmd := acct.command(ctx, c.BinPath("pg_basebackup"), "-D", "-", "-Ft", "-X", "fetch",
		"--checkpoint=fast", "-h", c.SocketDir, "-p", fmt.Sprint(c.Port), "-U", c.Superuser, "-w")
	var stderr strings.Builder
	cmd.Stdout = w
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("base backup of %s: %w: %s", c.Dir, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}

// InitFromBackup creates a cluster in o.Dir, like Init, whose data directory is unpacked from a
// tar stream made by BaseBackup instead of being made by initdb; o.Template is ignored and
// o.Superuser must name the source cluster's superuser. The configuration (port, socket,
// pg_hba.conf, o.Settings) is written afresh. On first Start the server recovers from the
// backup's WAL, as after a crash, and is then consistent.
func InitFromBackup(ctx context.Context, o Options, r io.Reader) (*Cluster, error) {
	c, acct, err := newCluster(o, "init cluster from backup")
	if err != nil {
		return nil, err
	}
	dir := c.Dir
	if _, err := os.Stat(c.DataDir); err == nil {
		return nil, fmt.Errorf("init cluster from backup in %s: %s already exists (use Open)", dir, c.DataDir)
	}
	if c.Port == 0 {
		if c.Port, err = freePort(); err != nil {
			return nil, fmt.Errorf("init cluster from backup in %s: %w", dir, err)
		}
	}
	for _, d := range []string{dir, c.SocketDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("init cluster from backup: %w", err)
		}
		if err := acct.chown(d); err != nil {
			return nil, fmt.Errorf("init cluster from backup: %w", err)
		}
	}
	if err := untar(r, c.DataDir); err != nil {
		return nil, fmt.Errorf("init cluster from backup in %s: %w", dir, err)
	}
	if err := acct.chownTree(ctx, c.DataDir); err != nil {
		return nil, fmt.Errorf("init cluster from backup in %s: %w", dir, err)
	}
	if err := os.Chmod(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("init cluster from backup in %s: %w", dir, err)
	}
	if err := c.writeConfig(acct, o.Settings); err != nil {
		return nil, fmt.Errorf("init cluster from backup in %s: %w", dir, err)
	}
	if err := c.save(acct); err != nil {
		return nil, fmt.Errorf("init cluster from backup in %s: %w", dir, err)
	}
	return c, nil
}

// untar unpacks a pg_basebackup tar into dst, refusing entries that would land outside it.
func untar(r io.Reader, dst string) error {
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("unpack backup: %w", err)
	}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("unpack backup: %w", err)
		}
		name := filepath.Clean(h.Name)
		if name == "." {
			continue
		}
		if filepath.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("unpack backup: entry %q escapes the data directory", h.Name)
		}
		path := filepath.Join(dst, name)
		mode := os.FileMode(h.Mode & 0o777)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(path, mode|0o700); err != nil {
				return fmt.Errorf("unpack backup: %w", err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				return fmt.Errorf("unpack backup: %w", err)
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o600)
			if err != nil {
				return fmt.Errorf("unpack backup: %w", err)
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("unpack backup: %s: %w", h.Name, err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, path); err != nil {
				return fmt.Errorf("unpack backup: %w", err)
			}
		default:
			return fmt.Errorf("unpack backup: entry %q has unsupported type %q", h.Name, h.Typeflag)
		}
	}
}
