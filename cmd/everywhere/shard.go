package main

import (
	"fmt"
	"io"
	"os"

	"everywhere/internal/inventory"
	"everywhere/internal/result"
	"everywhere/internal/shard"
)

// shardFlag is --shard: parsed, environment and all, when the flag is, so a
// bad value is a usage error before any inventory is read.
type shardFlag struct {
	value string
	shard *shard.Shard // nil without --shard
}

func (f *shardFlag) String() string { return f.value }
func (f *shardFlag) Type() string   { return "I/N|auto" }
func (f *shardFlag) Set(s string) error {
	sh, err := shard.Parse(s, os.Getenv)
	if err != nil {
		return err
	}
	f.value, f.shard = s, &sh
	return nil
}

const shardUsage = `run on shard I of N of the selected hosts (I from 0), by a hash of each name:
N jobs given 0/N … N-1/N cover every host once; join their results with
everywhere report merge. auto: the index from $` + shard.KubernetesIndex + ` (the count
from auto/N or $` + shard.Count + `) or $` + shard.GitLabIndex + `/$` + shard.GitLabTotal

// hosts is this shard's part of hosts, in their order: all of them without --shard.
func (f *shardFlag) hosts(hosts []inventory.Host) []inventory.Host {
	if f.shard == nil {
		return hosts
	}
	var mine []inventory.Host
	for _, h := range hosts {
		if f.shard.Owns(h.Name) {
			mine = append(mine, h)
		}
	}
	return mine
}

// record writes the shard into res, for report merge to check, and says so
// when it had no host: not an error, the fleet is just smaller than N.
func (f *shardFlag) record(stderr io.Writer, res *result.Result) {
	if f.shard == nil {
		return
	}
	res.Shard = f.shard
	if len(res.Hosts) == 0 {
		fmt.Fprintf(stderr, "everywhere: shard %s has none of the selected hosts: nothing to run\n", f.shard)
	}
}
