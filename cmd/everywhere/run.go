package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"everywhere/internal/plan"
)

type runOptions struct {
	fleetOptions
	renderOptions
	planFile string
	showPlan bool
}

func newRunCommand(stdout, stderr io.Writer) *cobra.Command {
	var o runOptions
	c := &cobra.Command{
		Use:   "run [-i INVENTORY] [-p PLAN] [flags]",
		Short: "Run a plan on every selected host and report side by side",
		Long: `Run a plan's steps, in order, on every selected host at once (one SSH connection
per host, a session per step), then cleanup steps, which run even after a failure or
Ctrl-C. One host failing never stops the others.

Without -p the built-in plan runs (everywhere run --show-plan prints its YAML):
` + builtInPlanSteps() + `

A plan file:
  name: smoke
  timeout: 2m                      # default per-step limit
  steps:
    - {name: kernel, shell: uname -a, expect: {arch_matches_host: true}}
    - name: docker
      shell: dpkg -l docker.io
      critical: true               # when not ok, skip this host's later steps
      expect: {exit_code: 0, contains: docker.io, matches: '^ii', not_contains: error}
  cleanup:
    - {shell: rm -f /tmp/smoke}`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.showPlan {
				_, err := fmt.Fprint(stdout, plan.DefaultSource())
				return err
			}
			p, err := plan.Default()
			if o.planFile != "" {
				p, err = plan.Load(o.planFile)
			}
			if err != nil {
				return usageError{err}
			}
			return runAndReport(cmd.Context(), &o, stdout, stderr, p)
		},
	}
	o.fleetOptions.register(c.Flags())
	o.renderOptions.register(c.Flags(), true)
	c.Flags().StringVarP(&o.planFile, "plan", "p", "", "plan file (default: the built-in plan)")
	c.Flags().BoolVar(&o.showPlan, "show-plan", false, "print the built-in plan and exit")
	return c
}

// builtInPlanSteps lists the built-in plan's steps for --help, from the plan
// itself so that the help cannot drift from it.
func builtInPlanSteps() string {
	p, err := plan.Default()
	if err != nil {
		return "  (the built-in plan does not parse: " + err.Error() + ")"
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	for _, s := range p.Steps {
		fmt.Fprintf(tw, "  %s\t%s\n", s.Name, s.Action.Command())
	}
	for _, s := range p.Cleanup {
		fmt.Fprintf(tw, "  %s\t%s (cleanup, always runs)\n", s.Name, s.Action.Command())
	}
	_ = tw.Flush()
	return strings.TrimRight(b.String(), "\n")
}
