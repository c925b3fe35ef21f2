package sshconn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/knownhosts"

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

// TestKnownHostsSources: a key is found in any of the files ssh reads (the
// first missing, the second a system file), under HostKeyAlias when set,
// and a key learnt on first use is recorded under the alias, in the first.
func TestKnownHostsSources(t *testing.T) {
	s := sshtest.NewServer(t, commands)
	dir := t.TempDir()
	h := hostFor(s)
	h.KnownHosts, h.MoreKnownHosts = filepath.Join(dir, "absent"), []string{s.KnownHostsFile}
	dial(t, h)

	aliased := filepath.Join(dir, "aliased")
	if err := os.WriteFile(aliased, []byte(knownhosts.Line([]string{"web-alias"}, s.HostKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h = hostFor(s)
	h.KnownHosts, h.HostKeyAlias = aliased, "web-alias"
	dial(t, h)
	h.HostKeyAlias = "another"
	if _, err := NewDialer(false, 0).Dial(context.Background(), h); !errors.Is(err, ErrHostKeyUnknown) {
		t.Errorf("under another alias: got %v", err)
	}

	learnt := filepath.Join(dir, "learnt")
	h = hostFor(s)
	h.KnownHosts, h.HostKeyAlias, h.HostKeyPolicy = learnt, "web-alias", "accept-new"
	dial(t, h)
	if data, err := os.ReadFile(learnt); err != nil || !strings.HasPrefix(string(data), "web-alias ssh-ed25519 ") {
		t.Errorf("recorded %q, %v; want the key under its alias", data, err)
	}
}
