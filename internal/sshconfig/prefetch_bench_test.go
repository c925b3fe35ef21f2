package sshconfig

import (
	"context"
	"fmt"
	"testing"
)

// BenchmarkPrefetch: what ssh -G costs an inventory of 200 distinct
// aliases (go test -bench Prefetch ./internal/sshconfig/).
func BenchmarkPrefetch(b *testing.B) {
	requireSSH(b)
	var queries []Query
	for i := 0; i < 200; i++ {
		queries = append(queries, Query{Alias: fmt.Sprintf("10.213.%d.%d", i/250, i%250)})
	}
	for b.Loop() {
		cfg, err := LoadWith(None, Options{Resolver: ResolverOpenSSH})
		if err != nil {
			b.Fatal(err)
		}
		cfg.Prefetch(context.Background(), queries, 8)
	}
}
