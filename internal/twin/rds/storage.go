package rds

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/twin/sealed"
)

// A snapshot's directory holds base.tar (unencrypted) or base.tar.sealed and datakey (encrypted: the
// data key as a KMS ciphertext blob; the plaintext key is never written).
const (
	plainFile  = "base.tar"
	sealedFile = "base.tar.sealed"
	keyFile    = "datakey"
)

// writeSnapshot fills a snapshot's files with the tar stream fill writes, sealing it when the snapshot
// is encrypted. The file appears under its final name only when complete.
func (s *Service) writeSnapshot(ctx context.Context, sc Snapshot, fill func(context.Context, io.Writer) error) (err error) {
	dir := s.snapshotDir(sc.ResourceID)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
	}
	name := plainFile
	if sc.Encrypted {
		name = sealedFile
	}
	partial := filepath.Join(dir, name+".partial")
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	var w io.Writer = bw
	var sw *sealed.Writer
	if sc.Encrypted {
		plain, blob, _, err := s.o.KMS.GenerateDataKey(sc.KmsKeyID, 32, nil)
		if err != nil {
			return fmt.Errorf("write snapshot %s: data key: %w", sc.ID, err)
		}
		if err := os.WriteFile(filepath.Join(dir, keyFile), blob, 0o600); err != nil {
			return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
		}
		if sw, err = sealed.NewWriter(bw, plain); err != nil {
			return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
		}
		w = sw
	}
	if err := fill(ctx, w); err != nil {
		return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
	}
	if sw != nil {
		if err := sw.Close(); err != nil {
			return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return fmt.Errorf("write snapshot %s: %w", sc.ID, cerr)
	}
	if err := os.Rename(partial, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
	}
	if err := fsutil.SyncDir(dir); err != nil {
		return fmt.Errorf("write snapshot %s: %w", sc.ID, err)
	}
	return nil
}

// readSnapshot writes a snapshot's plaintext tar stream to w, opening it with its data key when sealed.
func (s *Service) readSnapshot(sc Snapshot, w io.Writer) error {
	dir := s.snapshotDir(sc.ResourceID)
	name := plainFile
	if sc.Encrypted {
		name = sealedFile
	}
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return fmt.Errorf("read snapshot %s: %w", sc.ID, err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if sc.Encrypted {
		blob, err := os.ReadFile(filepath.Join(dir, keyFile))
		if err != nil {
			return fmt.Errorf("read snapshot %s: %w", sc.ID, err)
		}
		key, _, err := s.o.KMS.Decrypt(blob, "", nil)
		if err != nil {
			return fmt.Errorf("read snapshot %s: data key: %w", sc.ID, err)
		}
		if r, err = sealed.NewReader(r, key); err != nil {
			return fmt.Errorf("read snapshot %s: %w", sc.ID, err)
		}
	}
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("read snapshot %s: %w", sc.ID, err)
	}
	return nil
}

func removeAll(dir string) { _ = os.RemoveAll(dir) }
