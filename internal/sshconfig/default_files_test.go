package sshconfig

import (
	"context"
	"testing"
)

// TestDefaultFiles: with no file named, both resolvers read the machine's
// own ~/.ssh/config and /etc/ssh/ssh_config and agree on them.
func TestDefaultFiles(t *testing.T) {
	requireSSH(t)
	q := Query{Alias: "evw-default-files-test"}
	var got []Settings
	for _, r := range []string{ResolverOpenSSH, ResolverBuiltin} {
		cfg, err := LoadWith("", Options{Resolver: r})
		if err != nil {
			t.Fatal(err)
		}
		s, err := cfg.ResolveFor(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		got = append(got, s)
	}
	for _, key := range Keys {
		if a, b := got[0].Value(key), got[1].Value(key); a != b {
			t.Errorf("%s: ssh -G says %q, the builtin %q", key, a, b)
		}
	}
}
