package main

import (
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"everywhere/internal/diff"
	"everywhere/internal/result"
)

// factor is a --slower value: 2x, 1.5, or 0 for none. Checked as parsed,
// so a bad one is a usage error.
type factor struct{ p *float64 }

func (v factor) String() string { return strconv.FormatFloat(*v.p, 'f', -1, 64) + "x" }
func (v factor) Type() string   { return "factor" }
func (v factor) Set(s string) error {
	f, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(s), "x"), 64)
	if err != nil {
		return errors.New("not a factor such as 2x or 1.5x")
	}
	if f != 0 && f <= 1 {
		return errors.New("must be more than 1 (or 0: durations not compared)")
	}
	*v.p = f
	return nil
}

func newDiffCommand(stdout, _ io.Writer) *cobra.Command {
	var format, match string
	opts := diff.Options{Slower: 2}
	c := &cobra.Command{
		Use:   "diff OLD.json NEW.json [--format side|md|json|html] [--slower 2x] [--match name|arch]",
		Short: "Say what changed between two runs: regressions, fixes, output, durations, and underneath",
		Long: `Compare two saved runs (result.json or report.html, from run -o DIR), host by host
and step by step: status (ok to failed is a regression, failed to ok a fix), output
(a line diff of the kept output, each host's name, addresses, arch names, the run
id and times of day masked, so a new kernel version shows and they do not), a
duration that changed by the --slower factor (and by ` + diff.MinTimeChange.String() + ` at least), and the
hosts and steps one run has and the other not.

Beside them, what changed underneath: each host's facts (kernel, distro, package
and engine versions, images, emulation), gathered alike by architecture.

Hosts are paired by name; --match arch pairs them by architecture, to compare
runs on different machines, as are runs with no host name in common (a lab of
each suite: amd64-bookworm against amd64-trixie).

Exit codes: 0 no regression · 1 a regression · 2 bad input.`,
		Example: `  everywhere diff docs/examples/old.json docs/examples/new.json   # two lab runs, in this repository
  everywhere diff last/result.json out/result.json
  everywhere diff release-1.2/report.html out/report.html --slower 3x --format md
  everywhere diff lab/result.json cloud/result.json --match arch`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(_ *cobra.Command, args []string) error {
			if !contains(diff.Formats, format) {
				return usagef("--format %q: use one of %s", format, strings.Join(diff.Formats, ", "))
			}
			if match != "name" && match != "arch" {
				return usagef("--match %q: use name or arch", match)
			}
			opts.MatchArch = match == "arch"
			older, err := result.ReadFile(args[0])
			if err != nil {
				return usageError{err}
			}
			newer, err := result.ReadFile(args[1])
			if err != nil {
				return usageError{err}
			}
			d, err := diff.Compare(older, newer, opts)
			if err != nil {
				return err
			}
			d.Old.File, d.New.File = args[0], args[1]
			if err := diff.Render(stdout, format, d); err != nil {
				return err
			}
			if code := d.ExitCode(); code != result.ExitOK {
				return exitCode(code)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&format, "format", "side", "output: "+strings.Join(diff.Formats, ", "))
	f.Var(factor{&opts.Slower}, "slower", "report a step that took this factor longer (or shorter); 0: never")
	f.StringVar(&match, "match", "name", "pair hosts by name, or by arch")
	return c
}
