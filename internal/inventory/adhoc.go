package inventory

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"everywhere/internal/sshconfig"
)

// AdHocFile names the hosts of -H in messages, where an inventory's file would be.
const AdHocFile = "-H"

// AdHoc is an inventory of the hosts given on the command line (-H):
// "HOST[,HOST…]" or "@FILE" (one host a line, # comments), each host
// "[user@]host[:port]", resolved through the ssh config as an inventory's
// address is. Their architecture is detected when connected.
func AdHoc(list string, opts Options) (*Inventory, error) {
	specs, err := hostList(list)
	if err != nil {
		return nil, err
	}
	ssh, err := sshconfig.LoadWith(opts.SSHConfig, sshconfig.Options{Resolver: opts.SSHResolver})
	if err != nil {
		return nil, err
	}
	r := resolver{ssh: ssh}
	inv := &Inventory{File: AdHocFile}
	seen := map[string]string{}
	for _, s := range specs {
		own, alias, err := parseHop(s.text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.where, err)
		}
		h, err := r.resolve(alias, own, settings{}, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.where, err)
		}
		h.Name = hostName(alias)
		if _, dup := seen[h.Name]; dup && own.Port != 0 {
			h.Name += "_" + strconv.Itoa(own.Port)
		}
		if first, dup := seen[h.Name]; dup {
			return nil, fmt.Errorf("%s: %q: the same host as %s", s.where, s.text, first)
		}
		seen[h.Name] = s.where
		h.Line = s.line
		inv.Hosts = append(inv.Hosts, h)
	}
	if len(inv.Hosts) == 0 {
		return nil, fmt.Errorf("-H %q: no hosts", list)
	}
	return inv, nil
}

// spec is one host of -H, and where it was given for errors.
type spec struct {
	text, where string
	line        int
}

func hostList(list string) ([]spec, error) {
	file, fromFile := strings.CutPrefix(list, "@")
	if !fromFile {
		var specs []spec
		for _, s := range strings.Split(list, ",") {
			if s = strings.TrimSpace(s); s != "" {
				specs = append(specs, spec{text: s, where: "-H"})
			}
		}
		return specs, nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("-H @%s: %w", file, err)
	}
	var specs []spec
	for i, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		if strings.ContainsAny(line, " \t") {
			return nil, fmt.Errorf("%s:%d: %q: one [user@]host[:port] a line", file, i+1, line)
		}
		specs = append(specs, spec{text: line, where: fmt.Sprintf("%s:%d", file, i+1), line: i + 1})
	}
	return specs, nil
}

var notInName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// hostName makes a host's name from its address as given: what a host
// name may hold (see hostNamePattern), other runs of characters as "_".
func hostName(alias string) string {
	name := notInName.ReplaceAllString(alias, "_")
	if !hostNamePattern.MatchString(name) {
		name = "h" + name
	}
	return name
}
