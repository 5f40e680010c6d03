package rds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
)

// Endpoints that follow names. On RDS an endpoint is a DNS name made from the identifier, so after a
// rename swap the clients of app-db's endpoint reach the instance that now holds the name. The twin
// gives each identifier a loopback listener of its own (its port kept with the state, so it survives a
// restart when free) that forwards each new connection to whichever instance holds the name then —
// and refuses it (closes it at once) while no available instance does, as during a rename. A
// connection already made stays with the server it reached, as a TCP connection to RDS does.

// nameEndpoint is one identifier's listener.
type nameEndpoint struct {
	name string
	ln   net.Listener
}

// endpointLocked returns the port of the name's listener, starting it if needed. Callers hold mu.
func (s *Service) endpointLocked(name string) (int, error) {
	if e, ok := s.endpoints[name]; ok {
		return e.ln.Addr().(*net.TCPAddr).Port, nil
	}
	if s.st.Endpoints == nil {
		s.st.Endpoints = map[string]int{}
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(s.st.Endpoints[name])))
	if err != nil && s.st.Endpoints[name] != 0 {
		ln, err = net.Listen("tcp", "127.0.0.1:0") // the old port is taken: the endpoint moves
	}
	if err != nil {
		return 0, fmt.Errorf("endpoint for %s: %w", name, err)
	}
	e := &nameEndpoint{name: name, ln: ln}
	s.endpoints[name] = e
	port := ln.Addr().(*net.TCPAddr).Port
	s.st.Endpoints[name] = port
	s.epWG.Add(1)
	go func() {
		defer s.epWG.Done()
		s.serveEndpoint(e)
	}()
	return port, nil
}

// namePortLocked returns the cluster port of the available (or otherwise serving) instance holding
// name, or 0.
func (s *Service) namePortLocked(name string) int {
	now := s.now()
	for _, i := range s.st.Instances {
		if i.ID != name || now.Before(i.HiddenUntil) || !i.Provisioned || i.Port == 0 {
			continue
		}
		switch i.Status {
		case StatusStopped, StatusStopping, StatusStarting, StatusRebooting, StatusFailed, StatusDeleting, StatusCreating:
			return 0
		}
		return i.Port
	}
	return 0
}

func (s *Service) serveEndpoint(e *nameEndpoint) {
	var conns sync.WaitGroup
	defer conns.Wait()
	for {
		c, err := e.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		s.mu.Lock()
		port := s.namePortLocked(e.name)
		s.mu.Unlock()
		if port == 0 {
			c.Close()
			continue
		}
		conns.Add(1)
		go func() {
			defer conns.Done()
			forward(s.bg, c, port)
		}()
	}
}

// forward joins a client's connection to the server on port until either side closes (or the twin
// does).
func forward(ctx context.Context, client net.Conn, port int) {
	defer client.Close()
	var d net.Dialer
	server, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return
	}
	defer server.Close()
	stop := context.AfterFunc(ctx, func() { client.Close(); server.Close() })
	defer stop()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if tc, ok := dst.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
	<-done
}

// closeEndpoints stops every name's listener and waits for their connections to end.
func (s *Service) closeEndpoints() {
	s.mu.Lock()
	for _, e := range s.endpoints {
		e.ln.Close()
	}
	s.mu.Unlock()
	s.epWG.Wait()
}
