package runbooks

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/cairn-runbooks/cairn/steps"
)

//go:embed builtin/*.yaml
var builtinFS embed.FS

// Catalog is the set of runbooks a cairn invocation can use: the built-in ones and any --file.
type Catalog struct {
	byName map[string]*Runbook
	order  []string
}

// LoadCatalog loads every built-in runbook and the given files. A file's runbook replaces a
// built-in one of the same name (so an engineer can try an edited copy).
func LoadCatalog(reg *steps.Registry, files ...string) (*Catalog, error) {
	c := &Catalog{byName: map[string]*Runbook{}}
	entries, err := fs.Glob(builtinFS, "builtin/*.yaml")
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, e := range entries {
		data, err := builtinFS.ReadFile(e)
		if err != nil {
			return nil, err
		}
		rb, err := Load("builtin:"+path.Base(e), data, reg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.add(rb)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("--file %s: %w", f, err))
			continue
		}
		rb, err := Load(f, data, reg)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.add(rb)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func (c *Catalog) add(rb *Runbook) {
	if _, ok := c.byName[rb.Name]; !ok {
		c.order = append(c.order, rb.Name)
	}
	c.byName[rb.Name] = rb
	sort.Strings(c.order)
}

// Get finds a runbook by name.
func (c *Catalog) Get(name string) (*Runbook, error) {
	if rb, ok := c.byName[name]; ok {
		return rb, nil
	}
	return nil, fmt.Errorf("no runbook named %q: `cairn list` shows them, or pass --file <path>", name)
}

// All lists the runbooks by name.
func (c *Catalog) All() []*Runbook {
	out := make([]*Runbook, 0, len(c.order))
	for _, n := range c.order {
		out = append(out, c.byName[n])
	}
	return out
}
