package labkit

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"everywhere/internal/sshconn"
)

// SSHBanner checks that an SSH server greets on addr:22.
func SSHBanner(ctx context.Context, addr netip.Addr, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(addr.String(), "22"))
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "SSH-") {
		return fmt.Errorf("not an SSH server: %q", line)
	}
	return nil
}

// UserKey is the lab's client key, created once in dir.
func UserKey(dir string) (ssh.Signer, error) {
	return LoadOrCreateKey(filepath.Join(dir, IdentityFile))
}

// LoadOrCreateKey reads the private key in file, or creates it (and its
// .pub) when there is none.
func LoadOrCreateKey(file string) (ssh.Signer, error) {
	if data, err := os.ReadFile(file); err == nil {
		return ssh.ParsePrivateKey(data)
	}
	signer, err := sshconn.WriteNewKey(file, "everywhere lab")
	if err != nil {
		return nil, err
	}
	pub := ssh.MarshalAuthorizedKey(signer.PublicKey())
	return signer, os.WriteFile(file+".pub", pub, 0o644)
}
