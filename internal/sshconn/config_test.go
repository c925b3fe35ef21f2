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
// "no" refused unless --accept-new-host-keys.
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

	h = hostFor(s)
	h.HostKeyPolicy = "no"
	_, err := NewDialer(false, 0).Dial(context.Background(), h)
	if !errors.Is(err, ErrHostKeyUnknown) || !strings.Contains(err.Error(), "StrictHostKeyChecking no (ssh config) would accept any key") {
		t.Errorf("StrictHostKeyChecking no: got %v", err)
	}
	c, err := NewDialer(true, 0).Dial(context.Background(), h)
	if err != nil {
		t.Fatalf("StrictHostKeyChecking no with --accept-new-host-keys: %v", err)
	}
	_ = c.Close()
}
