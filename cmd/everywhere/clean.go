package main

import (
	"io"

	"github.com/spf13/cobra"

	"everywhere/internal/plan"
)

// cleanPlan removes what earlier runs left behind, found by their labels.
const cleanPlan = `
name: clean
timeout: 2m
steps:
  - {name: docker, docker.clean: {}}
`

func newCleanCommand(stdout, stderr io.Writer) *cobra.Command {
	var o runOptions
	c := &cobra.Command{
		Use:   "clean [-i INVENTORY] [--hosts SEL]",
		Short: "Remove what earlier runs left on the hosts (containers labelled io.everywhere.run)",
		Long: `Every container a run creates carries the label io.everywhere.run=RUN_ID, and the run
removes it when done, also after a failure or Ctrl-C. What a killed everywhere could
not remove, and containers kept with keep: true, clean removes from every selected host.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := plan.Parse("(clean)", []byte(cleanPlan))
			if err != nil {
				return err
			}
			return runAndReport(cmd.Context(), &o, stdout, stderr, p)
		},
	}
	o.fleetOptions.register(c.Flags())
	o.renderOptions.register(c.Flags(), false)
	return c
}
