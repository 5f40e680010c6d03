// Package lambdastep holds the `lambda-function` kind: it deploys a Lambda function whose code cairn
// carries inside its own binary (built by `make lambda`, embedded from bundle/), so a bastion needs no
// Go toolchain. What it changes: the one function named in its `with:` block, created or updated to the
// embedded code and the configuration given. What it never touches: a function of that name cairn did
// not deploy (tag cairn:bundle), IAM (the execution role is another step's). What rollback undoes: it
// deletes the function cairn deployed.
//
// What Check accepts as done (steps/LOOKALIKES.md): a function only when it carries the tag naming
// the embedded bundle and runs that bundle's code SHA-256 as configured: a function of the same name
// deployed by someone else is blocked.
package lambdastep

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
)

//go:embed bundle
var bundles embed.FS

// Bundle is one function's code as cairn embeds it.
type Bundle struct {
	Name         string // cairn-secret-lambda
	Architecture string // x86_64 or arm64
	Zip          []byte
}

// Sha256 is the code's hash as Lambda reports it (CodeSha256: base64 of SHA-256 of the zip).
func (b Bundle) Sha256() string {
	s := sha256.Sum256(b.Zip)
	return base64.StdEncoding.EncodeToString(s[:])
}

// Bundles are the names cairn can deploy.
var Bundles = []string{"cairn-secret-lambda"}

// BuildHint is the command that builds the embedded zips.
const BuildHint = "make lambda && make build (scripts/build-lambda.sh, then rebuild cairn so it embeds the zips)"

// LoadBundle returns the embedded zip of a bundle for an architecture.
func LoadBundle(name, arch string) (Bundle, error) {
	known := false
	for _, n := range Bundles {
		known = known || n == name
	}
	if !known {
		return Bundle{}, fmt.Errorf("no Lambda bundle %q: cairn carries %v", name, Bundles)
	}
	if arch != "x86_64" && arch != "arm64" {
		return Bundle{}, fmt.Errorf("architecture %q: x86_64 or arm64", arch)
	}
	zip, err := fs.ReadFile(bundles, fmt.Sprintf("bundle/%s-%s.zip", name, arch))
	if err != nil {
		return Bundle{}, fmt.Errorf("this cairn was built without the %s zip for %s: %s", name, arch, BuildHint)
	}
	return Bundle{Name: name, Architecture: arch, Zip: zip}, nil
}
