package pgdata

import (
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// syncTree flushes every file of a directory tree, then the directories, to disk.
func syncTree(root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, path)
			return nil
		}
		return syncPath(path)
	})
	if err != nil {
		return err
	}
	for _, d := range slices.Backward(dirs) {
		if err := syncPath(d); err != nil {
			return err
		}
	}
	return nil
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
