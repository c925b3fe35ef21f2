package main

import (
	"io"

	"github.com/spf13/cobra"

	"everywhere/internal/result"
)

func newReportMergeCommand(stdout, stderr io.Writer) *cobra.Command {
	var o renderOptions
	c := &cobra.Command{
		Use:   "merge SHARD.json... [-o DIR] [--format side|json|junit|md]",
		Short: "Join the results of the shards of one run into one report",
		Long: `Join the results of run --shard 0/N … N-1/N (each job's -o DIR/result.json) into one
result, as if one run had reached every host: hosts sorted by name, every format,
and the exit code of the whole (0 all ok, 1 something failed, 3 a shard was interrupted).

Refused, with exit code 2: a result that is not a shard's, shards of different
plans or steps or counts, a shard index given twice or missing, a host in two shards.`,
		Example: `  everywhere run -i /var/lib/everywhere/lab/inventory.yaml --shard 0/2 -o shard-0; everywhere run -i /var/lib/everywhere/lab/inventory.yaml --shard 1/2 -o shard-1
  everywhere report merge shard-*/result.json -o merged --format junit > junit.xml`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := o.check(); err != nil {
				return err
			}
			parts := make([]result.Part, len(args))
			for i, file := range args {
				res, err := result.ReadFile(file)
				if err != nil {
					return usageError{err}
				}
				parts[i] = result.Part{File: file, Result: res}
			}
			res, err := result.Merge(parts)
			if err != nil {
				return usagef("report merge: %v", err)
			}
			if err := o.render(stdout, stderr, res); err != nil {
				return err
			}
			return finish(res)
		},
	}
	o.register(c.Flags(), true)
	return c
}
