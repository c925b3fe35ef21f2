// Command everywhere runs the same steps on many machines of different CPU
// architectures at once and shows what happened side by side.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"everywhere/internal/result"
)

func main() {
	// SIGTERM (a CI job cancelled, systemd stopping) and SIGHUP (the
	// terminal closed) are Ctrl-C too: cleanup runs and the report is
	// written. The second signal cuts cleanup short, the report still
	// written; the third ends the process at once.
	signals := make(chan os.Signal, 3)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	ctx, cancel := context.WithCancel(context.Background())
	abort, abortCleanup := context.WithCancel(context.Background())
	go func() {
		sig := <-signals
		fmt.Fprintf(os.Stderr, "\neverywhere: %v: stopping; running cleanup (Ctrl-C again to cut it short)\n", sig)
		cancel()
		sig = <-signals
		fmt.Fprintf(os.Stderr, "\neverywhere: %v again: cutting cleanup short; writing the report of what was done (Ctrl-C again to quit now)\n", sig)
		abortCleanup()
		<-signals
		os.Exit(result.ExitInterrupted)
	}()
	code := Main(withAbort(ctx, abort), os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	abortCleanup()
	os.Exit(code)
}

type abortKey struct{}

// withAbort carries the context whose end cuts cleanup short to the
// commands, under the run's own context.
func withAbort(ctx, abort context.Context) context.Context {
	return context.WithValue(ctx, abortKey{}, abort)
}

// abortOf is the context set by withAbort, or nil (tests, where cleanup
// is bounded by its timeout alone).
func abortOf(ctx context.Context) context.Context {
	abort, _ := ctx.Value(abortKey{}).(context.Context)
	return abort
}

// Main runs the command line args and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root, prof := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	prof.stop(stderr)
	var code exitCode
	var usage usageError
	switch {
	case err == nil:
		return result.ExitOK
	case errors.As(err, &code):
		return int(code)
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "everywhere: %v\n", err)
		return result.ExitUsage
	}
	fmt.Fprintf(stderr, "everywhere: %v\n", err)
	if ctx.Err() != nil {
		return result.ExitInterrupted
	}
	return result.ExitFailed
}

func newRootCommand(stdout, stderr io.Writer) (*cobra.Command, *profiles) {
	root := &cobra.Command{
		Use:   "everywhere",
		Short: "Run the same steps on many machines of different architectures, side by side",
		Long: `everywhere brings the same sequence of steps up on many machines at once, over SSH,
and shows what happened side by side: a column per host, a row per step.

An inventory (YAML) says which hosts to reach, their declared architecture and how;
a plan (YAML) lists the steps, what each must show, and cleanup that always runs.
See inventory.example.yaml and the built-in plan (everywhere run --show-plan).

Exit codes: 0 all ok · 1 a step failed or an expectation was unmet · 2 usage or
configuration error · 3 interrupted.`,
		Example: `  everywhere run -i inventory.yaml                  # the built-in plan on every host
  everywhere run -i inventory.yaml -p smoke.yaml --hosts arch=arm64,label=edge
  everywhere exec -i inventory.yaml -- uname -a     # one command, outputs side by side
  everywhere run -i inventory.yaml --tiles          # a live pane per host, then the report
  everywhere console -i inventory.yaml              # type once, every host answers in its pane
  everywhere hosts -i inventory.yaml                # reachability, arch, kernel, distro
  everywhere exec -H web1,ops@10.0.0.7:2222 -- uptime   # no inventory: ssh aliases or [user@]host[:port]
  everywhere exec -H @hosts.txt --ssh-config ~/.ssh/work.conf -- uname -m
  everywhere run -i inventory.yaml -o out --format junit
  everywhere report out/result.json --format md     # render a saved run again`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionLine(),
	}
	root.SetVersionTemplate("everywhere {{.Version}}\n")
	var prof profiles
	prof.register(root.PersistentFlags())
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return prof.start() }
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usagef("%v (see %s --help)", err, c.CommandPath())
	})
	root.Args = usageArgs(cobra.NoArgs) // an unknown command is a usage error
	root.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	root.AddCommand(newRunCommand(stdout, stderr), newExecCommand(stdout, stderr), newPushCommand(stdout, stderr), newHostsCommand(stdout, stderr), newReportCommand(stdout, stderr), newLabCommand(stdout, stderr), newCleanCommand(stdout, stderr), newDiffCommand(stdout, stderr), newConsoleCommand(stderr))
	return root, &prof
}

// usageArgs makes a wrong argument count a usage error (exit code 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := check(c, args); err != nil {
			return usagef("%v (see %s --help)", err, c.CommandPath())
		}
		return nil
	}
}
