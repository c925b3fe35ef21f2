// Package sshtest runs SSH servers for tests: an in-process x/crypto/ssh
// server whose commands are Go functions, and a real OpenSSH sshd.
package sshtest

import (
	"crypto/ed25519"
	"encoding/binary"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Handler runs one command. It writes the command's output and returns its
// exit status; stop is closed when the client signals or closes the session,
// and a well-behaved handler then returns.
type Handler func(command string, stdout, stderr io.Writer, stop <-chan struct{}) int

// Server is an in-process SSH server on 127.0.0.1 that accepts one user key.
type Server struct {
	Host string
	Port int
	// Files a client needs: the user's private key and a known_hosts
	// holding this server's key.
	IdentityFile   string
	KnownHostsFile string
	HostKey        ssh.PublicKey

	listener net.Listener
	config   *ssh.ServerConfig
	handler  Handler
	wg       sync.WaitGroup
	mu       sync.Mutex
	commands []string
	conns    map[net.Conn]bool
}

// NewServer starts a server that answers commands with handler and stops at
// the end of the test.
func NewServer(t testing.TB, handler Handler) *Server {
	t.Helper()
	dir := t.TempDir()
	hostSigner := newSigner(t)
	userSigner, userKeyFile := NewUserKey(t, dir)
	s := &Server{handler: handler, HostKey: hostSigner.PublicKey(), IdentityFile: userKeyFile, conns: map[net.Conn]bool{}}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(userSigner.PublicKey().Marshal()) {
				return nil, nil
			}
			return nil, errUnauthorized
		},
	}
	s.config.AddHostKey(hostSigner)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.listener = l
	addr := l.Addr().(*net.TCPAddr)
	s.Host, s.Port = addr.IP.String(), addr.Port
	s.KnownHostsFile = filepath.Join(dir, "known_hosts")
	WriteKnownHosts(t, s.KnownHostsFile, s.Host, s.Port, s.HostKey)
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

type unauthorized struct{}

func (unauthorized) Error() string { return "unknown key" }

var errUnauthorized error = unauthorized{}

func newSigner(t testing.TB) ssh.Signer {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// NewUserKey writes a fresh ed25519 private key in OpenSSH format into dir
// and returns its signer and path.
func NewUserKey(t testing.TB, dir string) (ssh.Signer, string) {
	t.Helper()
	file := filepath.Join(dir, "id_ed25519")
	return writeKey(t, file), file
}

// writeKey writes a fresh ed25519 private key in OpenSSH format to file.
// (sshconn.WriteNewKey does the same, but hosts' tests import this package.)
func writeKey(t testing.TB, file string) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer
}

// WriteKnownHosts writes a known_hosts file holding key for host:port.
func WriteKnownHosts(t testing.TB, file, host string, port int, key ssh.PublicKey) {
	t.Helper()
	writeKnownHosts(t, file, host, port, key, os.O_TRUNC)
}

// AppendKnownHosts adds key for host:port to a known_hosts file.
func AppendKnownHosts(t testing.TB, file, host string, port int, key ssh.PublicKey) {
	t.Helper()
	writeKnownHosts(t, file, host, port, key, os.O_APPEND)
}

func writeKnownHosts(t testing.TB, file, host string, port int, key ssh.PublicKey, how int) {
	t.Helper()
	line := knownhosts.Line([]string{knownhosts.Normalize(net.JoinHostPort(host, strconv.Itoa(port)))}, key)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|how, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteString(line + "\n")
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		t.Fatal(err)
	}
}

// Commands lists the commands run so far, in arrival order.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Close stops accepting, drops every connection and waits for handlers.
func (s *Server) Close() {
	_ = s.listener.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.listener.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.handleConn(c)
	}
}

func (s *Server) handleConn(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		_ = c.Close()
	}()
	conn, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		return
	}
	defer conn.Close()
	go func() {
		for req := range reqs {
			if req.WantReply {
				_ = req.Reply(req.Type == "keepalive@openssh.com", nil)
			}
		}
	}()
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			continue
		}
		s.wg.Add(1)
		go s.handleSession(ch, requests)
	}
}

func (s *Server) handleSession(ch ssh.Channel, requests <-chan *ssh.Request) {
	defer s.wg.Done()
	defer ch.Close()
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopNow := func() { stopOnce.Do(func() { close(stop) }) }
	exit := make(chan int, 1)
	started := false
	for {
		select {
		case req, ok := <-requests:
			if !ok {
				stopNow()
				if started {
					<-exit
				}
				return
			}
			switch {
			case req.Type == "exec" && !started:
				started = true
				command := parseString(req.Payload)
				s.mu.Lock()
				s.commands = append(s.commands, command)
				s.mu.Unlock()
				_ = req.Reply(true, nil)
				go func() { exit <- s.handler(command, ch, ch.Stderr(), stop) }()
			case req.Type == "signal":
				stopNow()
			default:
				if req.WantReply {
					_ = req.Reply(false, nil)
				}
			}
		case code := <-exit:
			status := make([]byte, 4)
			binary.BigEndian.PutUint32(status, uint32(code))
			_, _ = ch.SendRequest("exit-status", false, status)
			return
		}
	}
}

func parseString(payload []byte) string {
	if len(payload) < 4 {
		return ""
	}
	n := binary.BigEndian.Uint32(payload)
	if int(n) > len(payload)-4 {
		return ""
	}
	return string(payload[4 : 4+n])
}
