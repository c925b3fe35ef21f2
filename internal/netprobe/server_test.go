package netprobe

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// startServer serves on a free loopback port until the test ends.
func startServer(t *testing.T) (port int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// exchange sends input, half-closes and returns all the server replied
// before closing.
func exchange(t *testing.T, port int, input string) string {
	t.Helper()
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, input); err != nil {
		t.Fatalf("send %.40q: %v", input, err)
	}
	conn.(*net.TCPConn).CloseWrite()
	reply, err := io.ReadAll(conn)
	// A server that closes with input unread resets the connection:
	// what it replied before still counts.
	if err != nil && !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("receive after %.40q: %v", input, err)
	}
	return string(reply)
}

func TestServeModes(t *testing.T) {
	port := startServer(t)
	for _, c := range []struct{ input, want string }{
		{"echo\nhello", "hello"},
		{"echo\r\nhello", "hello"},
		{"echo\n", ""},
		{"sink\nhello", fmt.Sprintf("5 %x\n", sha256.Sum256([]byte("hello")))},
		{"sink\n", fmt.Sprintf("0 %x\n", sha256.Sum256(nil))},
		{"discard\nhello", "5\n"},
	} {
		if got := exchange(t, port, c.input); got != c.want {
			t.Errorf("%q: got %q, want %q", c.input, got, c.want)
		}
	}
}

// Garbage gets an error line or nothing, and the server serves on.
func TestServeGarbage(t *testing.T) {
	port := startServer(t)
	for _, c := range []struct{ input, want string }{
		{"", ""},
		{"\n", "ERR unknown mode \"\"\n"},
		{"sink", ""},
		{"bogus\nmore", "ERR unknown mode \"bogus\"\n"},
		{"\x00\xff\xfe\n\x00", "ERR unknown mode \"\\x00\\xff\\xfe\"\n"},
		{strings.Repeat("echo", 30) + "\n", "ERR no mode line in the first 64 bytes\n"},
		// 64 KiB: it fits the loopback socket's buffers, so the write ends
		// before the server closes; 1 MiB was still being written when the
		// server's close reset it (a flake seen in CI).
		{strings.Repeat("x", 1<<16), "ERR no mode line in the first 64 bytes\n"},
		{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "ERR unknown mode \"GET / HTTP/1.1\"\n"},
	} {
		if got := exchange(t, port, c.input); got != c.want {
			t.Errorf("%.40q: got %q, want %q", c.input, got, c.want)
		}
	}
	// Every first byte, then random bytes, some with a newline.
	random := make([]byte, 300)
	for b := range 256 {
		random[0] = byte(b)
		for i := 1; i < len(random); i++ {
			random[i] = byte(b*31 + i*i)
		}
		exchange(t, port, string(random[:1+b%len(random)]))
	}
	if got := exchange(t, port, "echo\nstill here"); got != "still here" {
		t.Errorf("after the garbage: echo gave %q", got)
	}
}

func TestServeDropsIdle(t *testing.T) {
	idleTimeout = 200 * time.Millisecond
	t.Cleanup(func() { idleTimeout = 30 * time.Second })
	port := startServer(t)
	for _, input := range []string{"", "echo\n"} {
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		io.WriteString(conn, input)
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadAll(conn)
		if took := time.Since(start); err != nil || took > 2*time.Second {
			t.Errorf("%q then silence: the server closed after %s (%v), want about %s", input, took, err, idleTimeout)
		}
		conn.Close()
	}
}
