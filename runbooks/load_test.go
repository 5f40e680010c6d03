package runbooks_test

import (
	"testing"

	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps/all"
)

func TestBuiltinsLoad(t *testing.T) {
	c, err := runbooks.LoadCatalog(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get("sample-role"); err != nil {
		t.Fatal(err)
	}
}
