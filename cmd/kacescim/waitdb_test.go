package main

import (
	"bytes"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeWaitsForTheDatabase: serve started while its PostgreSQL server
// is not up keeps trying, with a log line each try, instead of exiting;
// it stops when told to.
func TestServeWaitsForTheDatabase(t *testing.T) {
	bin := kacescimBinary(t)
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	var out bytes.Buffer
	cmd := exec.Command(bin, "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0",
		"--database", "postgres://kacescim@"+addr+"/kacescim?sslmode=disable")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("serve exited while waiting for the database (%v):\n%s", err, out.String())
	case <-time.After(2 * time.Second):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("serve did not stop on SIGTERM while waiting for the database")
	}
	if n := strings.Count(out.String(), "database not available; trying again"); n < 2 {
		t.Errorf("%d tries logged in 2 s, want at least 2:\n%s", n, out.String())
	}
}
