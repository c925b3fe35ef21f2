package labkit

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// The lab's isolation: the machine forwards (LXD turns ip_forward on) and a
// lab host routes by default to the bridge, so without a rule of the lab's
// own a packet from a lab host, one of its containers or an LXD instance to
// any other address would leave the machine. The lab's nftables table
// refuses to forward anything that enters from a lab bridge and would leave
// by another interface (rejected, so that a client fails at once instead of
// waiting out a timeout), and anything from elsewhere into the lab. Traffic
// between the lab's own bridges, and to the machine's own addresses (the
// package proxy), is not forwarding out and stays allowed. A reject in one
// base chain is final whatever other tables (Docker's, LXD's) accept.

// FirewallTable is the name of the lab's nftables table.
func (c *Config) FirewallTable() string { return "everywhere-" + c.Prefix }

// labInterfaces are the machine-side interfaces of the lab's networks.
func (c *Config) labInterfaces() []string { return []string{c.Bridge(), c.LXDBridge()} }

// The overlay's addresses are known only inside the lab hosts: a packet
// for one that reaches the machine (a host lacking a route) is dropped, not
// rejected, since the machine's reply would go to an overlay address by the
// default route, off the machine; and nothing of the machine's own goes to
// the overlay but through the lab's interfaces.
func (c *Config) isolationRules() string {
	set := `{ "` + strings.Join(c.labInterfaces(), `", "`) + `" }`
	return fmt.Sprintf(`table inet %[1]s {
	chain forward {
		type filter hook forward priority filter - 10; policy accept;
		iifname %[2]s ip daddr %[3]s oifname != %[2]s counter drop comment "the overlay is routed between lab hosts only"
		iifname %[2]s oifname != %[2]s counter reject with icmpx admin-prohibited comment "lab traffic never leaves the machine"
		oifname %[2]s iifname != %[2]s counter drop comment "nothing from outside into the lab"
	}
	chain output {
		type filter hook output priority filter - 10; policy accept;
		ip daddr %[3]s oifname != %[2]s counter drop comment "the overlay is the lab's own"
	}
}
`, c.FirewallTable(), set, c.Overlay.Masked())
}

// Isolate installs the lab's table (anew: an earlier lab's is replaced)
// and its bridge rules.
func Isolate(ctx context.Context, c Config) error {
	if err := Unisolate(ctx, c); err != nil {
		return err
	}
	nft := exec.CommandContext(ctx, "nft", "-f", "-")
	nft.Stdin = strings.NewReader(c.isolationRules())
	if out, err := nft.CombinedOutput(); err != nil {
		return fmt.Errorf("installing the lab's isolation rules (nft): %w: %s", err, strings.TrimSpace(string(out)))
	}
	for _, bridge := range c.labInterfaces() {
		if err := Command(ctx, "iptables", append([]string{"-w", "-I"}, c.bridgedRule(bridge)...)...); err != nil {
			return fmt.Errorf("letting what is on %s reach each other: %w", bridge, err)
		}
	}
	return nil
}

// bridgedRule lets what is on one of the lab's bridges reach each other:
// the lab's hosts (the overlay rides on them) or the lab's LXD instances.
// Frames between them cross the bridge, and with br_netfilter (which
// Docker loads) they pass the machine's iptables FORWARD chain, whose
// policy a Docker engine of the machine's own sets to DROP. A drop there
// is final whatever LXD's own nftables table accepts. The rule names a
// bridge the lab may not have (the lab of machines' LXD bridges are inside
// the machines): iptables takes that.
func (c *Config) bridgedRule(bridge string) []string {
	return []string{"FORWARD", "-i", bridge, "-o", bridge, "-m", "comment", "--comment", "everywhere lab " + c.Prefix + ": what is on " + bridge + " reaches each other", "-j", "ACCEPT"}
}

// Unisolate removes the lab's table and bridge rules, if they are there.
func Unisolate(ctx context.Context, c Config) error {
	for _, bridge := range c.labInterfaces() {
		// -D removes one copy a time; a lab that crashed may have left several.
		for exec.CommandContext(ctx, "iptables", append([]string{"-w", "-D"}, c.bridgedRule(bridge)...)...).Run() == nil {
		}
	}
	if !tableInstalled(ctx, c) {
		return nil // not there (or no nftables at all: then nothing was installed either)
	}
	if out, err := exec.CommandContext(ctx, "nft", "delete", "table", "inet", c.FirewallTable()).CombinedOutput(); err != nil {
		return fmt.Errorf("removing the lab's isolation rules (nft): %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Shared is the state of what the lab's hosts share: the package proxy and
// the isolation rules.
type Shared struct {
	ProxyURL string
	Proxy    bool // answers
	Table    string
	Isolated bool // the table is installed
}

// SharedStatus reports the lab's proxy and isolation.
func SharedStatus(ctx context.Context, c Config) Shared {
	c = c.WithDefaults()
	return Shared{ProxyURL: c.ProxyURL(), Proxy: proxyAnswers(ctx, c) == nil, Table: "inet " + c.FirewallTable(),
		Isolated: tableInstalled(ctx, c)}
}

// tableInstalled says whether the lab's nftables table is there.
func tableInstalled(ctx context.Context, c Config) bool {
	return exec.CommandContext(ctx, "nft", "list", "table", "inet", c.FirewallTable()).Run() == nil
}
