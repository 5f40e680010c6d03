package runbooks

import "strings"

// Lookup names where a parameter's candidates come from (`choices:` in the runbook). The form
// offers what the lookup finds on the target, each with a short description, and still takes any
// typed value; `-p` and answer files never run a lookup. The lookups themselves live in
// internal/lookup.
type Lookup string

// The lookups. AWS ones read the runbook's `region` parameter when it declares one; pg-roles reads
// its `conn` parameter (empty: libpq's environment).
const (
	LookupNone           Lookup = ""
	LookupRDSInstances   Lookup = "rds-instances"
	LookupRDSUnencrypted Lookup = "rds-unencrypted"
	LookupKMSKeys        Lookup = "kms-keys"
	LookupSecrets        Lookup = "secrets"
	LookupPGRoles        Lookup = "pg-roles"
	LookupOSUsers        Lookup = "os-users"
	LookupPGClusters     Lookup = "pg-clusters"
)

// lookupAbout says what each lookup lists, in the order `cairn show` and errors name them.
var lookupAbout = []struct {
	l     Lookup
	about string
}{
	{LookupRDSInstances, "RDS PostgreSQL instances (others shown with why not)"},
	{LookupRDSUnencrypted, "unencrypted RDS PostgreSQL instances (encrypted and other engines shown with why not)"},
	{LookupKMSKeys, "enabled symmetric KMS keys by alias (disabled and pending-deletion keys shown with why not)"},
	{LookupSecrets, "Secrets Manager secrets, with when each last changed"},
	{LookupPGRoles, "roles of the PostgreSQL cluster the `conn` parameter reaches, with their attributes"},
	{LookupOSUsers, "accounts of this host's user database"},
	{LookupPGClusters, "PostgreSQL servers running on this host, as connection strings"},
}

// Lookups lists every lookup name.
func Lookups() []Lookup {
	out := make([]Lookup, len(lookupAbout))
	for i, a := range lookupAbout {
		out[i] = a.l
	}
	return out
}

// About says what the lookup lists ("" for an unknown one).
func (l Lookup) About() string {
	for _, a := range lookupAbout {
		if a.l == l {
			return a.about
		}
	}
	return ""
}

// Known reports whether l names a lookup.
func (l Lookup) Known() bool { return l.About() != "" }

func lookupNames() string {
	var s []string
	for _, l := range Lookups() {
		s = append(s, string(l))
	}
	return strings.Join(s, ", ")
}
