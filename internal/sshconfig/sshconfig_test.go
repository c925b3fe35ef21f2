package sshconfig

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RequireSSH skips a test where the ssh client is missing, except under
// CI, where that is a broken setup. (Exported for the corpus test.)
var RequireSSH = requireSSH

func requireSSH(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("ssh"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("ssh missing under CI: install openssh-client")
		}
		t.Skip("ssh not installed (apt-get install openssh-client)")
	}
}

// ResolveText resolves alias in data, a config's text, with the builtin,
// as hostile input: no Match exec is run, no Include read, no name looked
// up. (For the fuzz target.)
func ResolveText(data []byte, alias string) (Settings, error) {
	f, err := parseFile("fuzz", data, true, maxDepth)
	if err != nil {
		return Settings{}, err
	}
	c := &Config{files: []*file{f}, resolver: ResolverBuiltin, cache: map[Query]*pending{},
		lookupHost: func(context.Context, string) ([]string, error) { return nil, errors.New("no lookups here") }}
	return c.builtinWith(context.Background(), Query{Alias: alias}, true)
}

func writeConfig(t *testing.T, content string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing file named explicitly: got %v, want an error", err)
	}
	if _, err := LoadWith(None, Options{Resolver: "magic"}); err == nil || !strings.Contains(err.Error(), ResolverEnv) {
		t.Errorf("an unknown resolver: got %v", err)
	}
	if _, err := LoadWith(None, Options{Resolver: ResolverOpenSSH, SSH: filepath.Join(dir, "no-ssh")}); err == nil || !strings.Contains(err.Error(), "install openssh-client") {
		t.Errorf("ssh missing but asked for: got %v", err)
	}
	t.Setenv(ResolverEnv, ResolverBuiltin)
	none, err := Load(None)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := none.Resolve("web1"); s.HostName != "web1" || s.User != localUser() || s.Port != 22 || len(none.files) != 0 || s.Resolver != ResolverBuiltin {
		t.Errorf("none: got %+v from %v", s, none.files)
	}
}

// TestBuiltinOnly covers what the corpus cannot put to ssh here: files
// under /etc/ssh and ~/.ssh, which belong to the machine.
func TestBuiltinOnly(t *testing.T) {
	// A relative Include in the system's config is looked for under
	// /etc/ssh, in a user's under ~/.ssh; ~ is refused in the system's.
	sys, err := parseFile("/etc/ssh/ssh_config", []byte("Include evw-absent.d/*.conf\n"), false, 0)
	if err != nil || len(sys.lines) != 1 || sys.lines[0].err != "" {
		t.Fatalf("system Include: %+v, %v", sys, err)
	}
	bad, _ := parseFile("/etc/ssh/ssh_config", []byte("Include ~/x\n"), false, 0)
	if bad.lines[0].err != "bad include path ~/x." {
		t.Errorf("~ in the system's config: %q", bad.lines[0].err)
	}
	dir := t.TempDir()
	inc := filepath.Join(dir, "inc")
	if err := os.WriteFile(inc, []byte("Port 2200\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withInc, err := parseFile("/etc/ssh/ssh_config", []byte("Include ../.."+inc+"\n"), false, 0)
	if err != nil || len(withInc.lines[0].included) != 1 || withInc.lines[0].included[0].path != inc {
		t.Errorf("relative Include resolved under /etc/ssh: %+v, %v", withInc.lines[0], err)
	}
	// An Include that includes itself ends in ssh's error, not a loop.
	self := filepath.Join(dir, "self")
	if err := os.WriteFile(self, []byte("Include "+self+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(self, Options{Resolver: ResolverBuiltin}); err == nil || !strings.Contains(err.Error(), "Too many recursive configuration includes") {
		t.Errorf("recursive Include: %v", err)
	}
	// A file others may write is refused when Included, as ssh does.
	open := filepath.Join(dir, "open")
	if err := os.WriteFile(open, []byte("Port 2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadWith(writeConfig(t, "Include "+open+"\n"), Options{Resolver: ResolverBuiltin}); err == nil || !strings.Contains(err.Error(), "Bad owner or permissions") {
		t.Errorf("group-writable Include: %v", err)
	}
	// What the builtin cannot evaluate it refuses at file:line.
	cfg, err := LoadWith(writeConfig(t, "Host *\n  CanonicalizePermittedCNAMEs *.a:*.b\n"), Options{Resolver: ResolverBuiltin})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Resolve("web"); err == nil || !strings.Contains(err.Error(), "config:2:") || !strings.Contains(err.Error(), "install openssh-client") {
		t.Errorf("CanonicalizePermittedCNAMEs: %v", err)
	}
}

// TestOpenSSHOncePerQuery: ssh -G runs once per alias, user and port, and
// runs of a Prefetch overlap.
func TestOpenSSHOncePerQuery(t *testing.T) {
	requireSSH(t)
	dir := t.TempDir()
	counter := filepath.Join(dir, "runs")
	ssh := filepath.Join(dir, "ssh")
	if err := os.WriteFile(ssh, []byte("#!/bin/sh\necho run >> "+counter+"\nexec ssh \"$@\"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadWith(writeConfig(t, "Host *\n  User u\n"), Options{Resolver: ResolverOpenSSH, SSH: ssh})
	if err != nil {
		t.Fatal(err)
	}
	var queries []Query
	for i := 0; i < 20; i++ {
		queries = append(queries, Query{Alias: fmt.Sprintf("h%d", i%5)}, Query{Alias: "h0", Port: 2200})
	}
	cfg.Prefetch(context.Background(), queries, 4)
	for _, q := range queries {
		if s, err := cfg.ResolveFor(context.Background(), q); err != nil || s.User != "u" {
			t.Fatalf("%v: %+v, %v", q, s, err)
		}
	}
	data, _ := os.ReadFile(counter)
	if n := strings.Count(string(data), "run"); n != 6 {
		t.Errorf("ssh -G ran %d times for 6 distinct queries", n)
	}
}

// TestOpenSSHTimeout: a Match exec that never ends ends the resolution
// with a clear error once the timeout passes, its command killed too.
func TestOpenSSHTimeout(t *testing.T) {
	requireSSH(t)
	cfg, err := LoadWith(writeConfig(t, "Match exec \"sleep 600\"\n  User u\n"), Options{Resolver: ResolverOpenSSH, Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Resolve("web"); err == nil || !strings.Contains(err.Error(), "no answer within") {
		t.Errorf("got %v", err)
	}
}

func TestExpand(t *testing.T) {
	home := localHome()
	t.Setenv("EVW_TEST_DIR", "/keys")
	host, _ := os.Hostname()
	short, _, _ := strings.Cut(host, ".")
	tokens := Tokens{Alias: "web1", HostName: "10.0.0.1", Port: 2222, User: "deploy"}
	for in, want := range map[string]string{
		"~/.ssh/id_%r@%h":      home + "/.ssh/id_deploy@10.0.0.1",
		"${EVW_TEST_DIR}/%n":   "/keys/web1",
		"~root/x":              "/root/x",
		"%n-100%%":             "web1-100%",
		"%d/keys/%u.key":       home + "/keys/" + localUser() + ".key",
		"%l %L %k %i":          fmt.Sprintf("%s %s web1 %d", host, short, os.Getuid()),
		"$HOME stays as it is": "$HOME stays as it is",
	} {
		if got, err := Expand(in, tokens); err != nil || got != want {
			t.Errorf("Expand(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"%j", "trailing %", "${EVW_UNSET_VARIABLE}", "${EVW_TEST_DIR", "~no-such-user-evw/x"} {
		if _, err := Expand(bad, tokens); err == nil {
			t.Errorf("Expand(%q): want an error", bad)
		}
	}
}

func TestErrorsAreConfigErrors(t *testing.T) {
	for _, r := range []string{ResolverBuiltin, ResolverOpenSSH} {
		if r == ResolverOpenSSH {
			requireSSH(t)
		}
		file := writeConfig(t, "Host a\n  Port 99999\n")
		cfg, err := LoadWith(file, Options{Resolver: r})
		if err == nil {
			_, err = cfg.Resolve("b")
		}
		if !errors.Is(err, ErrConfig) || err.Error() != "ssh config "+file+":2: Bad port '99999'." {
			t.Errorf("%s: got %v", r, err)
		}
	}
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		s, pattern string
		want       bool
	}{
		{"web", "web", true}, {"web", "w?b", true}, {"web", "web?", false}, {"web1", "web?", true},
		{"web", "*", true}, {"", "*", true}, {"", "?", false}, {"web", "w*", true}, {"web", "*b", true},
		{"web", "*x*", false}, {"a.b.c", "*.c", true}, {"aaab", "*a*b", true}, {"abab", "*a*a*b", true},
		{"abab", "*a*a*a*", false}, {"Web", "web", false}, {"web", "", false}, {"", "", true},
	} {
		if got := MatchPattern(tc.s, tc.pattern); got != tc.want {
			t.Errorf("MatchPattern(%q, %q) = %v", tc.s, tc.pattern, got)
		}
	}
	for _, tc := range []struct {
		s, list string
		want    int
	}{{"web", "db,web", 1}, {"web", "*,!web", -1}, {"web", "db", 0}, {"web", "WEB", 1}} {
		if got := matchPatternList(tc.s, tc.list, true); got != tc.want {
			t.Errorf("matchPatternList(%q, %q) = %d", tc.s, tc.list, got)
		}
	}
}

// TestCanonicalDomains: the builtin tries each CanonicalDomains suffix
// (names here are answered by a table: none may be looked up off the
// machine), then re-reads the files with Host matching the canonical name.
func TestCanonicalDomains(t *testing.T) {
	file := writeConfig(t, `CanonicalizeHostname yes
CanonicalDomains a.test b.test
Host web.b.test
  Port 2200
Host *.a.test
  Port 1
Host nowhere
  CanonicalizeFallbackLocal no
`)
	cfg, err := LoadWith(file, Options{Resolver: ResolverBuiltin})
	if err != nil {
		t.Fatal(err)
	}
	var asked []string
	cfg.lookupHost = func(_ context.Context, name string) ([]string, error) {
		asked = append(asked, name)
		if name == "web.b.test." {
			return []string{"127.0.0.2"}, nil
		}
		return nil, errors.New("no such host")
	}
	s, err := cfg.Resolve("web")
	if err != nil || s.HostName != "web.b.test" || s.Port != 2200 || strings.Join(asked, " ") != "web.a.test. web.b.test." {
		t.Errorf("got %s:%d, %v, asked %v", s.HostName, s.Port, err, asked)
	}
	if s, err := cfg.Resolve("x.y.z"); err != nil || s.HostName != "x.y.z" {
		t.Errorf("more dots than CanonicalizeMaxDots: %+v, %v", s, err)
	}
	if _, err := cfg.Resolve("nowhere"); err == nil || !strings.Contains(err.Error(), "Could not resolve host") {
		t.Errorf("CanonicalizeFallbackLocal no: %v", err)
	}
}
