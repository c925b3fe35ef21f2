package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/sync/errgroup"

	"everywhere/internal/inventory"
	"everywhere/internal/sshconfig"
)

// floor is the least a fan-out can do: per host one handshake and one
// session, with errgroup, nothing else. Its time is what everywhere is
// measured against.
func floor(inventoryFile, command string, parallel int) error {
	inv, err := inventory.Load(inventoryFile, inventory.Options{SSHConfig: sshconfig.None})
	if err != nil {
		return err
	}
	h0 := inv.Hosts[0]
	key, err := os.ReadFile(h0.Identity)
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return err
	}
	check, err := knownhosts.New(h0.KnownHosts)
	if err != nil {
		return err
	}
	config := &ssh.ClientConfig{User: h0.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: check, Timeout: time.Minute}
	// A connection is a descriptor: past the process's limit (20,000 on
	// some machines, as many as the fleet) dials fail with EMFILE, so the
	// fan-out holds a few fewer at once than the limit allows.
	var limit syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &limit); err == nil && uint64(parallel)+64 > limit.Cur {
		parallel = int(limit.Cur) - 64
		fmt.Fprintf(os.Stderr, "floor: at most %d connections at once (open files limit %d)\n", parallel, limit.Cur)
	}
	var g errgroup.Group
	g.SetLimit(parallel)
	failed := make([]error, len(inv.Hosts))
	for i, h := range inv.Hosts {
		g.Go(func() error {
			failed[i] = runOne(h.Addr(), config, command)
			return nil
		})
	}
	_ = g.Wait()
	for i, err := range failed {
		if err != nil {
			return fmt.Errorf("%s: %w", inv.Hosts[i].Name, err)
		}
	}
	return nil
}

func runOne(addr string, config *ssh.ClientConfig, command string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	// ctx bounds the dial only: the handshake gets a deadline of its own
	// (golang/go#51926), lest a server that stopped answering hang the run.
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, config)
	if err != nil {
		return err
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return err
	}
	client := ssh.NewClient(c, chans, reqs)
	defer client.Close()
	s, err := client.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	out, err := s.CombinedOutput(command)
	os.Stdout.Write(out)
	return err
}
