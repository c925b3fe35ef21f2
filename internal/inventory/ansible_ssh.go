package inventory

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// sshWord is a word of the ssh command Ansible builds for a host, and the
// variable it comes from (for messages: file:line).
type sshWord struct {
	text string
	from ansibleVar
	name string // the variable's name
}

// sshValue is one setting of that command as ssh reads it, and its source.
type sshValue struct {
	value string
	from  sshWord
	set   bool
}

// sshCommand is what ssh takes from its command line for what everywhere
// follows. ssh keeps the first value given of each setting (IdentityFile
// adds), command line before config.
type sshCommand struct {
	port, user, hostName, jump, proxyCommand sshValue
	strict, knownHosts, identitiesOnly       sshValue
	connectTimeout, keepalive                sshValue
	identities                               []sshValue
}

// sshArgError is a word of the command that ssh would refuse, or that
// would make ssh reach the host in a way everywhere does not follow.
type sshArgError struct {
	word sshWord
	msg  string
}

func (e *sshArgError) Error() string { return e.msg }

// ssh's own options: those taking an argument, and the bare flags
// (OpenSSH 9.2's getopt string).
const (
	sshFlagsWithArg = "BbcDEeFIiJLlmOopQRSWw"
	sshFlags        = "46AaCfGgKkMNnqsTtVvXxYy"
	// sshFlagsNotFollowed change which host, config, key or mode ssh uses
	// in ways everywhere does not follow: the host is left out.
	sshFlagsNotFollowed = "BbFGIOQVW"
)

// sshKeywords sorts ssh_config keywords (lower case) given with -o:
// "follow" ones everywhere applies; "leave" ones change how the host is
// reached in a way everywhere does not follow (the host is left out);
// the others change nothing everywhere does and are passed over. A
// keyword in none of them is not ssh's: ssh refuses it.
var sshKeywords = func() map[string]string {
	m := map[string]string{}
	for _, k := range strings.Fields(`port user hostname identityfile proxyjump proxycommand
		stricthostkeychecking userknownhostsfile identitiesonly connecttimeout serveraliveinterval`) {
		m[k] = "follow"
	}
	for _, k := range strings.Fields(`host match include hostkeyalias certificatefile globalknownhostsfile
		identityagent pkcs11provider securitykeyprovider knownhostscommand bindaddress bindinterface
		canonicalizehostname proxyusefdpass remotecommand sessiontype`) {
		m[k] = "leave"
	}
	for _, k := range strings.Fields(`addkeystoagent addressfamily batchmode canonicaldomains
		canonicalizefallbacklocal canonicalizemaxdots canonicalizepermittedcnames casignaturealgorithms
		checkhostip ciphers clearallforwardings compression connectionattempts controlmaster controlpath
		controlpersist dynamicforward enableescapecommandline enablesshkeysign escapechar
		exitonforwardfailure fingerprinthash forkafterauthentication forwardagent forwardx11
		forwardx11timeout forwardx11trusted gatewayports gssapiauthentication gssapidelegatecredentials
		gssapikeyexchange gssapiclientidentity gssapiserveridentity gssapirenewalforcesrekey gssapitrustdns
		gssapikexalgorithms hashknownhosts hostbasedacceptedalgorithms hostbasedkeytypes
		hostbasedauthentication hostkeyalgorithms ignoreunknown ipqos kbdinteractiveauthentication
		challengeresponseauthentication kbdinteractivedevices kexalgorithms localcommand localforward
		loglevel logverbose macs nohostauthenticationforlocalhost numberofpasswordprompts
		passwordauthentication permitlocalcommand permitremoteopen preferredauthentications
		pubkeyacceptedalgorithms pubkeyacceptedkeytypes pubkeyauthentication rekeylimit remoteforward
		requesttty requiredrsasize revokedhostkeys sendenv serveralivecountmax setenv stdinnull
		streamlocalbindmask streamlocalbindunlink syslogfacility tcpkeepalive tag tunnel tunneldevice
		updatehostkeys verifyhostkeydns visualhostkey xauthlocation protocol cipher useprivilegedport
		rhostsrsaauthentication rsaauthentication compressionlevel usersh fallbacktorsh
		skeyauthentication useroaming`) {
		m[k] = "pass"
	}
	return m
}()

// parseSSHCommand reads the words of an ssh command line, up to its
// destination, as ssh does (getopt, then each -o as a config line).
func parseSSHCommand(words []sshWord) (*sshCommand, error) {
	c := &sshCommand{}
	for i := 0; i < len(words); i++ {
		w := words[i]
		if w.text == "" || w.text[0] != '-' || w.text == "-" {
			return nil, &sshArgError{w, fmt.Sprintf("%q is not an ssh option (ssh would take it for the host to reach)", w.text)}
		}
		for j := 1; j < len(w.text); j++ {
			flag := w.text[j]
			switch {
			case strings.IndexByte(sshFlags, flag) >= 0:
				if strings.IndexByte(sshFlagsNotFollowed, flag) >= 0 {
					return nil, &sshArgError{w, fmt.Sprintf("-%c is not followed by everywhere", flag)}
				}
				continue
			case strings.IndexByte(sshFlagsWithArg, flag) < 0:
				return nil, &sshArgError{w, fmt.Sprintf("-%c: not an option of ssh", flag)}
			}
			arg := w.text[j+1:]
			if arg == "" {
				if i+1 == len(words) {
					return nil, &sshArgError{w, fmt.Sprintf("-%c needs a value", flag)}
				}
				i++
				arg = words[i].text
			}
			if err := c.option(flag, arg, w); err != nil {
				return nil, err
			}
			break
		}
	}
	return c, nil
}

// option applies one option of ssh's command line, as ssh.c does.
func (c *sshCommand) option(flag byte, arg string, w sshWord) error {
	fail := func(format string, args ...any) error {
		return &sshArgError{w, fmt.Sprintf(format, args...)}
	}
	switch flag {
	case 'i':
		// ssh passes over a -i file it cannot find, with a warning.
		if _, err := os.Stat(resolvePath("", arg)); err == nil {
			c.identities = append(c.identities, sshValue{arg, w, true})
		}
	case 'J':
		if c.jump.set {
			return fail("-J given twice (ssh refuses: separate the hops with commas)")
		}
		if c.proxyCommand.set {
			return fail("-J after a ProxyCommand (ssh refuses the two together)")
		}
		c.jump = sshValue{arg, w, true}
		if !strings.EqualFold(arg, "none") {
			c.proxyCommand = sshValue{"none", w, true}
		}
	case 'l':
		if !validRemoteUser(arg) {
			return fail("-l %s: ssh refuses a remote user name with these characters", arg)
		}
		c.user.first(arg, w)
	case 'p':
		if _, err := sshPort(arg); err != nil {
			return fail("-p %s: %v", arg, err)
		}
		c.port.first(arg, w)
	case 'o':
		return c.configLine(arg, w)
	default:
		if strings.IndexByte(sshFlagsNotFollowed, flag) >= 0 {
			return fail("-%c is not followed by everywhere", flag)
		}
	}
	return nil
}

func (v *sshValue) first(value string, w sshWord) {
	if !v.set {
		*v = sshValue{value, w, true}
	}
}

// configLine applies -o "Keyword value" (or Keyword=value) as ssh's
// readconf.c reads a line of its config.
func (c *sshCommand) configLine(line string, w sshWord) error {
	fail := func(format string, args ...any) error {
		return &sshArgError{w, fmt.Sprintf("-o %s: %s", line, fmt.Sprintf(format, args...))}
	}
	line = strings.TrimLeft(line, " \t")
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		end = len(line)
	}
	keyword, rest := strings.ToLower(line[:end]), strings.TrimLeft(line[end:], " \t")
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], " \t")
	}
	switch sshKeywords[keyword] {
	case "":
		return fail("not an ssh option (ssh refuses it)")
	case "leave":
		return fail("not followed by everywhere")
	case "pass":
		return nil
	}
	if keyword == "proxycommand" { // the rest of the line, as it is
		if rest == "" {
			return fail("no value")
		}
		if !c.jump.set {
			c.proxyCommand.first(rest, w)
		}
		return nil
	}
	args, err := shellWords(rest, true)
	switch {
	case err != nil:
		return fail("%v", err)
	case len(args) == 0:
		return fail("no value")
	case len(args) > 1 && keyword != "userknownhostsfile":
		return fail("more than one value (ssh refuses it)")
	}
	arg := args[0]
	switch keyword {
	case "port":
		if _, err := sshPort(arg); err != nil {
			return fail("%v", err)
		}
		c.port.first(arg, w)
	case "user":
		if !validRemoteUser(arg) {
			return fail("ssh refuses a remote user name with these characters")
		}
		c.user.first(arg, w)
	case "hostname":
		c.hostName.first(arg, w)
	case "identityfile":
		c.identities = append(c.identities, sshValue{arg, w, true})
	case "proxyjump":
		if !c.jump.set && !c.proxyCommand.set {
			c.jump = sshValue{arg, w, true}
			if !strings.EqualFold(arg, "none") {
				c.proxyCommand = sshValue{"none", w, true}
			}
		}
	case "stricthostkeychecking":
		policy, ok := map[string]string{"yes": "yes", "true": "yes", "no": "no", "false": "no", "off": "no", "ask": "", "accept-new": "accept-new"}[strings.ToLower(arg)]
		if !ok {
			return fail("want yes, no, ask or accept-new")
		}
		c.strict.first(policy, w)
	case "userknownhostsfile":
		c.knownHosts.first(arg, w) // everywhere checks the first file (ssh: each in turn)
	case "identitiesonly":
		yes, ok := map[string]bool{"yes": true, "true": true, "no": false, "false": false}[strings.ToLower(arg)]
		if !ok {
			return fail("want yes or no")
		}
		c.identitiesOnly.first(strconv.FormatBool(yes), w)
	case "connecttimeout", "serveraliveinterval":
		if _, err := sshTime(arg); err != nil {
			return fail("%v", err)
		}
		if keyword == "connecttimeout" {
			c.connectTimeout.first(arg, w)
		} else {
			c.keepalive.first(arg, w)
		}
	}
	return nil
}

// validRemoteUser is ssh's check of a user name given on its command
// line: no shell metacharacters, no "-" after a blank, no "\" at the end.
func validRemoteUser(s string) bool {
	if s == "" || strings.HasSuffix(s, "\\") || strings.ContainsAny(s, "'`\";&<>|(){}") {
		return false
	}
	for i := 0; i+1 < len(s); i++ {
		if (s[i] == ' ' || s[i] == '\t') && s[i+1] == '-' {
			return false
		}
	}
	return true
}

// sshPort reads a port as ssh does: a number in 1-65535.
func sshPort(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("%q is not a port in 1-65535", s)
	}
	return n, nil
}

var sshTimeUnits = map[byte]time.Duration{'s': time.Second, 'S': time.Second, 'm': time.Minute, 'M': time.Minute,
	'h': time.Hour, 'H': time.Hour, 'd': 24 * time.Hour, 'D': 24 * time.Hour, 'w': 7 * 24 * time.Hour, 'W': 7 * 24 * time.Hour}

// sshTime reads a time as ssh's convtime does: seconds, or a sequence of
// numbers each with a unit (s, m, h, d, w); "none" is 0.
func sshTime(s string) (time.Duration, error) {
	if strings.EqualFold(s, "none") {
		return 0, nil
	}
	var total time.Duration
	rest := s
	for rest != "" {
		n := 0
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		v, err := strconv.ParseInt(rest[:n], 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q is not a time", s)
		}
		unit := time.Second
		if n < len(rest) {
			u, ok := sshTimeUnits[rest[n]]
			if !ok {
				return 0, fmt.Errorf("%q is not a time", s)
			}
			unit, n = u, n+1
		}
		total += time.Duration(v) * unit
		rest = rest[n:]
	}
	if total > 1<<31*time.Second {
		return 0, errors.New("time too long")
	}
	return total, nil
}
