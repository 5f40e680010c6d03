package pgcluster

import (
	"fmt"
	"net"
)

// freePort asks the kernel for a free loopback port. Another process can take it before the
// server binds it; Start retries once with a new port when that happens.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
