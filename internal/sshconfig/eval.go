package sshconfig

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// setting is a value and where it was set.
type setting struct {
	value string
	at    string // file:line
}

// options are what the files have said so far for one host: the first
// value obtained wins, as in readconf.c (set only when still unset).
type options struct {
	scalars        map[string]setting
	identities     []setting
	certificates   []setting
	userKnownHosts []setting // one line's list, all or nothing
	globalKnown    []setting
	domains        []string
	jumpHost       *setting // ProxyJump's value as written ("none" too)
}

// pass is one reading of the files for a host.
type pass struct {
	ctx      context.Context
	local    localInfo
	q        Query
	host     string // what Host patterns are matched against
	original string // the alias
	final    bool
	// wantFinal: a Match final (or canonicalisation) asks for a second pass.
	wantFinal bool
	o         *options
	// noExec takes every Match exec as failed without running it: where
	// only the origins of ssh's answer are wanted (ssh ran them), or the
	// input is hostile.
	noExec bool
	// lookupHost resolves a name for canonicalisation.
	lookupHost func(ctx context.Context, host string) ([]string, error)
}

// localInfo is what tokens and Match say of the local side.
type localInfo struct {
	user, home, uid, hostname string
}

func local() localInfo {
	l := localInfo{user: localUser(), uid: strconv.Itoa(os.Getuid()), home: localHome()}
	l.hostname, _ = os.Hostname()
	return l
}

// builtin resolves q as ssh.c's main does: a first pass over the files, the
// host name expanded, lower-cased and canonicalised, a final pass when a
// Match final or canonicalisation asks for one, then ssh's defaults.
func (c *Config) builtin(ctx context.Context, q Query) (Settings, error) {
	return c.builtinWith(ctx, q, false)
}

func (c *Config) builtinWith(ctx context.Context, q Query, noExec bool) (Settings, error) {
	// Debian's ssh 9.2 refuses these as the 9.6 release does (CVE-2023-51385).
	if !validHostname(q.Alias) {
		return Settings{}, fmt.Errorf("%w: %q: hostname contains invalid characters", ErrConfig, q.Alias)
	}
	if q.User != "" && !validUser(q.User) {
		return Settings{}, fmt.Errorf("%w: %q: remote username contains invalid characters", ErrConfig, q.User)
	}
	o := &options{scalars: map[string]setting{}}
	if q.User != "" {
		o.scalars["user"] = setting{q.User, "inventory"}
	}
	if q.Port != 0 {
		o.scalars["port"] = setting{strconv.Itoa(q.Port), "inventory"}
	}
	p := &pass{ctx: ctx, local: local(), q: q, host: q.Alias, original: q.Alias, o: o, noExec: noExec, lookupHost: c.lookupHost}
	if err := p.files(c.files); err != nil {
		return Settings{}, err
	}
	host := q.Alias
	if hn, ok := o.scalars["hostname"]; ok {
		expanded, err := expandHostName(hn.value, q.Alias)
		if err != nil {
			return Settings{}, &errorAt{file: hn.at, reason: err.Error()}
		}
		host = expanded
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		host = addr.String()
	} else {
		host = strings.ToLower(host)
	}
	canon := strings.ToLower(o.get("canonicalizehostname", "no"))
	if canon != "no" && canon != "false" {
		canonical, err := p.canonicalize(host)
		if err != nil {
			return Settings{}, err
		}
		host = canonical
		p.wantFinal = true
	}
	if p.wantFinal {
		o.scalars["hostname"] = setting{host, o.scalars["hostname"].at}
		final := &pass{ctx: ctx, local: p.local, q: q, host: host, original: q.Alias, final: true, o: o, noExec: noExec}
		if err := final.files(c.files); err != nil {
			return Settings{}, err
		}
	}
	s, err := o.settings(q, host, p.local)
	if err != nil {
		return Settings{}, err
	}
	if s.ProxyJump != "" {
		// ssh.c refuses a ProxyJump that leads back to the host itself.
		user, jumpHost, jumpPort, _ := parseJump(lastHop(s.ProxyJump))
		if jumpHost == host && max(jumpPort, 22) == s.Port && (user == "" || user == s.User) {
			return Settings{}, fmt.Errorf("%w: %s: jumphost loop via %s", ErrConfig, s.Origins["proxyjump"], jumpHost)
		}
	}
	return s, nil
}

func lastHop(spec string) string { return spec[strings.LastIndexByte(spec, ',')+1:] }

// validHostname and validUser are the checks Debian's ssh makes of a host
// and user given on its command line.
func validHostname(s string) bool {
	if strings.HasPrefix(s, "-") {
		return false
	}
	for _, c := range []byte(s) {
		if strings.IndexByte("'`\"$\\;&<>|(){}", c) >= 0 || c == ' ' || (c >= '\t' && c <= '\r') || c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

func validUser(s string) bool {
	if strings.HasPrefix(s, "-") {
		return false
	}
	for i, c := range []byte(s) {
		if strings.IndexByte("'`\";&<>|(){}", c) >= 0 ||
			((c == ' ' || (c >= '\t' && c <= '\r')) && i+1 < len(s) && s[i+1] == '-') ||
			(c == '\\' && i+1 == len(s)) {
			return false
		}
	}
	return true
}

// files reads each file in order.
func (p *pass) files(files []*file) error {
	for _, f := range files {
		active := true
		if err := p.file(f, &active, false); err != nil {
			return err
		}
	}
	return nil
}

// file processes f's lines; active says whether the block being read
// applies (Host and Match change it; an Include cannot change its
// includer's). neverMatch: f was included from a block that does not
// apply, so nothing in it does, though it is all checked.
func (p *pass) file(f *file, active *bool, neverMatch bool) error {
	for _, l := range f.lines {
		at := fmt.Sprintf("%s:%d", f.path, l.num)
		fail := func(reason string) error { return &errorAt{file: f.path, line: l.num, reason: reason} }
		if l.err != "" {
			return fail(l.err)
		}
		k, known := keywords[l.keyword]
		if !known {
			if ig, ok := p.o.scalars["ignoreunknown"]; ok && matchPatternList(l.keyword, ig.value, true) == 1 {
				continue
			}
			return fail("Bad configuration option: " + l.keyword)
		}
		if reason := checkArgs(l, k); reason != "" {
			return fail(reason)
		}
		switch k.kind {
		case kHost:
			*active = false
			for _, arg := range l.args {
				if neverMatch {
					break
				}
				negated := strings.HasPrefix(arg, "!")
				if MatchPattern(p.host, strings.TrimPrefix(arg, "!")) {
					if negated {
						*active = false
						break
					}
					*active = true
				}
			}
			continue
		case kMatch:
			result, err := p.match(l, f.path)
			if err != nil {
				return err
			}
			*active = result && !neverMatch
			continue
		case kInclude:
			was := *active
			for _, inc := range l.included {
				if err := p.file(inc, active, neverMatch || !was); err != nil {
					return err
				}
				*active = was
			}
			continue
		case kUnsupported:
			// ssh logs "Unsupported option" and goes on.
			continue
		}
		if !*active {
			if l.keyword == "proxyjump" {
				if err := checkJump(l.rest); err != nil {
					return fail(fmt.Sprintf("Invalid ProxyJump %q", l.rest))
				}
			}
			continue
		}
		if err := p.set(l, at); err != nil {
			return fail(err.Error())
		}
	}
	return nil
}

// set applies an active line, the first value obtained winning.
func (p *pass) set(l *line, at string) error {
	o := p.o
	switch l.keyword {
	case "identityfile", "identityfile2":
		for _, id := range o.identities {
			if id.value == l.args[0] {
				return nil // add_identity_file skips a duplicate
			}
		}
		o.identities = append(o.identities, setting{l.args[0], at})
	case "certificatefile":
		o.certificates = append(o.certificates, setting{l.args[0], at})
	case "userknownhostsfile", "globalknownhostsfile":
		dst := &o.userKnownHosts
		if l.keyword == "globalknownhostsfile" {
			dst = &o.globalKnown
		}
		if len(*dst) == 0 {
			for _, a := range l.args {
				*dst = append(*dst, setting{a, at})
			}
		}
	case "canonicaldomains":
		if len(o.domains) == 0 {
			o.domains = append(o.domains, l.args...)
		}
	case "canonicalizepermittedcnames":
		if !strings.EqualFold(l.args[0], "none") {
			return fmt.Errorf("CanonicalizePermittedCNAMEs (following DNS CNAMEs) is not supported by everywhere's own resolver: install openssh-client (ssh -G resolves it) or remove it")
		}
	case "proxycommand":
		if o.jumpHost != nil {
			return nil // a ProxyJump already given wins
		}
		o.setOnce("proxycommand", strings.TrimLeft(l.rest, " \t="), at)
	case "proxyjump":
		spec := strings.TrimLeft(l.rest, " \t=")
		if err := checkJump(spec); err != nil {
			return fmt.Errorf("Invalid ProxyJump %q", spec)
		}
		if _, ok := o.scalars["proxycommand"]; ok || o.jumpHost != nil {
			return nil
		}
		if i := strings.IndexByte(spec, '#'); i >= 0 {
			spec = strings.TrimRight(spec[:i], " \t")
		}
		o.jumpHost = &setting{spec, at}
		if !strings.EqualFold(spec, "none") {
			o.scalars["proxycommand"] = setting{"none", at}
		}
	case "forwardagent":
		// A path rather than yes/no names an agent socket; its ${VAR} must be well-formed.
		if !containsFold([]string{"yes", "no", "true", "false"}, l.args[0]) {
			if _, err := expandEnv(l.args[0]); err != nil {
				return fmt.Errorf("Invalid environment expansion %s.", l.args[0])
			}
		}
	case "identityagent":
		if _, err := expandEnv(l.args[0]); err != nil {
			return fmt.Errorf("Invalid environment expansion %s.", l.args[0])
		}
		o.setOnce(l.keyword, l.args[0], at)
	default:
		if len(l.args) > 0 {
			o.setOnce(l.keyword, l.args[0], at)
		}
	}
	return nil
}

func (o *options) setOnce(key, value, at string) {
	if _, ok := o.scalars[key]; !ok {
		o.scalars[key] = setting{value, at}
	}
}

func (o *options) get(key, def string) string {
	if s, ok := o.scalars[key]; ok {
		return s.value
	}
	return def
}

// checkJump checks a ProxyJump list's syntax as parse_jump does.
func checkJump(spec string) error {
	if i := strings.IndexByte(spec, '#'); i >= 0 {
		spec = spec[:i]
	}
	spec = strings.TrimRight(spec, " \t")
	if strings.EqualFold(spec, "none") {
		return nil
	}
	for _, hop := range strings.Split(spec, ",") {
		if _, _, _, err := parseJump(hop); err != nil {
			return err
		}
	}
	return nil
}

// parseJump reads one ProxyJump hop, [user@]host[:port] or
// ssh://[user@]host[:port], as misc.c's parse_ssh_uri and
// parse_user_host_port do; port 0 is unset.
func parseJump(hop string) (user, host string, port int, err error) {
	rest := hop
	uri := strings.HasPrefix(rest, "ssh://")
	rest = strings.TrimPrefix(rest, "ssh://")
	if uri {
		rest = strings.TrimSuffix(rest, "/")
	}
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		user, rest = rest[:i], rest[i+1:]
		if user == "" {
			return "", "", 0, fmt.Errorf("%q: empty user", hop)
		}
	}
	portStr := ""
	switch {
	case strings.HasPrefix(rest, "["):
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return "", "", 0, fmt.Errorf("%q: unterminated [", hop)
		}
		host, portStr = rest[1:end], strings.TrimPrefix(rest[end+1:], ":")
		if rest[end+1:] != "" && !strings.HasPrefix(rest[end+1:], ":") {
			return "", "", 0, fmt.Errorf("%q: want [host]:port", hop)
		}
	case strings.Count(rest, ":") == 1:
		host, portStr, _ = strings.Cut(rest, ":")
	default:
		host = rest
	}
	if host == "" || strings.ContainsAny(host, " \t/") {
		return "", "", 0, fmt.Errorf("%q: want [user@]host[:port]", hop)
	}
	if portStr != "" || strings.HasSuffix(rest, ":") {
		if port = parsePort(portStr); port == 0 {
			return "", "", 0, fmt.Errorf("%q: port %q is not in 1-65535", hop, portStr)
		}
	}
	return user, host, port, nil
}

// match evaluates a Match line as match_cfg_line does.
func (p *pass) match(l *line, path string) (bool, error) {
	fail := func(format string, args ...any) (bool, error) {
		return false, &errorAt{file: path, line: l.num, reason: fmt.Sprintf(format, args...) + " (Bad Match condition)"}
	}
	port := p.o.get("port", "22")
	ruser := p.o.get("user", p.local.user)
	host := p.host
	if !p.final {
		host = p.q.Alias
		if hn, ok := p.o.scalars["hostname"]; ok {
			expanded, err := expandHostName(hn.value, p.q.Alias)
			if err != nil {
				return false, &errorAt{file: path, line: l.num, reason: err.Error()}
			}
			host = expanded
		}
	} else {
		host = p.o.get("hostname", host)
	}
	args := l.args
	result, attributes := true, 0
	for i := 0; i < len(args); i++ {
		attrib := args[i]
		negate := strings.HasPrefix(attrib, "!")
		name := strings.ToLower(strings.TrimPrefix(attrib, "!"))
		if name == "all" {
			if attributes > 1 || i+1 < len(args) {
				return fail("'%s' cannot be combined with other Match attributes", attrib)
			}
			return result && !negate, nil
		}
		attributes++
		if name == "canonical" || name == "final" {
			if name == "final" {
				p.wantFinal = true
			}
			if p.final == negate {
				result = false
			}
			continue
		}
		if i+1 >= len(args) || args[i+1] == "" {
			return fail("Missing Match criteria for %s", strings.TrimPrefix(attrib, "!"))
		}
		i++
		arg := args[i]
		var r bool
		switch name {
		case "host":
			r = matchPatternList(strings.ToLower(host), arg, true) == 1
		case "originalhost":
			r = matchPatternList(strings.ToLower(p.original), arg, true) == 1
		case "user":
			r = matchPatternList(ruser, arg, false) == 1
		case "localuser":
			r = matchPatternList(p.local.user, arg, false) == 1
		case "exec":
			if !result {
				continue // a predicate before it failed: ssh does not run it
			}
			t := Tokens{Alias: p.original, HostName: host, Port: atoiOr(port, 22), User: ruser, HostKeyAlias: p.o.get("hostkeyalias", host)}
			cmd, err := t.percent(arg, "CLdhklnpriu")
			if err != nil {
				return false, &errorAt{file: path, line: l.num, reason: err.Error()}
			}
			status := 1
			if !p.noExec {
				if status, err = runExec(p.ctx, cmd); err != nil {
					return false, &errorAt{file: path, line: l.num, reason: fmt.Sprintf("match exec '%s' error: %v", cmd, err)}
				}
			}
			r = status == 0
		default:
			return fail("Unsupported Match attribute %s", strings.TrimPrefix(attrib, "!"))
		}
		if r == negate {
			result = false
		}
	}
	if attributes == 0 {
		return fail("One or more attributes required for Match")
	}
	return result, nil
}

// runExec runs a Match exec command as ssh does: $SHELL -c, its output
// discarded; the exit status decides.
func runExec(ctx context.Context, command string) (int, error) {
	shell := os.Getenv("SHELL")
	if shell == "" {
		shell = "/bin/sh"
	}
	ctx, cancel := context.WithTimeout(ctx, DefaultTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, shell, "-c", command)
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.Exited() {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return -1, err
	}
	return 0, nil
}

// canonicalize is ssh.c's resolve_canonicalize for a name: each
// CanonicalDomains suffix tried when the name has at most
// CanonicalizeMaxDots dots, first one that resolves wins; a name that ends
// in a dot is resolved as it is.
func (p *pass) canonicalize(host string) (string, error) {
	if _, err := netip.ParseAddr(host); err == nil {
		return host, nil
	}
	// A name a proxy or jump host will look up is left alone, unless always.
	direct := strings.EqualFold(p.o.get("proxycommand", "none"), "none") && (p.o.jumpHost == nil || strings.EqualFold(p.o.jumpHost.value, "none"))
	if !direct && !strings.EqualFold(p.o.get("canonicalizehostname", "no"), "always") {
		return host, nil
	}
	resolves := func(name string) bool {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		defer cancel()
		addrs, err := p.lookupHost(ctx, name)
		return err == nil && len(addrs) > 0
	}
	fallback := p.o.get("canonicalizefallbacklocal", "yes")
	notFound := func() (string, error) {
		if strings.EqualFold(fallback, "no") || strings.EqualFold(fallback, "false") {
			return "", &errorAt{file: "ssh", reason: fmt.Sprintf("Could not resolve host %q (CanonicalizeFallbackLocal no)", host)}
		}
		return host, nil
	}
	if strings.HasSuffix(host, ".") {
		if resolves(host) {
			return strings.TrimSuffix(host, "."), nil
		}
		return notFound()
	}
	maxDots := atoiOr(p.o.get("canonicalizemaxdots", "1"), 1)
	if strings.Count(host, ".") > maxDots {
		return host, nil
	}
	for _, d := range p.o.domains {
		if strings.EqualFold(d, "none") {
			break
		}
		if full := host + "." + d; resolves(full + ".") {
			return full, nil
		}
	}
	return notFound()
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// settings fills ssh's defaults (readconf.c's fill_default_options) and
// expands what ssh -G prints expanded.
func (o *options) settings(q Query, host string, l localInfo) (Settings, error) {
	s := Settings{Alias: q.Alias, HostName: host, Resolver: ResolverBuiltin, Origins: map[string]string{}}
	origin := func(key string, set setting, ok bool) {
		if ok {
			s.Origins[key] = set.at
		} else {
			s.Origins[key] = "default"
		}
	}
	hn, ok := o.scalars["hostname"]
	origin("hostname", hn, ok)
	if !ok {
		s.Origins["hostname"] = "alias"
	}
	u, ok := o.scalars["user"]
	origin("user", u, ok)
	s.User = o.get("user", l.user)
	pt, ok := o.scalars["port"]
	origin("port", pt, ok)
	s.Port = atoiOr(o.get("port", "22"), 22)
	if v, ok := o.scalars["identitiesonly"]; ok {
		s.IdentitiesOnly = isYes(v.value)
		s.Origins["identitiesonly"] = v.at
	}

	if v, ok := o.scalars["hostkeyalias"]; ok {
		s.HostKeyAlias = strings.ToLower(v.value)
		s.Origins["hostkeyalias"] = v.at
	}
	if v, ok := o.scalars["stricthostkeychecking"]; ok {
		s.StrictHostKeyChecking = map[string]string{"true": "yes", "yes": "yes", "false": "no", "no": "no", "off": "no", "accept-new": "accept-new"}[strings.ToLower(v.value)]
		s.Origins["stricthostkeychecking"] = v.at
	}
	for key, dst := range map[string]*time.Duration{"connecttimeout": &s.ConnectTimeout, "serveraliveinterval": &s.ServerAliveInterval} {
		if v, ok := o.scalars[key]; ok && v.value != "none" {
			n, _ := convTime(v.value)
			*dst = time.Duration(n) * time.Second
			s.Origins[key] = v.at
		}
	}
	for _, id := range o.identities {
		if !strings.EqualFold(id.value, "none") {
			s.IdentityFiles = append(s.IdentityFiles, id.value)
		}
		s.Origins["identityfile"] = joinOrigin(s.Origins["identityfile"], id.at)
	}
	if len(o.identities) == 0 {
		s.IdentityFiles = []string{"~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk", "~/.ssh/id_ed25519", "~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss", "~/.ssh/id_dsa"}
		s.Origins["identityfile"] = "default"
	}
	for _, c := range o.certificates {
		s.CertificateFiles = append(s.CertificateFiles, c.value)
		s.Origins["certificatefile"] = joinOrigin(s.Origins["certificatefile"], c.at)
	}
	t := Tokens{Alias: q.Alias, HostName: host, Port: s.Port, User: s.User, HostKeyAlias: s.HostKeyAlias}
	known := func(key string, set []setting, def []string) ([]string, error) {
		if len(set) == 0 {
			s.Origins[key] = "default"
			set = make([]setting, len(def))
			for i, d := range def {
				set[i] = setting{value: d}
			}
		} else {
			s.Origins[key] = set[0].at
		}
		if strings.EqualFold(set[0].value, "none") {
			return nil, nil
		}
		var out []string
		for _, f := range set {
			if key == "globalknownhostsfile" {
				expanded, err := expandTilde(f.value)
				if err != nil {
					return nil, &errorAt{file: f.at, reason: err.Error()}
				}
				out = append(out, expanded)
				continue
			}
			expanded, err := Expand(f.value, t)
			if err != nil {
				return nil, &errorAt{file: f.at, reason: fmt.Sprintf("UserKnownHostsFile: %v", err)}
			}
			out = append(out, expanded)
		}
		return out, nil
	}
	if v, ok := o.scalars["identityagent"]; ok {
		// As ssh.c expands it: ~, ${VAR} and %-tokens.
		agent, err := Expand(v.value, t)
		if err != nil {
			return Settings{}, &errorAt{file: v.at, reason: fmt.Sprintf("IdentityAgent: %v", err)}
		}
		s.IdentityAgent = agent
		s.Origins["identityagent"] = v.at
	}
	var err error
	if s.UserKnownHostsFiles, err = known("userknownhostsfile", o.userKnownHosts, []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}); err != nil {
		return Settings{}, err
	}
	if s.GlobalKnownHostsFiles, err = known("globalknownhostsfile", o.globalKnown, []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}); err != nil {
		return Settings{}, err
	}
	if j := o.jumpHost; j != nil && !strings.EqualFold(j.value, "none") {
		s.ProxyJump = normaliseJump(j.value)
		s.Origins["proxyjump"] = j.at
	} else if v, ok := o.scalars["proxycommand"]; ok && !strings.EqualFold(v.value, "none") {
		s.ProxyCommand = v.value
		s.Origins["proxycommand"] = v.at
	}
	return s, nil
}

func joinOrigin(a, b string) string {
	if a == "" {
		return b
	}
	return a + " " + b
}

func isYes(v string) bool { return strings.EqualFold(v, "yes") || strings.EqualFold(v, "true") }

// normaliseJump writes a ProxyJump list as ssh -G prints it: each hop
// [user@]host[:port], an IPv6 address in brackets.
func normaliseJump(spec string) string {
	hops := strings.Split(spec, ",")
	last := hops[len(hops)-1]
	user, host, port, err := parseJump(last)
	if err != nil {
		return spec
	}
	var b strings.Builder
	if len(hops) > 1 {
		b.WriteString(strings.Join(hops[:len(hops)-1], ",") + ",")
	}
	if user != "" {
		b.WriteString(user + "@")
	}
	if strings.Contains(host, ":") || strings.Trim(host, "0123456789.") == "" {
		b.WriteString("[" + host + "]")
	} else {
		b.WriteString(host)
	}
	if port > 0 {
		b.WriteString(":" + strconv.Itoa(port))
	}
	return b.String()
}
