package main

import (
	"io"

	"github.com/spf13/cobra"

	"everywhere/internal/plan"
)

func newExecCommand(stdout, stderr io.Writer) *cobra.Command {
	var o runOptions
	c := &cobra.Command{
		Use:   "exec [-i INVENTORY] [--hosts SEL] -- COMMAND [ARG...]",
		Short: "Broadcast one command to every selected host, outputs side by side",
		Long: `Run one command on every selected host at once and show the outputs side by side.

Several arguments are quoted so each arrives as one argument; a single argument is
shell text, as with ssh:
  everywhere exec -- uname -a
  everywhere exec -- 'dpkg -l docker.io | grep ^ii'`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAndReport(cmd.Context(), &o, stdout, stderr, plan.Command(args))
		},
	}
	c.Flags().SetInterspersed(false)
	o.fleetOptions.register(c.Flags())
	o.renderOptions.register(c.Flags(), true)
	o.tiles.register(c.Flags())
	return c
}
