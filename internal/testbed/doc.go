// Package testbed is what cairn's tests stand on: real PostgreSQL clusters, OS users, the cairn
// binary, unique names and temp directories other OS users can reach. It is imported only from
// _test files.
//
// Everything a helper creates is removed by t.Cleanup, also when the test fails. Directories live
// under /var/tmp/cairn-testbed (…-<uid> when not root), named <pid>-<test>-<random>; when a test process dies without
// cleaning up (a timeout panic, SIGKILL), the next TempDir call stops any cluster left in its
// directories and removes them. Initdb'd templates are cached in its cache/ subdirectory across runs.
//
// A missing component (no PostgreSQL, not root) skips the test via Require, and fails it when
// CI=true.
package testbed
