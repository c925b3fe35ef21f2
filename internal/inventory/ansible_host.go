package inventory

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"everywhere/internal/host"
	"everywhere/internal/sshconfig"
)

// ansibleSSHArgs is ssh_args when no ansible_ssh_args says otherwise:
// ansible-core's default, which everywhere takes as is (it reads no
// ansible.cfg).
const ansibleSSHArgs = "-C -o ControlMaster=auto -o ControlPersist=60s"

// ansibleTimeout is ansible-core's default ConnectTimeout, in seconds.
const ansibleTimeout = "10"

// ansibleConnections are the ansible_connection values that are ssh.
var ansibleConnections = map[string]bool{"": true, "ssh": true, "smart": true, "ansible.builtin.ssh": true, "ansible.legacy.ssh": true}

// resolve turns the inventory's hosts into Hosts, in the order declared;
// those everywhere cannot reach as Ansible would are left out, each with
// a Warning.
func (inv *ansibleInventory) resolve(opts Options) (*Inventory, error) {
	if len(inv.order) == 0 {
		return nil, inv.errorf(0, "no hosts in this Ansible inventory")
	}
	ssh, err := sshconfig.LoadWith(opts.SSHConfig, sshconfig.Options{Resolver: opts.SSHResolver})
	if err != nil {
		return nil, err
	}
	inv.computeDepths()
	out := &Inventory{File: inv.file}
	warn := func(w Warning) { out.Warnings = append(out.Warnings, w) }
	dirs := []*varsDir{{dir: inv.base, cache: map[string]map[string]ansibleVar{}, warn: warn}}
	if opts.PlaybookDir != "" {
		dirs = append(dirs, &varsDir{dir: opts.PlaybookDir, cache: map[string]map[string]ansibleVar{}, warn: warn})
	}
	p := &parser{file: inv.file, base: inv.base, resolver: resolver{ssh: ssh}, blocks: opts.Blocks}
	names := map[string]string{}
	for _, name := range inv.order {
		ah := inv.hosts[name]
		vars, labels, err := inv.hostVars(ah, dirs)
		if err != nil {
			return nil, err
		}
		h, err := inv.host(p, ah, vars, labels)
		var left *leftOut
		if errors.As(err, &left) {
			warn(Warning{File: left.from.file, Line: left.from.line, Host: name, Msg: left.msg})
			continue
		}
		if err != nil {
			return nil, err
		}
		if other, dup := names[h.Name]; dup {
			return nil, fmt.Errorf("%s:%d: host %q: its name as everywhere writes it, %s, is also %q's", ah.file, ah.line, name, h.Name, other)
		}
		names[h.Name] = name
		out.Hosts = append(out.Hosts, h)
	}
	if opts.Strict && len(out.Warnings) > 0 {
		lines := make([]string, len(out.Warnings))
		for i, w := range out.Warnings {
			lines[i] = w.String()
		}
		return nil, fmt.Errorf("%s (--strict-inventory)", strings.Join(lines, "\n"))
	}
	if len(out.Hosts) == 0 {
		return nil, fmt.Errorf("%s: no host everywhere can reach: %s", inv.file, out.Warnings[0])
	}
	return out, nil
}

// leftOut is why a host is left out of the run: what Ansible would fail
// at when connecting to it, or reach another way than ssh.
type leftOut struct {
	from ansibleVar
	msg  string
}

func (l *leftOut) Error() string { return l.msg }

// option is the value of one of the connection plugin's options, which
// Ansible takes from the last of its variable names that has one (so an
// old name, listed last, wins over the new one, whichever level set it).
func option(vars map[string]ansibleVar, names ...string) (string, ansibleVar, bool) {
	for i := len(names) - 1; i >= 0; i-- {
		if v, ok := vars[names[i]]; ok && !v.null {
			return names[i], v, true
		}
	}
	return "", ansibleVar{}, false
}

// host resolves one Ansible host as Ansible's ssh connection reaches it:
// the ssh command Ansible builds from its variables, read as ssh reads
// it, then the ssh config for what that command leaves unsaid.
func (inv *ansibleInventory) host(p *parser, ah *ansibleHost, vars map[string]ansibleVar, labels []string) (Host, error) {
	declared := ansibleVar{file: ah.file, line: ah.line}
	t := templater{vars: vars, magic: map[string]string{
		"inventory_hostname": ah.name, "inventory_hostname_short": strings.SplitN(ah.name, ".", 2)[0],
		"inventory_file": ah.file, "inventory_dir": filepath.Dir(ah.file),
	}}
	get := func(names ...string) (string, ansibleVar, bool, error) {
		name, v, ok := option(vars, names...)
		if !ok {
			return "", v, false, nil
		}
		s, err := t.render(name, v, 0)
		if err != nil {
			return "", v, false, &leftOut{v, err.Error()}
		}
		return s, v, true, nil
	}
	if conn, v, _, err := get("ansible_connection"); err != nil {
		return Host{}, err
	} else if !ansibleConnections[conn] {
		return Host{}, &leftOut{v, fmt.Sprintf("ansible_connection %s: everywhere reaches hosts over ssh only", conn)}
	}
	if pass, v, _, err := get("ansible_password", "ansible_ssh_pass", "ansible_ssh_password"); err != nil {
		return Host{}, err
	} else if pass != "" {
		return Host{}, &leftOut{v, "a password (ansible_password or ansible_ssh_pass): everywhere logs in with keys only (ansible_ssh_private_key_file, ssh-agent)"}
	}

	// The words of the ssh command, in the order Ansible writes them.
	var words []sshWord
	add := func(v ansibleVar, name string, args ...string) {
		for _, a := range args {
			words = append(words, sshWord{a, v, name})
		}
	}
	split := func(names ...string) error {
		s, v, ok, err := get(names...)
		if err != nil || !ok {
			return err
		}
		args, err := shellWords(s, false)
		if err != nil {
			return &leftOut{v, fmt.Sprintf("%s: %v", names[0], err)}
		}
		add(v, names[0], args...)
		return nil
	}
	if _, _, ok := option(vars, "ansible_ssh_args"); ok {
		if err := split("ansible_ssh_args"); err != nil {
			return Host{}, err
		}
	} else {
		add(declared, "", strings.Fields(ansibleSSHArgs)...)
	}
	if check, v, ok, err := get("ansible_host_key_checking", "ansible_ssh_host_key_checking"); err != nil {
		return Host{}, err
	} else if ok && !contains([]string{"y", "yes", "on", "1", "true", "t"}, strings.ToLower(check)) {
		add(v, "ansible_host_key_checking", "-o", "StrictHostKeyChecking=no")
	}
	if port, v, ok, err := get("ansible_port", "ansible_ssh_port"); err != nil {
		return Host{}, err
	} else if ok {
		n, err := strconv.Atoi(strings.TrimSpace(port))
		if err != nil {
			return Host{}, &leftOut{v, fmt.Sprintf("ansible_port %q is not a number", port)}
		}
		add(v, "ansible_port", "-o", "Port="+strconv.Itoa(n))
	}
	if key, v, ok, err := get("ansible_private_key_file", "ansible_ssh_private_key_file"); err != nil {
		return Host{}, err
	} else if ok && key != "" {
		add(v, "ansible_ssh_private_key_file", "-o", `IdentityFile="`+resolvePath("", key)+`"`)
	}
	if user, v, ok, err := get("ansible_user", "ansible_ssh_user"); err != nil {
		return Host{}, err
	} else if ok && user != "" {
		add(v, "ansible_user", "-o", `User="`+user+`"`)
	}
	timeout, tv, ok, err := get("ansible_ssh_timeout")
	if err != nil {
		return Host{}, err
	}
	if !ok {
		timeout, tv = ansibleTimeout, declared
	}
	add(tv, "ansible_ssh_timeout", "-o", "ConnectTimeout="+timeout)
	for _, names := range [][]string{{"ansible_ssh_common_args"}, {"ansible_ssh_extra_args"}} {
		if err := split(names...); err != nil {
			return Host{}, err
		}
	}
	destination, dv, ok, err := get("ansible_host", "ansible_ssh_host")
	if err != nil {
		return Host{}, err
	}
	if !ok || destination == "" {
		destination, dv = ah.name, declared
	}

	cmd, err := parseSSHCommand(words)
	var bad *sshArgError
	if errors.As(err, &bad) {
		return Host{}, &leftOut{bad.word.from, fmt.Sprintf("%s: %s", first(bad.word.name, "ssh"), bad.msg)}
	}
	h, err := inv.reach(p, ah, destination, dv, cmd)
	if err != nil {
		return Host{}, err
	}
	if v, ok := vars["arch"]; ok {
		s, err := t.render("arch", v, 0)
		if err == nil {
			h.Arch, err = host.ParseArch(s)
		}
		if err != nil {
			return Host{}, fmt.Errorf("%s: host %q: arch: %v", v.where(), ah.name, err)
		}
		h.Origins = withOrigin(h.Origins, "arch", v.where())
	}
	h.Name, h.Labels, h.Line = hostName(ah.name), labels, ah.line
	if h.blocks, err = p.decodeBlocks(nil, fmt.Sprintf("host %q", ah.name)); err != nil {
		return Host{}, err
	}
	return h, nil
}

// reach resolves destination with what cmd says over the ssh config, as
// ssh takes its command line over its config.
func (inv *ansibleInventory) reach(p *parser, ah *ansibleHost, destination string, dv ansibleVar, cmd *sshCommand) (Host, error) {
	origins := map[string]string{"hostname": dv.where()}
	note := func(setting string, v sshValue) {
		if v.set {
			origins[setting] = v.from.from.where()
		}
	}
	var own settings
	if at := strings.LastIndexByte(destination, '@'); at >= 0 {
		if at == len(destination)-1 {
			return Host{}, &leftOut{dv, fmt.Sprintf("ansible_host %s: no host after the user (ssh refuses it)", destination)}
		}
		if !validRemoteUser(destination[:at]) {
			return Host{}, &leftOut{dv, fmt.Sprintf("ansible_host %s: ssh refuses a remote user name with these characters", destination)}
		}
		cmd.user.first(destination[:at], sshWord{from: dv})
		destination = destination[at+1:]
	}
	own.User = cmd.user.value
	if cmd.port.set {
		own.Port, _ = sshPort(cmd.port.value)
	}
	if cmd.connectTimeout.set {
		own.ConnectTimeout, _ = sshTime(cmd.connectTimeout.value)
	}
	if cmd.keepalive.set {
		own.Keepalive, _ = sshTime(cmd.keepalive.value)
	}
	if len(cmd.identities) == 1 {
		own.Identity = resolvePath("", cmd.identities[0].value)
	}
	if cmd.knownHosts.set {
		own.KnownHosts = cmd.knownHosts.value
		if strings.EqualFold(own.KnownHosts, "none") {
			own.KnownHosts = "/dev/null"
		}
	}
	if cmd.jump.set {
		own.ProxyJump = cmd.jump.value
	} else if cmd.proxyCommand.set {
		own.ProxyJump = "none" // ssh's config gives neither a jump nor a command now
	}
	h, err := p.resolve(destination, own, settings{}, 0)
	if err != nil {
		return Host{}, &leftOut{dv, err.Error()}
	}
	if cmd.hostName.set {
		h.Address = cmd.hostName.value
		note("address", cmd.hostName)
	}
	tokens := sshconfig.Tokens{Alias: destination, HostName: h.Address, Port: h.Port, User: h.User}
	expand := func(s string, v sshValue) (string, error) {
		out, err := sshconfig.Expand(s, tokens)
		if err != nil {
			return "", &leftOut{v.from.from, fmt.Sprintf("%s: %v", first(v.from.name, "ssh"), err)}
		}
		return out, nil
	}
	if len(cmd.identities) > 1 {
		var ids []string
		for _, id := range cmd.identities {
			f, err := expand(id.value, id)
			if err != nil {
				return Host{}, err
			}
			ids = append(ids, resolvePath("", f))
		}
		h.ConfigIdentities = append(ids, h.ConfigIdentities...)
	} else if h.Identity != "" {
		if h.Identity, err = expand(h.Identity, cmd.identities[0]); err != nil {
			return Host{}, err
		}
	}
	if cmd.knownHosts.set {
		if h.KnownHosts, err = expand(h.KnownHosts, cmd.knownHosts); err != nil {
			return Host{}, err
		}
		h.KnownHosts = resolvePath("", h.KnownHosts)
	}
	if cmd.proxyCommand.set && !cmd.jump.set && !strings.EqualFold(cmd.proxyCommand.value, "none") {
		if h.ProxyCommand, err = expand(cmd.proxyCommand.value, cmd.proxyCommand); err != nil {
			return Host{}, err
		}
		note("proxycommand", cmd.proxyCommand)
	}
	if cmd.strict.set {
		h.HostKeyPolicy = cmd.strict.value
	}
	if cmd.identitiesOnly.set {
		h.IdentitiesOnly = cmd.identitiesOnly.value == "true"
	}
	note("port", cmd.port)
	note("user", cmd.user)
	if len(cmd.identities) > 0 {
		note("identityfile", cmd.identities[0])
	}
	note("proxyjump", cmd.jump)
	note("userknownhostsfile", cmd.knownHosts)
	note("stricthostkeychecking", cmd.strict)
	note("connecttimeout", cmd.connectTimeout)
	note("serveraliveinterval", cmd.keepalive)
	for key, at := range origins { // over what the ssh config said
		h.Origins = withOrigin(h.Origins, key, at)
	}
	return h, nil
}
