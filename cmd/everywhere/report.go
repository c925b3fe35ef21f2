package main

import (
	"io"

	"github.com/spf13/cobra"

	"everywhere/internal/result"
)

func newReportCommand(stdout, stderr io.Writer) *cobra.Command {
	var o renderOptions
	c := &cobra.Command{
		Use:   "report RESULT.json|REPORT.html [--format side|json|junit|md|html]",
		Short: "Render a saved result again, in any format",
		Long: `Render a result saved by run -o DIR (DIR/result.json, or the page DIR/report.html,
which embeds it) again, in any format.
The exit code is the saved run's: 0 all ok, 1 something failed, 3 it was interrupted.`,
		Example: `  everywhere report out/demo/result.json             # make demo's run
  everywhere report out/demo/report.html --format md  # the page embeds the result
  everywhere report out/result.json --format junit > junit.xml`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			res, err := result.ReadFile(args[0])
			if err != nil {
				return usageError{err}
			}
			if err := o.render(stdout, stderr, res); err != nil {
				return err
			}
			return finish(res)
		},
	}
	o.register(c.Flags(), false)
	c.AddCommand(newReportMergeCommand(stdout, stderr))
	return c
}
