package host_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/host"
)

// A config-file value, key, section or path holding a line break would write lines of its own (an
// extra key pgBackRest would obey): Check says Blocked naming it, Apply refuses, nothing is written.
func TestConfigFileRefusesLineBreaks(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pgbackrest.conf")
	tests := []struct {
		name          string
		path, section string
		key, value    string
	}{
		{"value with LF", path, "global", "repo1-path", "/x\nrepo1-host=evil"},
		{"value with CR", path, "global", "repo1-path", "/x\rrepo1-host=evil"},
		{"section with LF", path, "main]\nrepo1-host=evil\n[main", "pg1-path", "/data"},
		{"section with brackets", path, "main][x", "pg1-path", "/data"},
		{"key with LF", path, "global", "repo1-path=/x\nrepo1-host", "evil"},
		{"path with LF", path + "\n", "global", "repo1-path", "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &host.ConfigFile{Path: ref.MustParse(tt.path), Sections: []*host.IniSection{{
				Name: ref.MustParse(tt.section), Set: map[string]ref.Template{tt.key: ref.MustParse(tt.value)}}}}
			env := &steps.Env{StepID: "config", WorkDir: t.TempDir()}
			c := f.Check(context.Background(), env)
			if c.State != steps.Blocked || !strings.Contains(c.Reason, "line break") && !strings.Contains(c.Reason, "[ or ]") {
				t.Fatalf("Check = %v %q, want Blocked for the line break", c.State, c.Reason)
			}
			if _, err := f.Apply(context.Background(), env); err == nil {
				t.Fatal("Apply wrote it")
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("something was written: %v", entries)
			}
		})
	}
}
