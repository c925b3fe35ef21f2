// Command evnet is everywhere's network responder, run in every host's
// container by the net.matrix step: evnet serve answers the tests that
// evnet probe runs against another container's evnet serve.
//
//	evnet serve [-listen :7171]
//	evnet probe -to ADDR [-port 7171] [-tests ping,short,long,throughput] [-ping-count 3] [-max-loss 0] [-long-mib 32] [-seconds 3] [-min-mbit 0]
//	evnet version
//
// serve prints {"listening":ADDR,"arch":GOARCH,"emulated":BOOL} once it
// listens, then serves until killed. probe prints one JSON host.Measure a
// line, in the order of -tests, and exits 0 even when tests FAIL; 2 is a
// usage error.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/netprobe"
)

// source is the digest of the sources evnet was built from, set by
// netprobe's gen.
var source = "unknown"

func main() {
	// A broken pipe then comes back as an error: under qemu-i386 any
	// signal reaching Go's 386 runtime can crash it.
	signal.Ignore(syscall.SIGPIPE)
	if len(os.Args) < 2 {
		usage()
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "serve":
		serve(args)
	case "probe":
		probe(args)
	case "version":
		fmt.Printf("evnet %s %s/%s %s\n", source, runtime.GOOS, runtime.GOARCH, runtime.Version())
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: evnet serve [-listen :7171] | evnet probe -to ADDR [flags] | evnet version")
	os.Exit(2)
}

func serve(args []string) {
	flags := flag.NewFlagSet("evnet serve", flag.ExitOnError)
	listen := flags.String("listen", fmt.Sprintf(":%d", netprobe.DefaultPort), "TCP address to listen on")
	flags.Parse(args)
	if flags.NArg() > 0 {
		usage()
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fail(err)
	}
	os.Stdout.Write(readyLine(ln.Addr().String(), runtime.GOARCH, netprobe.Emulated()))
	if err := netprobe.Serve(context.Background(), ln); err != nil {
		fail(err)
	}
}

func probe(args []string) {
	flags := flag.NewFlagSet("evnet probe", flag.ExitOnError)
	to := flags.String("to", "", "the peer running evnet serve: an IPv4 address or a name (required)")
	port := flags.Int("port", netprobe.DefaultPort, "its evnet serve port")
	tests := flags.String("tests", strings.Join(host.NetTests, ","), "tests to run, in this order")
	pingCount := flags.Int("ping-count", 3, "ICMP echo requests")
	maxLoss := flags.Float64("max-loss", 0, "percent of echo requests that may go unanswered")
	longMiB := flags.Int("long-mib", 32, "MiB the long test sends")
	seconds := flags.Float64("seconds", 3, "seconds the throughput test sends")
	minMbit := flags.Float64("min-mbit", 0, "throughput below this FAILs (0: any byte arriving passes)")
	slowdown := flags.Float64("slowdown", 1, "multiplies the tests' time budgets (an emulated machine's timeout scale)")
	flags.Parse(args)
	names := strings.Split(*tests, ",")
	switch {
	case flags.NArg() > 0:
		usageError(flags, "unexpected arguments %q", flags.Args())
	case *to == "":
		usageError(flags, "-to is required")
	case *port < 1 || *port > 65535:
		usageError(flags, "-port %d is no TCP port", *port)
	case *pingCount < 1 || *longMiB < 1 || *seconds <= 0 || *slowdown <= 0:
		usageError(flags, "-ping-count, -long-mib, -seconds and -slowdown must be positive")
	case *maxLoss < 0 || *maxLoss > 100:
		usageError(flags, "-max-loss %g is no percentage", *maxLoss)
	}
	for _, name := range names {
		if !slices.Contains(host.NetTests, name) {
			usageError(flags, "unknown test %q (known: %s)", name, strings.Join(host.NetTests, ", "))
		}
	}

	p := netprobe.Probe{
		To:        *to,
		Port:      *port,
		PingCount: *pingCount,
		MaxLoss:   *maxLoss,
		LongMiB:   *longMiB,
		Duration:  time.Duration(*seconds * float64(time.Second)),
		MinMbit:   *minMbit,
		Slowdown:  *slowdown,
	}
	for _, name := range names {
		if _, err := os.Stdout.Write(measureLine(p.Measure(context.Background(), name))); err != nil {
			fail(err)
		}
	}
}

func usageError(flags *flag.FlagSet, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", flags.Name(), fmt.Sprintf(format, args...))
	flags.Usage()
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "evnet:", err)
	os.Exit(1)
}
