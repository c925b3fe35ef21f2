package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"everywhere/internal/plan"
	"everywhere/internal/report"
	"everywhere/internal/result"
)

// probePlan finds out what each host is. Step names are the table's columns.
const probePlan = `
name: hosts
timeout: 30s
steps:
  - {name: machine, shell: uname -m, expect: {arch_matches_host: true}}
  - {name: kernel, shell: uname -r}
  - {name: distro, shell: '. /etc/os-release && echo "$PRETTY_NAME"'}
  - {name: docker, docker.version: {}}
`

func newHostsCommand(stdout, stderr io.Writer) *cobra.Command {
	var o fleetOptions
	var format string
	c := &cobra.Command{
		Use:   "hosts [-i INVENTORY] [--hosts SEL]",
		Short: "Check every host: reachable? which arch, kernel and distro really?",
		Long: `Connect to every selected host and show what it is: its uname -m (checked against the
declared arch), kernel release, distribution and Docker engine. Exit code 1 when a host
is unreachable or not the architecture the inventory declares; a host without Docker
is shown as such, not as a failure.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format != "table" && format != "json" {
				return usagef("--format %q: use table or json", format)
			}
			targets, err := o.targets()
			if err != nil {
				return err
			}
			p, err := plan.Parse("(hosts probe)", []byte(probePlan))
			if err != nil {
				return err
			}
			res := o.execute(cmd.Context(), stderr, targets, p)
			if format == "json" {
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
	c.Flags().StringVar(&format, "format", "table", "table or json")
	return c
}

// hostsExit fails for an unreachable host or a wrong architecture; the
// other probes only inform.
func hostsExit(res *result.Result) error {
	if res.Interrupted {
		return exitCode(result.ExitInterrupted)
	}
	for _, h := range res.Hosts {
		if h.Error != "" || h.Step("machine").Status != result.OK {
			return exitCode(result.ExitFailed)
		}
	}
	return nil
}

// hostTable prints a line per host from the probe plan's result.
func hostTable(w io.Writer, res *result.Result) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tDECLARED\tADDRESS\tREACHED\tMACHINE\tKERNEL\tDISTRO\tDOCKER\tNOTE")
	for _, h := range res.Hosts {
		cells := map[string]string{}
		var notes []string
		if h.Error != "" {
			notes = append(notes, h.Error)
		}
		for _, s := range h.Steps {
			cells[s.Name] = firstLine(s.Stdout)
			if s.Status != result.OK && s.Status != result.Skipped {
				notes = append(notes, s.Name+": "+s.Summary())
			}
		}
		docker, _, _ := strings.Cut(strings.TrimPrefix(cells["docker"], "Engine "), " (client")
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Arch, h.Address, yesNo(h.Error == ""),
			dash(cells["machine"]), dash(cells["kernel"]), dash(cells["distro"]), dash(docker), strings.Join(notes, "; "))
	}
	return tw.Flush()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
