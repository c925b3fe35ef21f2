package main

import (
	"io"

	"github.com/spf13/cobra"

	"everywhere/internal/plan"
	"everywhere/internal/run"
)

func newCleanCommand(stdout, stderr io.Writer) *cobra.Command {
	var o runOptions
	c := &cobra.Command{
		Use:   "clean [-i INVENTORY] [--hosts SEL]",
		Short: "Remove what runs that are gone left on the hosts (containers, LXD instances)",
		Example: `  everywhere clean -i /var/lib/everywhere/lab/inventory.yaml
  everywhere clean -i inventory.yaml --hosts label=edge`,
		Long: `Everything a run creates carries its run id: Docker containers the label
io.everywhere.run=RUN_ID, LXD instances the config key user.everywhere.run=RUN_ID. The run
removes it when done, also after a failure or Ctrl-C; what a killed everywhere could not
remove, and containers kept with keep: true, clean removes from every selected host.

A run in progress on this machine holds a lease (under ~/.local/state/everywhere/runs) and
what it owns is kept. Runs of everywhere on other machines have no lease here: run clean
where they ran, or when they are over.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAndReport(cmd.Context(), &o, stdout, stderr, plan.Cleaners(o.drivers, run.Live))
		},
	}
	o.fleetOptions.register(c.Flags())
	o.renderOptions.register(c.Flags(), false)
	return c
}
