package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"

	"github.com/spf13/pflag"
)

// profiles are the hidden --cpuprofile and --memprofile, for finding where a
// big fleet's time and memory go (go tool pprof; go run ./bench -profile).
type profiles struct {
	cpu, mem string
}

func (p *profiles) register(f *pflag.FlagSet) {
	f.StringVar(&p.cpu, "cpuprofile", "", "write a CPU profile of this command to `FILE`")
	f.StringVar(&p.mem, "memprofile", "", "write a heap profile (allocations and what is live) at the end of this command to `FILE`")
	_ = f.MarkHidden("cpuprofile")
	_ = f.MarkHidden("memprofile")
}

func (p *profiles) start() error {
	if p.mem != "" {
		// A sample per 64 KiB allocated, not per 512 KiB: what a run keeps
		// of a host is a few KiB, which the default rate would mostly miss.
		runtime.MemProfileRate = 64 << 10
	}
	if p.cpu == "" {
		return nil
	}
	f, err := os.Create(p.cpu)
	if err != nil {
		return err
	}
	return pprof.StartCPUProfile(f)
}

// stop flushes the CPU profile and writes the heap profile, whatever the
// command's outcome. The result is still live then, so the heap profile's
// in-use space is what a run keeps of its hosts.
func (p *profiles) stop(stderr io.Writer) {
	pprof.StopCPUProfile()
	if p.mem == "" {
		return
	}
	f, err := os.Create(p.mem)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if closeErr := f.Close(); err == nil {
			err = closeErr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "everywhere: --memprofile: %v\n", err)
	}
}
