package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"everywhere/internal/drivers"
	"everywhere/internal/plan"
)

type runOptions struct {
	fleetOptions
	renderOptions
	planFile string
	showPlan bool
	tiles    tileOptions
	release  *releaseOptions // run's own: nil for exec and clean
}

func newRunCommand(stdout, stderr io.Writer) *cobra.Command {
	o := runOptions{release: &releaseOptions{}}
	c := &cobra.Command{
		Use:   "run [-i INVENTORY] [-p PLAN] [flags]",
		Short: "Run a plan on every selected host and report side by side",
		Example: `  everywhere run -i /var/lib/everywhere/lab/inventory.yaml                       # the built-in plan on the lab
  everywhere run -i /var/lib/everywhere/lab/inventory.yaml -p seed -o out/seed    # the demo's whole sequence, every format saved
  everywhere run -i /var/lib/everywhere/lab/inventory.yaml --tiles --hosts arch=arm64,arch=s390x
  everywhere run -i inventory.yaml -p smoke.yaml --hosts label=edge --format junit > junit.xml`,
		Long: `Run a plan's steps, in order, on every selected host at once (one SSH connection
per host, a session per step), then cleanup steps, which run even after a failure or
Ctrl-C. One host failing never stops the others.

Built-in plans (-p NAME; --show-plan -p NAME prints one's YAML, to copy):
` + builtInPlans() + `

Without -p the default plan runs:
` + builtInPlanSteps() + `

A plan file:
  name: smoke
  timeout: 2m                      # default per-step limit
  timeout_scale: {emulated: 4}     # 8m where a host's facts say it is emulated
  steps:
    - {name: kernel, shell: uname -a, expect: {arch_matches_host: true}}
    - name: docker
      shell: dpkg -l docker.io
      critical: true               # when not ok, skip this host's later steps
      expect: {exit_code: 0, contains: docker.io, matches: '^ii', not_contains: error}
    - {name: push, file.push: {src: dist/app.deb, dest: /tmp/}}   # src relative to the plan file
    - name: install
      shell: {command: apt-get install -y /tmp/app.deb, sudo: true}   # sudo -n; also tty: true
      retries: 1                   # once more when not ok: passing then is "flaky"
      needs: [push]                # run again with it (--rerun-failed --steps failed)
  cleanup:
    - {shell: rm -f /tmp/smoke}

Every run records each host's facts in result.json (kernel, distro, versions of
docker.io, containerd, runc, lxd, incus, podman, the engines' versions, images, and
whether it runs emulated): everywhere diff shows what moved underneath.
--rerun-failed out/result.json runs again the hosts that were not ok and writes
out/ again with their outcome in place, marked re-run.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if src, builtin := plan.BuiltinSource(o.planFile); o.showPlan && builtin {
				_, err := fmt.Fprint(stdout, src)
				return err
			}
			p, err := plan.Open(o.planFile, o.drivers)
			if err != nil {
				return usageError{err}
			}
			if o.showPlan {
				return usagef("--show-plan prints a built-in plan; %s is a file: read it", o.planFile)
			}
			return runAndReport(cmd.Context(), &o, stdout, stderr, p)
		},
	}
	o.fleetOptions.register(c.Flags())
	o.renderOptions.register(c.Flags(), true)
	o.tiles.register(c.Flags())
	o.release.register(c.Flags())
	c.Flags().StringVarP(&o.planFile, "plan", "p", plan.DefaultName, "a built-in plan's name ("+strings.Join(plan.Builtins(), ", ")+") or a plan file")
	c.Flags().BoolVar(&o.showPlan, "show-plan", false, "print the built-in plan's YAML (-p NAME) and exit")
	return c
}

// builtInPlans lists the built-in plans with what each does.
func builtInPlans() string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 2, 8, 2, ' ', 0)
	for _, name := range plan.Builtins() {
		fmt.Fprintf(tw, "  %s\t%s\n", name, plan.BuiltinSummary(name))
	}
	_ = tw.Flush()
	return strings.TrimRight(b.String(), "\n")
}

// builtInPlanSteps lists the built-in plan's steps for --help, from the plan
// itself so that the help cannot drift from it.
func builtInPlanSteps() string {
	p, err := plan.Default(drivers.All())
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
