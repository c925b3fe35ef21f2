package sshconfig_test

import (
	"errors"
	"testing"

	"everywhere/internal/sshconfig"
)

// FuzzConfig: any ssh_config text resolves to settings or to an error that
// is the config's fault and names file:line; never a panic or a hang.
// Seeded with the corpus.
func FuzzConfig(f *testing.F) {
	for _, tc := range corpus {
		f.Add([]byte(tc.config+base), tc.alias)
		for _, content := range tc.files {
			f.Add([]byte(content), tc.alias)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, alias string) {
		if alias == "" {
			alias = "web"
		}
		s, err := sshconfig.ResolveText(data, alias)
		switch {
		case err != nil && !errors.Is(err, sshconfig.ErrConfig):
			t.Fatalf("an error that is not the config's: %v", err)
		case err == nil && (s.HostName == "" || s.Port < 1 || s.Port > 65535):
			t.Fatalf("resolved to %+v", s)
		}
	})
}
