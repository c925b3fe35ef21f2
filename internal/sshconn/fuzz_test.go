package sshconn

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// FuzzKnownHosts: any known_hosts text parses, or fails naming its
// file:line; a host is then trusted, refused with a reason, or not known;
// never a panic or a hang.
func FuzzKnownHosts(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		f.Fatal(err)
	}
	key := signer.PublicKey()
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	for _, seed := range []string{
		"[127.0.0.1]:2201 " + line,
		"web,10.0.0.1 " + line + " comment",
		"[10.0.0.*]:* " + line,
		"*,!web " + line,
		knownhosts.HashHostname("[127.0.0.1]:2201") + " " + line,
		"@cert-authority *.lab " + line,
		"@revoked * " + line,
		"# comment\n\n  \t\nweb " + line + "\r\n",
		"web " + line + "web2 " + line,
		"@bogus web " + line,
		"|1|bad|hash " + line,
	} {
		f.Add([]byte(seed), "127.0.0.1:2201", "")
		f.Add([]byte(seed), "web:22", "web-alias")
	}
	f.Fuzz(func(t *testing.T, data []byte, addr, alias string) {
		kh, err := parseKnownHosts("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "known_hosts fuzz:") {
				t.Fatalf("an error that does not name file:line: %v", err)
			}
			return
		}
		err = knownHostsSet{kh}.verify(addr, alias, key)
		var keyErr *hostKeyError
		if err != nil && !errors.Is(err, errKeyNotKnown) && !errors.As(err, &keyErr) {
			t.Fatalf("verify: %v", err)
		}
		found := knownHostsSet{kh}.lookup(hostKeyName(addr, alias))
		_ = found.algorithms()
		_ = found.expected()
	})
}

// BenchmarkHostileKnownHosts parses and looks up 1 MB known_hosts files
// built to be slow (go test -bench HostileKnownHosts ./internal/sshconn/).
func BenchmarkHostileKnownHosts(b *testing.B) {
	_, priv, _ := ed25519.GenerateKey(nil)
	signer, _ := ssh.NewSignerFromKey(priv)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	mb := 1 << 20
	for name, data := range map[string]string{
		"wildcards": strings.Repeat("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b "+line+"\n", mb/(len(line)+42)),
		"hashed":    strings.Repeat(knownhosts.HashHostname("web")+" "+line+"\n", mb/(len(line)+62)),
		"one-line":  "@cert-authority " + strings.Repeat("*a,", mb/3) + " " + line + "\n",
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				kh, err := parseKnownHosts("bench", []byte(data))
				if err != nil {
					b.Fatal(err)
				}
				_ = knownHostsSet{kh}.lookup(lookupName(strings.Repeat("a", 200) + ":22"))
			}
		})
	}
}
