package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"everywhere/internal/driver"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/plan"
	"everywhere/internal/report"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

type hostsOptions struct {
	fleetOptions
	format  string
	resolve bool
}

func newHostsCommand(stdout, stderr io.Writer) *cobra.Command {
	var o hostsOptions
	c := &cobra.Command{
		Use:   "hosts [-i INVENTORY] [--hosts SEL]",
		Short: "Check every host: reachable? which arch, kernel and distro really? Docker? LXD?",
		Example: `  everywhere hosts -i /var/lib/everywhere/lab/inventory.yaml
  everywhere hosts -i /var/lib/everywhere/lab/inventory.yaml --format json
  everywhere hosts -H web1,web2,db`,
		Long: `Connect to every selected host and ask each driver what it finds there: the host's
uname -m (checked against the declared arch), kernel release and distribution, its Docker
engine and its LXD, each with its version and API. Exit code 1 when a host is unreachable
or not the architecture the inventory declares; a host without Docker or LXD is shown as
such (NOTE says why), not as a failure. --format json prints every probe's facts.

--resolve connects to nothing: it shows how each host would be reached (address, port,
user, keys and certificates, known_hosts files, jump hops, labels) and where each came
from (the ssh config's file:line, the inventory, or ssh's default).`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.format != "table" && o.format != "json" {
				return usagef("--format %q: use table or json", o.format)
			}
			targets, err := o.targets()
			if err != nil {
				return err
			}
			if o.resolve {
				return writeResolved(stdout, o.format, targets)
			}
			res := o.execute(cmd.Context(), stderr, targets, plan.Probes(o.drivers))
			if o.format == "json" {
				err = report.JSON(stdout, res)
			} else {
				err = hostTable(stdout, res, engineColumns(o.drivers))
			}
			if err != nil {
				return err
			}
			return hostsExit(res)
		},
	}
	o.register(c.Flags())
	c.Flags().StringVar(&o.format, "format", "table", "table or json")
	c.Flags().BoolVar(&o.resolve, "resolve", false, "show how each host resolves (ssh config, inventory), without connecting")
	return c
}

// hostFacts are a host's probe results by driver name.
func hostFacts(h result.HostResult) map[string]host.Facts {
	facts := map[string]host.Facts{}
	for _, s := range h.Steps {
		if s.Facts != nil {
			facts[s.Name] = *s.Facts
		}
	}
	return facts
}

// archMismatch says how the host's own answer differs from its declared
// arch; empty when it matches.
func archMismatch(h result.HostResult) string {
	shell := hostFacts(h)["shell"]
	if !shell.Available || h.ArchDetected { // a detected arch is the host's own answer
		return ""
	}
	reported, err := host.ParseArch(shell.Arch)
	if err != nil || string(reported) != h.Arch {
		return fmt.Sprintf("declared %s but uname -m says %s", h.Arch, shell.Arch)
	}
	return ""
}

// hostsExit fails for an unreachable host or a wrong architecture; the
// other probes only inform.
func hostsExit(res *result.Result) error {
	if res.Interrupted {
		return exitCode(result.ExitInterrupted)
	}
	for _, h := range res.Hosts {
		if h.Error != "" || !hostFacts(h)["shell"].Available || archMismatch(h) != "" {
			return exitCode(result.ExitFailed)
		}
	}
	return nil
}

// engineColumns names the drivers whose probes get a column of their own
// in `hosts`, in the registry's order: every one but shell, whose facts
// are the MACHINE, KERNEL and DISTRO columns.
func engineColumns(drivers *driver.Registry) []string {
	var names []string
	for _, d := range drivers.Drivers() {
		if d.Probe != nil && d.Name != "shell" {
			names = append(names, d.Name)
		}
	}
	return names
}

// hostTable prints a line per host from the probes' facts, a column per
// engine. Every cell is remote or inventory text: one line each,
// neutralised, padded by display cells.
func hostTable(w io.Writer, res *result.Result, engines []string) error {
	header := []string{"HOST", "DECLARED", "ADDRESS", "REACHED", "MACHINE", "KERNEL", "DISTRO"}
	for _, e := range engines {
		header = append(header, strings.ToUpper(e))
	}
	rows := [][]string{append(header, "NOTE")}
	for _, h := range res.Hosts {
		facts := hostFacts(h)
		var notes []string
		if h.Error != "" {
			notes = append(notes, h.Error)
		}
		if m := archMismatch(h); m != "" {
			notes = append(notes, m)
		}
		for _, s := range h.Steps {
			f := facts[s.Name]
			switch {
			case s.Status != result.OK && s.Status != result.Skipped:
				notes = append(notes, s.Name+": "+s.Summary())
			case !f.Available && f.Reason != "":
				notes = append(notes, s.Name+": "+f.Reason)
			case f.Note != "":
				notes = append(notes, s.Name+": "+f.Note)
			}
		}
		shell := facts["shell"]
		declared := h.Arch
		if h.ArchDetected {
			declared = "- (detected)" // none declared: MACHINE says what it is
		}
		row := []string{h.Name, declared, h.Address, yesNo(h.Error == ""), dash(shell.Arch), dash(shell.Version), dash(shell.OS)}
		for _, e := range engines {
			row = append(row, engine(facts[e]))
		}
		rows = append(rows, append(row, strings.Join(notes, "; ")))
	}
	return writeTable(w, rows)
}

// writeTable writes rows in columns two cells apart, each cell made one
// safe line and measured in display cells (tabwriter counts runes, which
// misaligns CJK and emoji).
func writeTable(w io.Writer, rows [][]string) error {
	widths := map[int]int{}
	for _, row := range rows {
		for i, cell := range row {
			row[i] = text.Line(cell)
			widths[i] = max(widths[i], text.Width(row[i]))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, cell := range row {
			line.WriteString(cell)
			line.WriteString(strings.Repeat(" ", widths[i]-text.Width(cell)+2))
		}
		b.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// engine is a backend's version and API for the table, or "-".
func engine(f host.Facts) string {
	switch {
	case !f.Available:
		return "-"
	case f.API != "":
		return f.Version + " (API " + f.API + ")"
	}
	return f.Version
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// resolvedHost is how a host would be reached, for hosts --resolve.
type resolvedHost struct {
	Name                  string            `json:"name"`
	Address               string            `json:"address"`
	Port                  int               `json:"port"`
	User                  string            `json:"user"`
	Identity              string            `json:"identity,omitempty"` // the inventory's, offered alone
	Keys                  []string          `json:"keys,omitempty"`     // the ssh config's, in order
	Certificates          []string          `json:"certificates,omitempty"`
	IdentitiesOnly        bool              `json:"identities_only,omitempty"`
	IdentityAgent         string            `json:"identity_agent,omitempty"`
	KnownHosts            []string          `json:"known_hosts"`
	HostKeyAlias          string            `json:"host_key_alias,omitempty"`
	StrictHostKeyChecking string            `json:"strict_host_key_checking,omitempty"`
	ProxyCommand          string            `json:"proxy_command,omitempty"`
	Jumps                 []resolvedHost    `json:"jumps,omitempty"`
	Labels                []string          `json:"labels,omitempty"`
	Resolver              string            `json:"resolver,omitempty"`
	Origins               map[string]string `json:"origins,omitempty"`
}

func resolved(h inventory.Host) resolvedHost {
	r := resolvedHost{Name: h.Name, Address: h.Address, Port: h.Port, User: h.User, Identity: h.Identity,
		Certificates: h.Certificates, IdentitiesOnly: h.IdentitiesOnly, IdentityAgent: h.IdentityAgent,
		KnownHosts: append([]string{h.KnownHosts}, h.MoreKnownHosts...), HostKeyAlias: h.HostKeyAlias,
		StrictHostKeyChecking: h.HostKeyPolicy, ProxyCommand: h.ProxyCommand, Labels: h.Labels,
		Resolver: h.Resolver, Origins: h.Origins}
	if h.Identity == "" {
		r.Keys = h.ConfigIdentities
	}
	for _, j := range h.Jumps {
		r.Jumps = append(r.Jumps, resolved(j))
	}
	return r
}

// writeResolved prints how each host would be reached: JSON, or a block of
// lines per host, each value with where it came from. Every value is
// inventory or config text: neutralised, one line each.
func writeResolved(w io.Writer, format string, hosts []inventory.Host) error {
	var all []resolvedHost
	for _, h := range hosts {
		all = append(all, resolved(h))
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(all)
	}
	for i, h := range all {
		blank := "\n"
		if i == 0 {
			blank = ""
		}
		by := map[string]string{"openssh": "ssh -G", "builtin": "everywhere's own resolver"}[h.Resolver]
		if _, err := fmt.Fprintf(w, "%s%s  (ssh config resolved by %s)\n", blank, text.Line(h.Name), by); err != nil {
			return err
		}
		if err := writeTable(w, resolvedRows(h, "  ")); err != nil {
			return err
		}
	}
	return nil
}

// resolvedRows are a host's lines: setting, value, origin.
func resolvedRows(h resolvedHost, indent string) [][]string {
	var rows [][]string
	add := func(label, key, value string) {
		if value != "" {
			rows = append(rows, []string{indent + label, value, h.Origins[key]})
		}
	}
	add("address", "hostname", h.Address)
	add("port", "port", strconv.Itoa(h.Port))
	add("user", "user", h.User)
	if h.Identity != "" {
		add("identity", "", h.Identity+" (inventory)")
	}
	add("keys", "identityfile", strings.Join(h.Keys, " "))
	add("certificates", "certificatefile", strings.Join(h.Certificates, " "))
	if h.IdentitiesOnly {
		add("identities only", "identitiesonly", "yes")
	}
	add("agent", "identityagent", h.IdentityAgent)
	add("known_hosts", "userknownhostsfile", strings.Join(h.KnownHosts, " "))
	add("host key alias", "hostkeyalias", h.HostKeyAlias)
	add("host key check", "stricthostkeychecking", h.StrictHostKeyChecking)
	add("proxy command", "proxycommand", h.ProxyCommand)
	for i, j := range h.Jumps {
		add(fmt.Sprintf("jump %d", i+1), "proxyjump", fmt.Sprintf("%s (%s@%s:%d)", j.Name, j.User, j.Address, j.Port))
		rows = append(rows, resolvedRows(j, indent+"  ")[1:]...)
	}
	add("labels", "", strings.Join(h.Labels, ", "))
	return rows
}
