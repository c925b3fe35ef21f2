package sshconfig

import (
	"fmt"
	"strconv"
	"strings"
)

// kind is how a keyword's arguments are read and checked, as readconf.c
// reads them (even in blocks that do not apply: ssh refuses a bad value
// anywhere in the file).
type kind int

const (
	kIgnore      kind = iota // deprecated or ignored: any arguments
	kUnsupported             // ssh says "Unsupported option" and goes on
	kFlag                    // yes/no/true/false
	kMulti                   // one of a keyword's own words
	kTime                    // seconds, or sshd_config's TIME FORMATS; none
	kInt
	kPort
	kString  // one argument
	kList    // one or more arguments; none alone
	kCommand // the rest of the line, as written
	kAny     // one or more arguments, not checked further
	kHost
	kMatch
	kInclude
	kJump
)

type keyword struct {
	kind  kind
	words []string // kMulti's words, lower case
}

var (
	flag         = keyword{kind: kFlag}
	yesNoAsk     = keyword{kMulti, []string{"true", "false", "yes", "no", "ask"}}
	strictHost   = keyword{kMulti, []string{"true", "false", "yes", "no", "ask", "off", "accept-new"}}
	str          = keyword{kind: kString}
	timeValue    = keyword{kind: kTime}
	intValue     = keyword{kind: kInt}
	anyArgs      = keyword{kind: kAny}
	ignored      = keyword{kind: kIgnore}
	unsupported  = keyword{kind: kUnsupported}
	command      = keyword{kind: kCommand}
	list         = keyword{kind: kList}
	logLevels    = keyword{kMulti, []string{"quiet", "fatal", "error", "info", "verbose", "debug", "debug1", "debug2", "debug3"}}
	logFacility  = keyword{kMulti, []string{"daemon", "user", "auth", "authpriv", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}}
	fingerprints = keyword{kMulti, []string{"md5", "sha1", "sha256", "sha384", "sha512"}}
)

// keywords are OpenSSH 9.2's (readconf.c's table, Debian's build: GSSAPI
// on, PKCS#11 on).
var keywords = map[string]keyword{
	"protocol": ignored, "cipher": ignored, "fallbacktorsh": ignored, "globalknownhostsfile2": ignored,
	"rhostsauthentication": ignored, "userknownhostsfile2": ignored, "useroaming": ignored, "usersh": ignored,
	"useprivilegedport": ignored,
	"afstokenpassing":   unsupported, "kerberosauthentication": unsupported, "kerberostgtpassing": unsupported,
	"rsaauthentication": unsupported, "rhostsrsaauthentication": unsupported, "compressionlevel": unsupported,
	"gssapiauthentication": flag, "gssapidelegatecredentials": flag,
	"pkcs11provider": str, "smartcarddevice": str,
	"forwardagent": str, "forwardx11": flag, "forwardx11trusted": flag, "forwardx11timeout": timeValue,
	"exitonforwardfailure": flag, "xauthlocation": str, "gatewayports": flag, "passwordauthentication": flag,
	"kbdinteractiveauthentication": flag, "kbdinteractivedevices": str, "challengeresponseauthentication": flag,
	"skeyauthentication": flag, "tisauthentication": flag,
	"pubkeyauthentication":    {kMulti, []string{"true", "false", "yes", "no", "unbound", "host-bound"}},
	"dsaauthentication":       {kMulti, []string{"true", "false", "yes", "no", "unbound", "host-bound"}},
	"hostbasedauthentication": flag, "identityfile": str, "identityfile2": str, "identitiesonly": flag,
	"certificatefile": str, "addkeystoagent": anyArgs, "identityagent": str, "hostname": str,
	"hostkeyalias": str, "proxycommand": command, "port": {kind: kPort}, "ciphers": str, "macs": str,
	"remoteforward": anyArgs, "localforward": anyArgs, "permitremoteopen": list, "user": str,
	"host": {kind: kHost}, "match": {kind: kMatch}, "escapechar": str, "globalknownhostsfile": list,
	"userknownhostsfile": list, "connectionattempts": intValue, "batchmode": flag, "checkhostip": flag,
	"stricthostkeychecking": strictHost, "compression": {kMulti, []string{"yes", "no"}}, "tcpkeepalive": flag,
	"keepalive": flag, "numberofpasswordprompts": intValue, "syslogfacility": logFacility, "loglevel": logLevels,
	"logverbose": list, "dynamicforward": str, "preferredauthentications": str, "hostkeyalgorithms": str,
	"casignaturealgorithms": str, "bindaddress": str, "bindinterface": str, "clearallforwardings": flag,
	"enablesshkeysign": flag, "verifyhostkeydns": yesNoAsk, "nohostauthenticationforlocalhost": flag,
	"rekeylimit": anyArgs, "connecttimeout": timeValue,
	"addressfamily":       {kMulti, []string{"inet", "inet6", "any"}},
	"serveraliveinterval": timeValue, "serveralivecountmax": intValue, "sendenv": list, "setenv": list,
	"controlpath": str, "controlmaster": {kMulti, []string{"true", "yes", "false", "no", "auto", "ask", "autoask"}},
	"controlpersist": str, "hashknownhosts": flag, "include": {kind: kInclude},
	"tunnel":       {kMulti, []string{"ethernet", "point-to-point", "true", "yes", "false", "no"}},
	"tunneldevice": str, "localcommand": command, "permitlocalcommand": flag, "remotecommand": command,
	"visualhostkey": flag, "kexalgorithms": str, "ipqos": anyArgs,
	"requesttty":  {kMulti, []string{"true", "yes", "false", "no", "force", "auto"}},
	"sessiontype": {kMulti, []string{"none", "subsystem", "default"}}, "stdinnull": flag,
	"forkafterauthentication": flag, "proxyusefdpass": flag, "canonicaldomains": list,
	"canonicalizefallbacklocal": flag,
	"canonicalizehostname":      {kMulti, []string{"true", "false", "yes", "no", "always"}},
	"canonicalizemaxdots":       intValue, "canonicalizepermittedcnames": list, "streamlocalbindmask": str,
	"streamlocalbindunlink": flag, "revokedhostkeys": str, "fingerprinthash": fingerprints, "updatehostkeys": yesNoAsk,
	"hostbasedacceptedalgorithms": str, "hostbasedkeytypes": str, "pubkeyacceptedalgorithms": str,
	"pubkeyacceptedkeytypes": str, "ignoreunknown": str, "proxyjump": {kind: kJump},
	"securitykeyprovider": str, "knownhostscommand": command, "requiredrsasize": intValue,
	"enableescapecommandline": flag,
}

// checkArgs checks a line's arguments as its keyword's kind wants them and
// says what ssh says when they are wrong; "" when they are right.
func checkArgs(l *line, k keyword) string {
	arg := ""
	if len(l.args) > 0 {
		arg = l.args[0]
	}
	extra := func(n int) string {
		if len(l.args) > n {
			return fmt.Sprintf("keyword %s extra arguments at end of line", l.keyword)
		}
		return ""
	}
	switch k.kind {
	case kFlag, kMulti:
		words := k.words
		if k.kind == kFlag {
			words = []string{"true", "false", "yes", "no"}
		}
		if arg == "" {
			return "missing argument."
		}
		if !containsFold(words, arg) {
			if k.words != nil && (l.keyword == "loglevel" || l.keyword == "syslogfacility") {
				return fmt.Sprintf("unsupported log level '%s'", arg)
			}
			return fmt.Sprintf("unsupported option %q.", arg)
		}
		return extra(1)
	case kTime:
		if arg == "" {
			return "missing time value."
		}
		if arg != "none" {
			if _, err := convTime(arg); err != nil {
				return "invalid time value."
			}
		}
		return extra(1)
	case kInt:
		if _, err := strconv.ParseInt(arg, 10, 32); err != nil {
			why := "invalid"
			if arg == "" {
				why = "missing"
			} else if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				why = "too large"
			}
			return fmt.Sprintf("integer value %s.", why)
		}
		return extra(1)
	case kPort:
		if arg == "" {
			return "Missing argument."
		}
		if parsePort(arg) <= 0 {
			return fmt.Sprintf("Bad port '%s'.", arg)
		}
		return extra(1)
	case kString:
		if arg == "" {
			return "Missing argument."
		}
		return extra(1)
	case kList, kInclude, kHost:
		for i, a := range l.args {
			if a == "" {
				return fmt.Sprintf("keyword %s empty argument", l.keyword)
			}
			if k.kind == kList && strings.EqualFold(a, "none") && (i > 0 || len(l.args) > 1) {
				return fmt.Sprintf("keyword %s \"none\" argument must appear alone.", l.keyword)
			}
		}
	}
	return ""
}

// parsePort is misc.c's a2port: 1-65535 in decimal, else 0 (getservbyname
// names a port ssh would also take; no service names here).
func parsePort(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > 65535 || strings.TrimLeft(s, "0123456789") != "" {
		return 0
	}
	return n
}

// convTime reads a time as misc.c's convtime: a number of seconds, or
// numbers each with a unit s, m, h, d or w.
func convTime(s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("empty time")
	}
	total, i := 0, 0
	for i < len(s) {
		j := i
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("bad time %q", s)
		}
		n, err := strconv.Atoi(s[i:j])
		if err != nil {
			return 0, err
		}
		mult := 1
		if j < len(s) {
			switch s[j] {
			case 's', 'S':
			case 'm', 'M':
				mult = 60
			case 'h', 'H':
				mult = 3600
			case 'd', 'D':
				mult = 86400
			case 'w', 'W':
				mult = 604800
			default:
				return 0, fmt.Errorf("bad time %q", s)
			}
			j++
		}
		if n > (1<<31-1)/mult || total+n*mult > 1<<31-1 {
			return 0, fmt.Errorf("time %q too large", s)
		}
		total += n * mult
		i = j
	}
	return total, nil
}

func containsFold(words []string, s string) bool {
	for _, w := range words {
		if strings.EqualFold(w, s) {
			return true
		}
	}
	return false
}
