package runbooks

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// systemDirs are directories a `dir` parameter may never name nor lie under: the system's own.
var systemDirs = []string{"/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot", "/dev", "/proc", "/sys", "/run"}

// sharedDirs are directories a `dir` parameter may lie under but never be: others keep files there.
var sharedDirs = []string{"/var", "/var/tmp", "/var/lib", "/tmp", "/home", "/root", "/opt", "/srv", "/mnt", "/media"}

// checkDir refuses a `dir` parameter's value that is not an absolute path of a directory of its
// own, naming the fix.
func checkDir(p *Param, s string) error {
	example := "/var/tmp/cairn-" + p.Name
	if !path.IsAbs(s) {
		return fmt.Errorf("%q is not an absolute path: a relative one resolves against the directory cairn is started from, so a resume started elsewhere would look elsewhere — give -p %s=<full path>, such as %s", s, p.Name, example)
	}
	clean := path.Clean(s)
	for _, d := range systemDirs {
		if clean == d || strings.HasPrefix(clean, d+"/") {
			return fmt.Errorf("%q is in the system directory %s: cairn writes the run's files there — give -p %s=<a directory of its own>, such as %s", s, d, p.Name, example)
		}
	}
	if clean == "/" || slices.Contains(sharedDirs, clean) {
		return fmt.Errorf("%q is a directory others keep files in: cairn writes the run's files there — give -p %s=<a directory of its own>, such as %s", s, p.Name, example)
	}
	return nil
}
