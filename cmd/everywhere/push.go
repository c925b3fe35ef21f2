package main

import (
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"everywhere/internal/filepush"
	"everywhere/internal/plan"
)

func newPushCommand(stdout, stderr io.Writer) *cobra.Command {
	var o runOptions
	c := &cobra.Command{
		Use:   "push [-i INVENTORY | -H HOST,...] [--hosts SEL] LOCAL REMOTE",
		Short: "Copy a file or a directory to every selected host, modes kept, checksums verified",
		Example: `  everywhere push -i /var/lib/everywhere/lab/inventory.yaml ./README.md /tmp/
  everywhere push -i /var/lib/everywhere/lab/inventory.yaml --hosts arch=arm64 ./docs /tmp/everywhere-docs`,
		Long: `Copy a local file or directory to every selected host at once, over each host's SSH
connection: SFTP where the host serves it, else streamed through a shell session.
Modes are kept; each file is written beside its place and renamed into it (nothing
ever sees half a file), then its SHA-256 is checked on the host.

A file goes to REMOTE, or into it when REMOTE ends in / or is a directory; a
directory's contents go into REMOTE, created as needed. A relative REMOTE is from
the login directory. The same step in a plan:
  - file.push: {src: dist/app.deb, dest: /tmp/}   # src relative to the plan file

  everywhere push -i hosts ./app.deb /tmp/
  everywhere push -H web1,web2 --hosts 'web*' ./conf/ /etc/app`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := filepath.Abs(args[0])
			if err != nil {
				return err
			}
			push := &filepush.Push{Src: src, Dest: args[1]}
			if err := push.Validate(); err != nil {
				return usageError{err}
			}
			p := &plan.Plan{Name: "push", Steps: []plan.Step{{Name: push.Command(), Kind: filepush.Kind, Action: push}}}
			return runAndReport(cmd.Context(), &o, stdout, stderr, p)
		},
	}
	o.fleetOptions.register(c.Flags())
	o.renderOptions.register(c.Flags(), true)
	return c
}
