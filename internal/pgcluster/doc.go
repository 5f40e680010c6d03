// Package pgcluster runs a real PostgreSQL cluster out of one directory on a loopback port.
//
// A cluster directory holds data/ (the data directory), run/ (the Unix socket directory),
// postgres.log (the server log) and cluster.json (what Open needs to find it again). The AWS
// twin runs each emulated RDS instance as one of these; tests get them through internal/testbed.
//
// When the caller is root the server runs as the "postgres" OS user (PostgreSQL refuses root):
// the cluster directory is chowned to it, so its parents must be searchable by that user
// (t.TempDir is 0700 and is not; use testbed.TempDir).
//
// Authentication: the superuser (and every role) connects over the socket with trust; TCP on
// 127.0.0.1 needs a scram-sha-256 password.
package pgcluster
