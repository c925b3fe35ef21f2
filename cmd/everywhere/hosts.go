package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"everywhere/internal/host"
	"everywhere/internal/plan"
	"everywhere/internal/report"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

type hostsOptions struct {
	fleetOptions
	format string
}

func newHostsCommand(stdout, stderr io.Writer) *cobra.Command {
	var o hostsOptions
	c := &cobra.Command{
		Use:   "hosts [-i INVENTORY] [--hosts SEL]",
		Short: "Check every host: reachable? which arch, kernel and distro really? Docker? LXD?",
		Example: `  everywhere hosts -i /var/lib/everywhere/lab/inventory.yaml
  everywhere hosts -i /var/lib/everywhere/lab/inventory.yaml --format json
  everywhere hosts -H web1,web2,db`,
		Long: `Connect to every selected host and ask each driver what it finds there: the host's
uname -m (checked against the declared arch), kernel release and distribution, its Docker
engine and its LXD, each with its version and API. Exit code 1 when a host is unreachable
or not the architecture the inventory declares; a host without Docker or LXD is shown as
such (NOTE says why), not as a failure. --format json prints every probe's facts.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.format != "table" && o.format != "json" {
				return usagef("--format %q: use table or json", o.format)
			}
			targets, err := o.targets()
			if err != nil {
				return err
			}
			res := o.execute(cmd.Context(), stderr, targets, plan.Probes())
			if o.format == "json" {
				err = report.JSON(stdout, res)
			} else {
				err = hostTable(stdout, res)
			}
			if err != nil {
				return err
			}
			return hostsExit(res)
		},
	}
	o.register(c.Flags())
	c.Flags().StringVar(&o.format, "format", "table", "table or json")
	return c
}

// hostFacts are a host's probe results by driver name.
func hostFacts(h result.HostResult) map[string]host.Facts {
	facts := map[string]host.Facts{}
	for _, s := range h.Steps {
		if s.Facts != nil {
			facts[s.Name] = *s.Facts
		}
	}
	return facts
}

// archMismatch says how the host's own answer differs from its declared
// arch; empty when it matches.
func archMismatch(h result.HostResult) string {
	shell := hostFacts(h)["shell"]
	if !shell.Available || h.ArchDetected { // a detected arch is the host's own answer
		return ""
	}
	reported, err := host.ParseArch(shell.Arch)
	if err != nil || string(reported) != h.Arch {
		return fmt.Sprintf("declared %s but uname -m says %s", h.Arch, shell.Arch)
	}
	return ""
}

// hostsExit fails for an unreachable host or a wrong architecture; the
// other probes only inform.
func hostsExit(res *result.Result) error {
	if res.Interrupted {
		return exitCode(result.ExitInterrupted)
	}
	for _, h := range res.Hosts {
		if h.Error != "" || !hostFacts(h)["shell"].Available || archMismatch(h) != "" {
			return exitCode(result.ExitFailed)
		}
	}
	return nil
}

// hostTable prints a line per host from the probes' facts. Every cell is
// remote or inventory text: one line each, neutralised, padded by display cells.
func hostTable(w io.Writer, res *result.Result) error {
	rows := [][]string{{"HOST", "DECLARED", "ADDRESS", "REACHED", "MACHINE", "KERNEL", "DISTRO", "DOCKER", "LXD", "NOTE"}}
	for _, h := range res.Hosts {
		facts := hostFacts(h)
		var notes []string
		if h.Error != "" {
			notes = append(notes, h.Error)
		}
		if m := archMismatch(h); m != "" {
			notes = append(notes, m)
		}
		for _, s := range h.Steps {
			f := facts[s.Name]
			switch {
			case s.Status != result.OK && s.Status != result.Skipped:
				notes = append(notes, s.Name+": "+s.Summary())
			case !f.Available && f.Reason != "":
				notes = append(notes, s.Name+": "+f.Reason)
			case f.Note != "":
				notes = append(notes, s.Name+": "+f.Note)
			}
		}
		shell := facts["shell"]
		declared := h.Arch
		if h.ArchDetected {
			declared = "- (detected)" // none declared: MACHINE says what it is
		}
		rows = append(rows, []string{h.Name, declared, h.Address, yesNo(h.Error == ""),
			dash(shell.Arch), dash(shell.Version), dash(shell.OS), engine(facts["docker"]), engine(facts["lxd"]), strings.Join(notes, "; ")})
	}
	return writeTable(w, rows)
}

// writeTable writes rows in columns two cells apart, each cell made one
// safe line and measured in display cells (tabwriter counts runes, which
// misaligns CJK and emoji).
func writeTable(w io.Writer, rows [][]string) error {
	widths := map[int]int{}
	for _, row := range rows {
		for i, cell := range row {
			row[i] = text.Line(cell)
			widths[i] = max(widths[i], text.Width(row[i]))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			line.WriteString(cell)
			line.WriteString(strings.Repeat(" ", widths[i]-text.Width(cell)+2))
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// engine is a backend's version and API for the table, or "-".
func engine(f host.Facts) string {
	switch {
	case !f.Available:
		return "-"
	case f.API != "":
		return f.Version + " (API " + f.API + ")"
	}
	return f.Version
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
