package main

import (
	"io"
	"net"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"everywhere/internal/inventory"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// cutter forwards 127.0.0.1 connections to an sshd, and can cut them all:
// a link that drops under a kept connection.
type cutter struct {
	l     net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newCutter(t *testing.T, to string) *cutter {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &cutter{l: l}
	t.Cleanup(func() { _ = l.Close(); c.cut() })
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", to)
			if err != nil {
				_ = in.Close()
				continue
			}
			c.mu.Lock()
			c.conns = append(c.conns, in, out)
			c.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); _ = out.Close() }()
			go func() { _, _ = io.Copy(in, out); _ = in.Close() }()
		}
	}()
	return c
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}

// The console keeps one connection per host across commands, and dials
// again, saying so, when it dropped.
func TestConsolePoolReconnects(t *testing.T) {
	sshd := sshtest.StartOpenSSH(t)
	link := newCutter(t, net.JoinHostPort(sshd.Host, strconv.Itoa(sshd.Port)))
	port := link.l.Addr().(*net.TCPAddr).Port
	knownHosts := filepath.Join(t.TempDir(), "known_hosts")
	sshtest.WriteKnownHosts(t, knownHosts, "127.0.0.1", port, sshd.HostKey)
	h := inventory.Host{Name: "h", Arch: "amd64", Address: "127.0.0.1", Port: port, User: sshd.User,
		Identity: sshd.IdentityFile, KnownHosts: knownHosts, ConnectTimeout: 20 * time.Second}
	p := newPool(sshconn.NewDialer(false, 0))
	defer p.close()
	var notes []string
	p.note = func(host, text string) { notes = append(notes, host+": "+text) }
	exec := func() *keptConn {
		t.Helper()
		c, err := p.connect(t.Context(), h)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := c.Exec(t.Context(), "echo ok", 64); err != nil || out.Stdout.String() != "ok\n" {
			t.Fatalf("exec: %v %+v", err, out)
		}
		_ = c.Close() // what the runner does: the connection stays open
		return c.(*keptConn)
	}
	first := exec()
	if again := exec(); again != first || len(notes) != 0 {
		t.Fatalf("a second command dialled again (notes %v)", notes)
	}
	link.cut()
	for deadline := time.Now().Add(30 * time.Second); !first.closed.Load(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the dropped connection was never noticed")
		}
	}
	if third := exec(); third == first || len(notes) != 1 || notes[0] != "h: reconnected: the connection had dropped" {
		t.Errorf("after the drop: same connection %v, notes %v", third == first, notes)
	}
}
