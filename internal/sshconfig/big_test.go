package sshconfig_test

import (
	"strings"
	"testing"

	"everywhere/internal/sshconfig"
)

// BenchmarkHostileConfig resolves 1 MB configs built to be slow (long
// pattern lists, many wildcards, many lines): each must end well within a
// second (go test -bench HostileConfig ./internal/sshconfig/).
func BenchmarkHostileConfig(b *testing.B) {
	mb := 1 << 20
	for name, in := range map[string]string{
		"host-lines":    strings.Repeat("Host a*b*c*d*e*f*g*h*i*j*k*l*m*n*o*p*q*r*s*t*u*v*w*x*y*z*!x web\n", mb/64),
		"long-line":     "Host " + strings.Repeat("*a", mb/2) + "\n",
		"pattern-list":  "Match host " + strings.Repeat("*a*,", mb/4) + "\n",
		"identities":    strings.Repeat("IdentityFile ~/x%h%p%r%n\n", mb/24),
		"quoted-values": strings.Repeat("HostName \"a b\\\" c\" \n", mb/20),
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				_, _ = sshconfig.ResolveText([]byte(in), strings.Repeat("ab", 200))
			}
		})
	}
}
