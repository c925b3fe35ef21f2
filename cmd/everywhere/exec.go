package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"everywhere/internal/plan"
	"everywhere/internal/shell"
)

// maxStdin bounds what exec --stdin reads, once, to send every host.
const maxStdin = 64 << 20

// execOptions are exec's own flags: how the command runs on each host.
type execOptions struct {
	sudo, tty, stdin bool
}

func newExecCommand(stdout, stderr io.Writer) *cobra.Command {
	var o runOptions
	var e execOptions
	c := &cobra.Command{
		Use:   "exec [-i INVENTORY | -H HOST,...] [--hosts SEL] [--sudo] [--tty] [--stdin] -- COMMAND [ARG...]",
		Short: "Broadcast one command to every selected host, outputs side by side",
		Example: `  everywhere exec -i /var/lib/everywhere/lab/inventory.yaml -- uname -m
  everywhere exec -i /var/lib/everywhere/lab/inventory.yaml --group -- dpkg -l docker.io
  everywhere exec -i /var/lib/everywhere/lab/inventory.yaml --tty -- 'ls --color=auto /'
  head -c 1000 /dev/urandom | everywhere exec -i /var/lib/everywhere/lab/inventory.yaml --stdin -- wc -c
  everywhere exec -H web1,ops@10.0.0.7:2222 -- uptime   # no inventory: ssh aliases or [user@]host[:port]`,
		Long: `Run one command on every selected host at once and show the outputs side by side.

Several arguments are quoted so each arrives as one argument; a single argument is
shell text, as with ssh:
  everywhere exec -- uname -a
  everywhere exec -- 'dpkg -l docker.io | grep ^ii'

--sudo runs it as root with sudo -n, which fails (saying so) on a host where sudo
would ask for a password; --tty gives it a terminal; --stdin reads standard input
once (up to 64 MiB) and sends it to every host's command, as pssh -I does:
  everywhere exec --sudo -- apt-get -y install ./pkg.deb
  tar c conf/ | everywhere exec --stdin -- tar x -C /etc/app`,
		Args: usageArgs(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := e.plan(cmd.InOrStdin(), args)
			if err != nil {
				return err
			}
			return runAndReport(cmd.Context(), &o, stdout, stderr, p)
		},
	}
	c.Flags().SetInterspersed(false)
	o.fleetOptions.register(c.Flags())
	o.renderOptions.register(c.Flags(), true)
	c.Flags().BoolVar(&e.sudo, "sudo", false, "run the command as root through sudo -n (never asks for a password)")
	c.Flags().BoolVar(&e.tty, "tty", false, "give the command a terminal (its stderr then arrives with its stdout)")
	c.Flags().BoolVar(&e.stdin, "stdin", false, "send standard input (read once, up to 64 MiB) to every host's command")
	o.tiles.register(c.Flags())
	return c
}

// plan is the one-step plan of argv, run as the flags say.
func (e execOptions) plan(stdin io.Reader, argv []string) (*plan.Plan, error) {
	p := plan.Command(argv)
	if !e.sudo && !e.tty && !e.stdin {
		return p, nil
	}
	c := &shell.Command{Text: p.Steps[0].Action.Command(), Sudo: e.sudo, TTY: e.tty}
	if e.stdin {
		data, err := io.ReadAll(io.LimitReader(stdin, maxStdin+1))
		switch {
		case err != nil:
			return nil, fmt.Errorf("--stdin: reading standard input: %w", err)
		case len(data) > maxStdin:
			return nil, usagef("--stdin: standard input is over %d MiB: copy large files with everywhere push", maxStdin>>20)
		}
		c.Stdin = data
	}
	p.Steps[0].Action, p.Steps[0].Name = c, c.Command()
	return p, nil
}
