package sshconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testConfig exercises first-value-wins across Host blocks, patterns,
// negation, %h in HostName, several IdentityFiles and every key we honour.
const testConfig = `
Host web1
  HostName 10.213.200.5
  User deploy
  Port 2222
  IdentityFile ~/keys/%r@%h
  IdentityFile /etc/keys/second
  IdentitiesOnly yes
  ProxyJump bastion,jump2:2200
  StrictHostKeyChecking accept-new

Host bastion
  HostName 127.0.0.1
  ConnectTimeout 7
  ServerAliveInterval 9
  UserKnownHostsFile /tmp/kh1 /tmp/kh2
  ProxyCommand nc %h %p

Host *.lab !skip.lab
  HostName %h.example.net
  User lab
  StrictHostKeyChecking no

Host web*
  User ignored-web-star
  Port 2022
  ConnectTimeout 4

Host *
  User fallback
  ProxyJump none
`

// TestResolveMatchesOpenSSH resolves aliases as ssh -G -F FILE does on the
// same file: OpenSSH itself says what each should be.
func TestResolveMatchesOpenSSH(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ssh missing under CI: install openssh-client")
		}
		t.Skip("ssh not installed (apt-get install openssh-client)")
	}
	file := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(file, []byte(testConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, alias := range []string{"web1", "web2", "bastion", "a.lab", "skip.lab", "other"} {
		t.Run(alias, func(t *testing.T) {
			want := sshG(t, file, alias)
			got, err := cfg.Resolve(alias)
			if err != nil {
				t.Fatal(err)
			}
			check := func(key, got string) {
				t.Helper()
				if got != want[key][0] {
					t.Errorf("%s: got %q, ssh -G says %q", key, got, want[key][0])
				}
			}
			check("hostname", got.HostName)
			check("user", first(got.User, localUser()))
			check("port", strconv.Itoa(first(got.Port, 22)))
			check("identitiesonly", map[bool]string{true: "yes", false: "no"}[got.IdentitiesOnly])
			check("stricthostkeychecking", map[string]string{"": "ask", "yes": "true", "no": "false", "accept-new": "accept-new"}[got.StrictHostKeyChecking])
			check("connecttimeout", secondsOrNone(got.ConnectTimeout))
			check("serveraliveinterval", strconv.Itoa(int(got.ServerAliveInterval/time.Second)))
			check("proxyjump", first(got.ProxyJump, want["proxyjump"][0]))
			check("proxycommand", first(got.ProxyCommand, want["proxycommand"][0]))
			if got.ProxyJump == "" && want["proxyjump"][0] != "" {
				t.Errorf("proxyjump: got none, ssh -G says %q", want["proxyjump"][0])
			}
			check("userknownhostsfile", got.UserKnownHostsFiles[0])
			if len(got.IdentityFiles) > 0 && strings.Join(got.IdentityFiles, " ") != strings.Join(want["identityfile"], " ") {
				t.Errorf("identityfile: got %q, ssh -G says %q", got.IdentityFiles, want["identityfile"])
			}
		})
	}
}

// sshG runs ssh -G and returns its keys' values, each key's in order; a
// key it does not print maps to [""].
func sshG(t *testing.T, file, alias string) map[string][]string {
	t.Helper()
	out, err := exec.Command("ssh", "-G", "-F", file, alias).Output()
	if err != nil {
		t.Fatalf("ssh -G -F %s %s: %v", file, alias, err)
	}
	values := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		key, value, _ := strings.Cut(line, " ")
		if key == "userknownhostsfile" {
			value, _, _ = strings.Cut(value, " ")
		}
		values[key] = append(values[key], value)
	}
	for _, key := range []string{"proxyjump", "proxycommand"} {
		if values[key] == nil {
			values[key] = []string{""}
		}
	}
	return values
}

func first[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

func secondsOrNone(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return strconv.Itoa(int(d / time.Second))
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("Host a\n  Port notanumber\nMatch exec true\n  User x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing file named explicitly: got %v, want an error", err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Match exec: got %v, want an error naming the file", err)
	}
	none, err := Load(None)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := none.Resolve("web1"); s.HostName != "web1" || s.User != "" || len(none.Files()) != 0 {
		t.Errorf("none: got %+v from %v", s, none.Files())
	}
	portBad := filepath.Join(dir, "port")
	if err := os.WriteFile(portBad, []byte("Host a\n  Port twenty\n  StrictHostKeyChecking maybe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(portBad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Resolve("a"); err == nil || !strings.Contains(err.Error(), `Port "twenty" is not a number`) {
		t.Errorf("bad port: got %v", err)
	}
}

func TestExpand(t *testing.T) {
	home, _ := os.UserHomeDir()
	tokens := Tokens{Alias: "web1", HostName: "10.0.0.1", Port: 2222, User: "deploy"}
	for in, want := range map[string]string{
		"~/.ssh/id_%r@%h":     home + "/.ssh/id_deploy@10.0.0.1",
		"nc %h %p":            "nc 10.0.0.1 2222",
		"%n-100%%":            "web1-100%",
		"%d/keys/" + "%u.key": home + "/keys/" + localUser() + ".key",
	} {
		if got, err := Expand(in, tokens); err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"%C", "trailing %"} {
		if _, err := Expand(bad, tokens); err == nil {
			t.Errorf("Expand(%q): want an error", bad)
		}
	}
}
