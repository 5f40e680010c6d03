package rds

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// serverVersion is the version of the PostgreSQL the twin's clusters run ("15.20"), which every
// instance reports as its EngineVersion.
func serverVersion(ctx context.Context) (string, error) {
	major, err := pgcluster.Installed()
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, filepath.Join("/usr/lib/postgresql", strconv.Itoa(major), "bin", "postgres"), "--version").Output()
	if err != nil {
		return "", fmt.Errorf("postgres --version: %w", err)
	}
	// "postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)"
	m := regexp.MustCompile(`\) (\d+\.\d+)`).FindStringSubmatch(string(out))
	if m == nil {
		return "", fmt.Errorf("postgres --version said %q", strings.TrimSpace(string(out)))
	}
	return m[1], nil
}

// checkEngineVersion accepts what RDS would for the twin's major version — the major alone or one of
// its minors up to the one installed — and refuses a version RDS does not have as RDS does. Another
// major version RDS offers is refused with the twin's reason: it runs only the PostgreSQL installed.
func (s *Service) checkEngineVersion(v string) error {
	if v == "" || v == s.version {
		return nil
	}
	major, minor, hasMinor := strings.Cut(v, ".")
	have, haveMinor, _ := strings.Cut(s.version, ".")
	m, err1 := strconv.Atoi(major)
	n, err2 := strconv.Atoi(minor)
	hm, _ := strconv.Atoi(haveMinor)
	switch {
	case err1 != nil || (hasMinor && err2 != nil) || m < 11 || m > 17 || (hasMinor && (n < 1 || n > 30)):
		return awswire.Errorf("InvalidParameterCombination", "Cannot find version %s for postgres", v)
	case major != have:
		return awswire.Errorf("InvalidParameterCombination", "The twin runs PostgreSQL %s only (the version installed on this machine), not %s.", s.version, v)
	case hasMinor && n > hm:
		return awswire.Errorf("InvalidParameterCombination", "Cannot find version %s for postgres", v)
	}
	return nil
}

// instanceFamilies are the DB instance class families RDS for PostgreSQL offers, with their sizes.
var instanceFamilies = map[string][]string{
	"t3": {"micro", "small", "medium", "large", "xlarge", "2xlarge"}, "t4g": {"micro", "small", "medium", "large", "xlarge", "2xlarge"},
	"m5": bigSizes, "m5d": bigSizes, "m6g": bigSizes, "m6gd": bigSizes, "m6i": bigSizes, "m6id": bigSizes, "m7g": bigSizes, "m7i": bigSizes,
	"r5": bigSizes, "r5b": bigSizes, "r5d": bigSizes, "r6g": bigSizes, "r6gd": bigSizes, "r6i": bigSizes, "r6id": bigSizes, "r7g": bigSizes, "r7i": bigSizes,
	"x2g": bigSizes, "x2iedn": bigSizes,
}

var bigSizes = []string{"large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge", "48xlarge"}

// checkClass refuses a class RDS for PostgreSQL does not offer, with RDS's message.
func (s *Service) checkClass(class string) error {
	parts := strings.Split(class, ".")
	if len(parts) == 3 && parts[0] == "db" {
		for _, size := range instanceFamilies[parts[1]] {
			if size == parts[2] {
				return nil
			}
		}
	}
	return awswire.Errorf("InvalidParameterCombination", "RDS does not support creating a DB instance with the following combination: DBInstanceClass=%s, Engine=postgres, EngineVersion=%s, LicenseModel=%s. For supported combinations of instance class and database engine version, see the documentation.", class, s.version, licensePostgres)
}

// checkAllocatedStorage refuses a size RDS for PostgreSQL refuses for the storage type.
func checkAllocatedStorage(storageType string, gib int) error {
	lo, hi := 20, 65536
	switch storageType {
	case "standard":
		lo, hi = 5, 3072
	case "io1", "io2":
		lo, hi = 100, 65536
	}
	if gib < lo || gib > hi {
		return awswire.Errorf("InvalidParameterValue", "Invalid storage size for engine name postgres and storage type %s: %d", storageType, gib)
	}
	return nil
}
