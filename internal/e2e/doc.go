// Package e2e holds whole-CLI tests: the real cairn binary, run as a child process, against real
// PostgreSQL clusters started by the test bed.
package e2e
