package inventory

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"everywhere/internal/sshconfig"
)

// maxJumpDepth bounds ProxyJump chains: a bastion whose own config names
// another, and so on, ends in an error rather than a loop.
const maxJumpDepth = 8

// resolver turns an address, as a user writes it (an ssh alias, a name, an
// IP), into a Host: the inventory's fields first, then ssh_config, then
// everywhere's defaults, as ssh -o options win over the config.
type resolver struct {
	ssh *sshconfig.Config
}

// resolve resolves alias with own (the host's fields) over defaults (the
// inventory's) over the ssh config, as ssh -l and -p win over it (and are
// what its Match user, %r and %p see). depth counts the jumps that led here.
func (r resolver) resolve(alias string, own, defaults settings, depth int) (Host, error) {
	q := queryFor(alias, own, defaults)
	cs, err := r.ssh.ResolveFor(context.Background(), q)
	if err != nil {
		return Host{}, err
	}
	h := Host{
		Name:           alias,
		Address:        cs.HostName,
		Port:           first(own.Port, defaults.Port, cs.Port, DefaultPort),
		User:           first(q.User, cs.User, currentUser()),
		IdentitiesOnly: cs.IdentitiesOnly,
		IdentityAgent:  cs.IdentityAgent,
		HostKeyAlias:   cs.HostKeyAlias,
		HostKeyPolicy:  cs.StrictHostKeyChecking,
		ConnectTimeout: first(own.ConnectTimeout, defaults.ConnectTimeout, cs.ConnectTimeout, DefaultConnectTimeout),
		Keepalive:      first(own.Keepalive, defaults.Keepalive, cs.ServerAliveInterval, DefaultKeepalive),
		Origins:        cs.Origins,
		Resolver:       cs.Resolver,
	}
	tokens := sshconfig.Tokens{Alias: alias, HostName: h.Address, Port: h.Port, User: h.User, HostKeyAlias: h.HostKeyAlias}
	expandAll := func(key string, values []string) ([]string, error) {
		var out []string
		for _, v := range values {
			e, err := sshconfig.Expand(v, tokens)
			if err != nil {
				return nil, fmt.Errorf("ssh config: host %s: %s: %w (at %s)", alias, key, err, cs.Origins[strings.ToLower(key)])
			}
			out = append(out, e)
		}
		return out, nil
	}
	h.Identity = first(own.Identity, defaults.Identity)
	if h.ConfigIdentities, err = expandAll("IdentityFile", cs.IdentityFiles); err != nil {
		return Host{}, err
	}
	if h.Certificates, err = expandAll("CertificateFile", cs.CertificateFiles); err != nil {
		return Host{}, err
	}
	userFiles := cs.UserKnownHostsFiles
	if kh := first(own.KnownHosts, defaults.KnownHosts); kh != "" {
		userFiles = []string{kh} // as ssh -o UserKnownHostsFile=…
		h.Origins = withOrigin(h.Origins, "userknownhostsfile", "inventory")
	}
	h.KnownHosts = resolvePath("", first(append(userFiles, "~/.ssh/known_hosts")...))
	if len(userFiles) > 1 {
		h.MoreKnownHosts = append(h.MoreKnownHosts, userFiles[1:]...)
	}
	h.MoreKnownHosts = append(h.MoreKnownHosts, cs.GlobalKnownHostsFiles...)
	if q.User != "" {
		h.Origins = withOrigin(h.Origins, "user", "inventory")
	}
	if q.Port != 0 {
		h.Origins = withOrigin(h.Origins, "port", "inventory")
	}

	jump := first(own.ProxyJump, defaults.ProxyJump)
	switch {
	case strings.EqualFold(jump, "none"):
		jump = ""
	case jump != "":
		h.Origins = withOrigin(h.Origins, "proxyjump", "inventory")
	case cs.ProxyJump != "":
		jump = cs.ProxyJump
	case cs.ProxyCommand != "":
		if h.ProxyCommand, err = sshconfig.ExpandCommand(cs.ProxyCommand, tokens); err != nil {
			return Host{}, fmt.Errorf("ssh config: host %s: ProxyCommand: %w", alias, err)
		}
	}
	if jump != "" {
		if h.Jumps, err = r.jumps(jump, defaults, depth); err != nil {
			return Host{}, fmt.Errorf("proxy jump %q: %w", jump, err)
		}
	}
	return h, nil
}

// queryFor is what the ssh config is asked of alias: the user and port
// that win over it (ssh -l, -p).
func queryFor(alias string, own, defaults settings) sshconfig.Query {
	q := sshconfig.Query{Alias: alias, User: first(own.User, defaults.User), Port: first(own.Port, defaults.Port)}
	if q.Port < 1 || q.Port > 65535 {
		q.Port = 0 // refused where the inventory says it
	}
	return q
}

// prefetchLimit is how many ssh -G run at once while an inventory loads.
const prefetchLimit = 8

// withOrigin is origins with key set to at, the map copied: one host's
// origins may be another's (the config answers an alias once).
func withOrigin(origins map[string]string, key, at string) map[string]string {
	out := make(map[string]string, len(origins)+1)
	for k, v := range origins {
		out[k] = v
	}
	out[key] = at
	return out
}

// jumps resolves a ProxyJump list, "[user@]host[:port],…", each hop through
// the ssh config under the inventory's defaults. As with ssh -J, the first
// hop's own ProxyJump is honoured (it is reached first, its own way); a
// later hop is reached through the hops before it.
func (r resolver) jumps(spec string, defaults settings, depth int) ([]Host, error) {
	if depth >= maxJumpDepth {
		return nil, fmt.Errorf("more than %d jumps deep: is there a loop?", maxJumpDepth)
	}
	var hops []Host
	for i, hop := range strings.Split(spec, ",") {
		own, alias, err := parseHop(strings.TrimSpace(hop))
		if err != nil {
			return nil, err
		}
		h, err := r.resolve(alias, own, defaults, depth+1)
		if err != nil {
			return nil, fmt.Errorf("jump host %s: %w", alias, err)
		}
		if i > 0 {
			h.Jumps, h.ProxyCommand = nil, ""
			// ssh reaches this hop with ssh -J the one before: the same
			// host, port and user twice is a loop it refuses.
			if prev := hops[len(hops)-1]; prev.Address == h.Address && prev.Port == h.Port && prev.User == h.User {
				return nil, fmt.Errorf("jumphost loop via %s", prev.Address)
			}
		}
		// A hop's own hops come before it: flatten them into the chain.
		hops = append(append(hops, h.Jumps...), h)
		hops[len(hops)-1].Jumps = nil
	}
	return hops, nil
}

// parseHop reads "[user@]host[:port]" (also as ssh://[user@]host[:port]).
func parseHop(s string) (settings, string, error) {
	var own settings
	rest := strings.TrimPrefix(s, "ssh://")
	if u, h, found := strings.Cut(rest, "@"); found {
		own.User, rest = u, h
	}
	hostPart, port := splitPort(rest)
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return settings{}, "", fmt.Errorf("%q: port %q is not in 1-65535", s, port)
		}
		own.Port = n
	}
	if hostPart == "" || strings.ContainsAny(hostPart, " \t/") {
		return settings{}, "", fmt.Errorf("%q: want [user@]host[:port]", s)
	}
	return own, hostPart, nil
}

// splitPort splits host:port and [v6]:port; the port is "" when absent,
// as in a bare IPv6 address.
func splitPort(s string) (host, port string) {
	if rest, ok := strings.CutPrefix(s, "["); ok {
		host, after, _ := strings.Cut(rest, "]")
		return host, strings.TrimPrefix(after, ":")
	}
	if strings.Count(s, ":") != 1 {
		return s, ""
	}
	host, port, _ = strings.Cut(s, ":")
	return host, port
}
