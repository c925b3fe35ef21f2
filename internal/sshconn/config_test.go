package sshconn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"everywhere/internal/sshtest"
)

// TestSettingsFromSSHConfig: what the ssh config adds to a host is honoured
// by the dialer: IdentityFiles tried in order (a missing one passed over,
// as ssh does), StrictHostKeyChecking accept-new for that host alone, and
// "no" as accept-new.
func TestSettingsFromSSHConfig(t *testing.T) {
	s := sshtest.NewServer(t, commands)
	dir := t.TempDir()

	h := hostFor(s)
	h.Identity, h.ConfigIdentities = "", []string{filepath.Join(dir, "missing"), s.IdentityFile}
	h.IdentitiesOnly = true
	dial(t, h)

	h = hostFor(s)
	h.KnownHosts, h.HostKeyPolicy = filepath.Join(dir, "new", "known_hosts"), "accept-new"
	dial(t, h)
	if data, err := os.ReadFile(h.KnownHosts); err != nil || !strings.Contains(string(data), "ssh-ed25519") {
		t.Errorf("accept-new recorded nothing: %q, %v", data, err)
	}

	// "no" records a new key as accept-new does (ssh connects there too),
	// and still refuses a changed one.
	h = hostFor(s)
	h.KnownHosts, h.HostKeyPolicy = filepath.Join(dir, "no", "known_hosts"), "no"
	dial(t, h)
	other := sshtest.NewServer(t, commands)
	h.Port = other.Port
	h.KnownHosts = s.KnownHostsFile
	sshtest.WriteKnownHosts(t, h.KnownHosts, other.Host, other.Port, s.HostKey)
	if _, err := NewDialer(false, 0).Dial(context.Background(), h); !errors.Is(err, ErrHostKeyChanged) {
		t.Errorf("StrictHostKeyChecking no, key changed: got %v", err)
	}
}
