package sshconfig_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"everywhere/internal/inventory"
	"everywhere/internal/sshconfig"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// corpusCase is one configuration as users write them, resolved by ssh -G
// and by both of everywhere's resolvers, then (unless ssh refuses it)
// connected to by real ssh and by everywhere: both must reach the same
// sshd, or both fail.
type corpusCase struct {
	name   string
	config string            // the file given to ssh -F; a template over corpusEnv
	files  map[string]string // more files in the case's folder, templates too
	alias  string
	user   string // as the inventory gives it (ssh -l)
	port   int    // as the inventory gives it (ssh -p)
	// noBase leaves out the Host * block that gives every case the
	// test's known_hosts and key.
	noBase bool
	// refused: ssh refuses the config; the line it names.
	refused int
	// skipConnect: compare resolution only (the case would dial a name
	// that is not ours to dial).
	skipConnect bool
}

// base gives every case the servers' keys and the user's key, after the
// case's own blocks (first value wins, so a case's own settings stay).
const base = `
Host *
  UserKnownHostsFile {{.KH}}
  GlobalKnownHostsFile {{.Dir}}/no-global
  StrictHostKeyChecking yes
  IdentityFile {{.Key}}
`

// corpus covers each finding of issue #24 on ssh_config and known_hosts,
// and the ssh_config(5) rules around them.
var corpus = []corpusCase{
	// Include.
	{name: "include trailing comment", config: "Include {{.Dir}}/inc # the VPN hosts\n", files: map[string]string{"inc": "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n"}, alias: "web"},
	{name: "include trailing whitespace", config: "Include {{.Dir}}/inc   \t\n", files: map[string]string{"inc": "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n"}, alias: "web"},
	{name: "include glob with a subfolder", config: "Include {{.Dir}}/conf.d/*\n", files: map[string]string{"conf.d/web": "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", "conf.d/sub/x": "Host web\n  Port 1\n"}, alias: "web"},
	{name: "include quoted path with space", config: "Include \"{{.Dir}}/my hosts\"\n", files: map[string]string{"my hosts": "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n"}, alias: "web"},
	{name: "include in a block that applies", config: "Host web\n  Include {{.Dir}}/inc\n", files: map[string]string{"inc": "HostName {{.B.Host}}\nPort {{.B.Port}}\n"}, alias: "web"},
	{name: "include in a block that does not apply", config: "Host other\n  Include {{.Dir}}/inc\nHost web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", files: map[string]string{"inc": "HostName {{.B.Host}}\nPort {{.B.Port}}\n"}, alias: "web"},
	{name: "include Match does not leak", config: "Host web\n  Include {{.Dir}}/inc\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", files: map[string]string{"inc": "Match host nothing\n  User nobody\n"}, alias: "web"},
	{name: "include missing file", config: "Include {{.Dir}}/nothing-here\nHost web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "include glob matching nothing", config: "Include {{.Dir}}/none.d/*.conf\nHost web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "include nested", config: "Include {{.Dir}}/one\n", files: map[string]string{"one": "Include {{.Dir}}/two\n", "two": "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n"}, alias: "web"},
	{name: "include relative under ~/.ssh", config: "Include evw-corpus-absent-*.conf\nHost web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "include order first wins", config: "Include {{.Dir}}/d/*\n", files: map[string]string{"d/1": "Host web\n  Port {{.B.Port}}\n", "d/2": "Host web\n  Port {{.A.Port}}\n  HostName {{.B.Host}}\n"}, alias: "web"},
	{name: "include empty argument", config: "Include \"\"\n", alias: "web", refused: 1},

	// Match.
	{name: "match exec true", config: "Match exec true\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match exec false", config: "Match exec false\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\nHost *\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "match exec with tokens", config: "Match exec \"test %h = web -a %n = web -a %p = 22\"\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match exec in an unrelated block", config: "Match host vpn-* exec \"false\"\n  User nobody\nHost web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "match exec after a failed predicate", config: "Match host nothing exec \"touch {{.Dir}}/ran; true\"\n  User nobody\nMatch exec \"test ! -e {{.Dir}}/ran\"\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match user given", config: "Match user deploy\n  Port {{.B.Port}}\nHost web\n  HostName {{.B.Host}}\n", alias: "web", user: "deploy", skipConnect: true},
	{name: "match user from the config", config: "Host web\n  User root\nMatch user root\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match localuser", config: "Match localuser root,someone\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match originalhost", config: "Host web\n  HostName {{.B.Host}}\nMatch originalhost web\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match host is the HostName", config: "Host web\n  HostName {{.B.Host}}\nMatch host web\n  Port 1\nMatch host {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match final", config: "Host web\n  HostName {{.B.Host}}\nMatch final host {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match final sees Host blocks by HostName", config: "Host web\n  HostName {{.B.Host}}\nMatch final\n  User root\nHost {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match canonical", config: "CanonicalizeHostname yes\nHost web\n  HostName {{.B.Host}}\nMatch canonical\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match negated", config: "Match !host {{.A.Host}}\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match comma list", config: "Match host db,web,app\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match comma list negation", config: "Match host *,!web\n  Port 1\nHost *\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "match all", config: "Host web\n  HostName {{.B.Host}}\nMatch all\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match two criteria", config: "Match host web user root\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\nMatch host web user other\n  Port 1\n", alias: "web"},
	{name: "match criterion case", config: "Match HOST web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "match missing criteria", config: "Match host\n  User x\n", alias: "web", refused: 1},
	{name: "match unsupported attribute", config: "Host web\n  Port 22\nMatch color blue\n  User x\n", alias: "web", refused: 3},
	{name: "match all combined", config: "Match all host web\n  User x\n", alias: "web", refused: 1},

	// Host patterns.
	{name: "question mark is one character", config: "Host web?\n  Port 1\nHost w?b\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "question mark matches", config: "Host web?\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web1"},
	{name: "host negation", config: "Host * !web\n  Port 1\nHost *\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "host several patterns", config: "Host db web app\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "host case matters", config: "Host WEB\n  Port 1\nHost web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "first value wins", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\nHost *\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "host star", config: "Host *\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "anything"},
	{name: "percent h lowercased", config: "Host *\n  HostName %h\n  Port {{.A.Port}}\n", alias: "LOCALHOST"},
	{name: "percent h in HostName", config: "Host 127.0.0.*\n  HostName %h\n  Port {{.B.Port}}\n", alias: "127.0.0.2"},
	{name: "utf-8 byte order mark", config: "\ufeffHost web\n  HostName {{.B.Host}}\n", alias: "web", refused: 1},
	{name: "bom before a blank line", config: "\ufeff\nHost web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web", refused: 1},
	{name: "equals separator", config: "Host=web\n  HostName = {{.B.Host}}\n  Port={{.B.Port}}\n", alias: "web"},
	{name: "keyword case and tabs", config: "HOST web\n\tHOSTNAME\t{{.B.Host}}\n\tport {{.B.Port}}\n", alias: "web"},
	{name: "crlf line ends", config: "Host web\r\n  HostName {{.B.Host}}\r\n  Port {{.B.Port}}\r\n", alias: "web"},
	{name: "NUL ends a line", config: "Host web\n  HostName {{.B.Host}}\x00 junk\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "comments", config: "# a comment\nHost web # trailing\n  HostName {{.B.Host}} # trailing\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "quoted value", config: "Host \"web\"\n  HostName \"{{.B.Host}}\"\n  Port \"{{.B.Port}}\"\n", alias: "web"},

	// Canonicalisation (addresses only: no name may be looked up off the machine).
	{name: "canonicalize re-parses by HostName", config: "CanonicalizeHostname yes\nHost web\n  HostName {{.B.Host}}\nHost {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "canonicalize no", config: "CanonicalizeHostname no\nHost web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\nHost {{.B.Host}}\n  Port 1\n", alias: "web"},
	{name: "canonicalize max dots", config: "CanonicalizeHostname yes\nCanonicalizeMaxDots 0\nHost web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},
	{name: "canonicalize behind a jump", config: "CanonicalizeHostname yes\nHost web\n  HostName {{.B.Host}}\n  ProxyJump {{.A.Host}}:{{.A.Port}}\nHost {{.B.Host}}\n  Port {{.B.Port}}\n", alias: "web"},

	// Proxies.
	{name: "ProxyCommand none stops a later ProxyJump", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyCommand none\nHost *\n  ProxyJump {{.C.Host}}:{{.C.Port}}\n", alias: "web"},
	{name: "ProxyJump before Host * ProxyCommand", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyJump {{.A.Host}}:{{.A.Port}}\nHost *\n  ProxyCommand false\n", alias: "web"},
	{name: "ProxyCommand before ProxyJump", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyCommand nc %h %p\nHost *\n  ProxyJump {{.C.Host}}:{{.C.Port}}\n", alias: "web"},
	{name: "ProxyJump through a bastion", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyJump bastion\nHost bastion\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "ProxyJump two hops", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyJump root@{{.A.Host}}:{{.A.Port}},bastion\nHost bastion\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "ProxyJump ssh uri", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyJump ssh://root@{{.A.Host}}:{{.A.Port}}\n", alias: "web"},
	{name: "ProxyJump none", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyJump none\nHost *\n  ProxyJump {{.C.Host}}:{{.C.Port}}\n", alias: "web"},
	{name: "ProxyJump to a forbidding bastion", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyJump {{.C.Host}}:{{.C.Port}}\n  IdentityFile {{.Key2}}\n", alias: "web"},
	{name: "ProxyJump bad port elsewhere", config: "Host other\n  ProxyJump x:99999\nHost web\n  HostName {{.A.Host}}\n", alias: "web", refused: 2},
	{name: "ProxyCommand tokens", config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyCommand sh -c 'exec nc %h %p'\n", alias: "web"},

	// Keys, certificates, tokens.
	{name: "IdentityFile per host", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityFile {{.Key2}}\n", alias: "web"},
	{name: "IdentityFile missing", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n", alias: "web"},
	{name: "IdentityFile duplicate", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityFile {{.Key2}}\n  IdentityFile {{.Key2}}\n", alias: "web"},
	{name: "IdentityFile env var", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityFile ${EVW_CORPUS_DIR}/key2/id_ed25519\n", alias: "web"},
	{name: "IdentityFile tilde user", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityFile ~root/..{{.Key2}}\n", alias: "web"},
	{name: "IdentityFile tokens", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityFile {{.Dir}}/keys/%r@%h:%p-%n-%u-%i\n", files: map[string]string{"keys/.keep": ""}, alias: "web"},
	{name: "IdentityFile l and L tokens", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityFile {{.Dir}}/keys/%l/%L\n", alias: "web"},
	{name: "IdentityFile d and C tokens", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityFile %d/../{{.Dir}}/%C\n", alias: "web"},
	{name: "IdentitiesOnly", config: "Host web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n  IdentitiesOnly yes\n", alias: "web"},
	{name: "IdentityAgent none", config: "Host web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n  IdentityAgent none\n", alias: "web"},
	{name: "CertificateFile", config: "Host web\n  HostName {{.D.Host}}\n  Port {{.D.Port}}\n  IdentityFile {{.CertKey}}\n  CertificateFile {{.Dir}}/certs/user-cert.pub\n", files: map[string]string{"certs/user-cert.pub": "{{.Cert}}"}, alias: "web"},
	{name: "certificate beside the identity", config: "Host web\n  HostName {{.D.Host}}\n  Port {{.D.Port}}\n  IdentityFile {{.CertKey}}\n", alias: "web"},
	{name: "CertificateFile hides the one beside", config: "Host web\n  HostName {{.D.Host}}\n  Port {{.D.Port}}\n  IdentityFile {{.CertKey}}\n  CertificateFile {{.Dir}}/absent-cert.pub\n", alias: "web"},
	{name: "agent key", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityAgent {{.Agent}}\n", alias: "web"},
	{name: "agent certificate", config: "Host web\n  HostName {{.D.Host}}\n  Port {{.D.Port}}\n  IdentityAgent {{.Agent}}\n", alias: "web"},
	{name: "IdentitiesOnly leaves the agent's keys out", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityAgent {{.Agent}}\n  IdentitiesOnly yes\n", alias: "web"},
	{name: "CertificateFile with its key in the agent", config: "Host web\n  HostName {{.D.Host}}\n  Port {{.D.Port}}\n  IdentityAgent {{.BareAgent}}\n  CertificateFile {{.CertKey}}-cert.pub\n", alias: "web"},
	{name: "IdentityAgent from the environment", config: "Host web\n  HostName {{.C.Host}}\n  Port {{.C.Port}}\n  IdentityAgent ${EVW_CORPUS_AGENT}\n", alias: "web"},
	{name: "user from the config", config: "Host web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n  User nobody\n", alias: "web"},
	{name: "user given over the config", config: "Host web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n  User nobody\n", alias: "web", user: "root"},
	{name: "port given over the config", config: "Host web\n  HostName {{.B.Host}}\n  Port 1\n", alias: "web", port: -1},

	// Host keys.
	{name: "GlobalKnownHostsFile", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  UserKnownHostsFile {{.Dir}}/empty\n  GlobalKnownHostsFile {{.Dir}}/global\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"empty": "", "global": "{{.Known \"B\" \"\"}}"}, alias: "web"},
	{name: "second UserKnownHostsFile", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  UserKnownHostsFile {{.Dir}}/one {{.Dir}}/two\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"one": "{{.Known \"A\" \"\"}}", "two": "{{.Known \"B\" \"\"}}"}, alias: "web"},
	{name: "known_hosts path with a space", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  UserKnownHostsFile \"{{.Dir}}/known hosts\"\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"known hosts": "{{.Known \"B\" \"\"}}"}, alias: "web"},
	{name: "HostKeyAlias", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  HostKeyAlias Web-Alias\n  UserKnownHostsFile {{.Dir}}/kh\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"kh": "{{.Known \"B\" \"web-alias\"}}"}, alias: "web"},
	{name: "HostKeyAlias not recorded", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  HostKeyAlias other\n  UserKnownHostsFile {{.Dir}}/kh\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"kh": "{{.Known \"B\" \"\"}}"}, alias: "web"},
	{name: "hashed known_hosts", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  UserKnownHostsFile {{.Dir}}/kh\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"kh": "{{.Hashed \"B\"}}"}, alias: "web"},
	{name: "cert-authority", noBase: true, config: "Host web\n  HostName {{.D.Host}}\n  Port {{.D.Port}}\n  UserKnownHostsFile {{.Dir}}/kh\n  GlobalKnownHostsFile none\n  IdentityFile {{.CertKey}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"kh": "{{.Authority}}"}, alias: "web"},
	{name: "revoked", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  UserKnownHostsFile {{.Dir}}/kh\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"kh": "{{.Known \"B\" \"\"}}\n{{.Revoked \"B\"}}"}, alias: "web"},
	{name: "another host's key", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  UserKnownHostsFile {{.Dir}}/kh\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"kh": "{{.Known \"A\" (.Name \"B\")}}"}, alias: "web"},
	{name: "known_hosts none", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  UserKnownHostsFile none\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", alias: "web"},
	{name: "jump hop verified too", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  ProxyJump {{.A.Host}}:{{.A.Port}}\nHost *\n  UserKnownHostsFile {{.Dir}}/kh\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"kh": "{{.Known \"B\" \"\"}}"}, alias: "web"},
	{name: "tokens in UserKnownHostsFile", noBase: true, config: "Host web\n  HostName {{.B.Host}}\n  Port {{.B.Port}}\n  UserKnownHostsFile {{.Dir}}/kh-%h-%p\n  GlobalKnownHostsFile none\n  IdentityFile {{.Key}}\n  StrictHostKeyChecking yes\n", files: map[string]string{"kh-{{.B.Host}}-{{.B.Port}}": "{{.Known \"B\" \"\"}}"}, alias: "web"},

	// Malformed files ssh refuses, and ones it accepts.
	{name: "unknown keyword", config: "Host web\n  HostName {{.A.Host}}\n  Colour blue\n", alias: "web", refused: 3},
	{name: "unknown keyword in another block", config: "Host other\n  Colour blue\nHost web\n  HostName {{.A.Host}}\n", alias: "web", refused: 2},
	{name: "IgnoreUnknown", config: "IgnoreUnknown Colour,UseKeychain\nHost web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n  UseKeychain yes\n  Colour blue\n", alias: "web"},
	{name: "missing value", config: "Host web\n  HostName\n", alias: "web", refused: 2},
	{name: "bad port in another block", config: "Host other\n  Port twenty\nHost web\n  HostName {{.A.Host}}\n", alias: "web", refused: 2},
	{name: "port out of range", config: "Host web\n  HostName {{.A.Host}}\n  Port 65536\n", alias: "web", refused: 3},
	{name: "port zero", config: "Host web\n  Port 0\n", alias: "web", refused: 2},
	{name: "unterminated quote", config: "Host web\n  HostName \"{{.A.Host}}\n", alias: "web", refused: 2},
	{name: "Host without pattern", config: "Host\n  HostName {{.A.Host}}\n", alias: "web", refused: 1},
	{name: "bad yes or no", config: "Host web\n  IdentitiesOnly maybe\n", alias: "web", refused: 2},
	{name: "bad StrictHostKeyChecking", config: "Host web\n  StrictHostKeyChecking sometimes\n", alias: "web", refused: 2},
	{name: "bad time", config: "Host web\n  ConnectTimeout 5 minutes\n", alias: "web", refused: 2},
	{name: "bad time unit", config: "Host web\n  ConnectTimeout 5x\n", alias: "web", refused: 2},
	{name: "extra arguments", config: "Host web\n  Port 22 23\n", alias: "web", refused: 2},
	{name: "none not alone", config: "Host web\n  UserKnownHostsFile none /tmp/x\n", alias: "web", refused: 2},
	{name: "deprecated option", config: "Protocol 2\nUseRoaming no\nHost web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "unsupported option", config: "RSAAuthentication yes\nHost web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n", alias: "web"},
	{name: "times with units", config: "Host web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n  ConnectTimeout 1m30s\n  ServerAliveInterval 1M\n", alias: "web"},
	{name: "ConnectTimeout none", config: "Host web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n  ConnectTimeout none\n", alias: "web"},
	{name: "StrictHostKeyChecking spellings", config: "Host web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n  StrictHostKeyChecking off\n", alias: "web"},
	{name: "many keywords", config: "Host web\n  HostName {{.A.Host}}\n  Port {{.A.Port}}\n  ForwardAgent no\n  ServerAliveCountMax 3\n  ControlMaster auto\n  ControlPath ~/.ssh/cm-%C\n  ControlPersist 10m\n  SendEnv LANG LC_*\n  SetEnv FOO=bar\n  AddKeysToAgent yes\n  LogLevel ERROR\n  Compression yes\n  AddressFamily inet\n  RequestTTY no\n  HashKnownHosts yes\n  PubkeyAuthentication yes\n  PasswordAuthentication no\n  KbdInteractiveAuthentication no\n  GSSAPIAuthentication no\n  LocalForward 8080 localhost:80\n  Ciphers +aes128-cbc\n", alias: "web",
		// ssh would want a ControlPath folder and a free port 8080: not what is compared.
		skipConnect: true},
}

// corpusEnv is what a case's templates see.
type corpusEnv struct {
	A, B, C, D    *sshtest.OpenSSH
	Dir, KH       string
	Key, Key2     string // A and B accept Key; C accepts Key2 only
	CertKey, Cert string // D accepts CertKey's certificate only; Cert is its text
	// Agent holds Key2 and CertKey with its certificate; BareAgent holds
	// CertKey alone.
	Agent, BareAgent string
	hostCA, userCA   *sshtest.CA
	servers          map[string]*sshtest.OpenSSH
}

// Name is how known_hosts names a server.
func (e *corpusEnv) Name(server string) string {
	s := e.servers[server]
	return knownhosts.Normalize(fmt.Sprintf("%s:%d", s.Host, s.Port))
}

// Known is a known_hosts line for server's key under name ("": its own).
func (e *corpusEnv) Known(server, name string) string {
	if name == "" {
		name = e.Name(server)
	}
	return knownhosts.Line([]string{name}, e.servers[server].HostKey)
}

// Hashed is a hashed known_hosts line for server.
func (e *corpusEnv) Hashed(server string) string {
	return knownhosts.Line([]string{knownhosts.HashHostname(e.Name(server))}, e.servers[server].HostKey)
}

// Revoked marks server's key @revoked.
func (e *corpusEnv) Revoked(server string) string {
	return "@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(e.servers[server].HostKey)))
}

// Authority trusts the host CA for every host.
func (e *corpusEnv) Authority() string {
	return "@cert-authority * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(e.hostCA.PublicKey)))
}

// startCorpusServers starts the corpus's sshds on 127.0.0.1-4, each saying
// its name in $EVW_SERVER.
func startCorpusServers(t *testing.T) *corpusEnv {
	dir := t.TempDir()
	e := &corpusEnv{Dir: dir, hostCA: sshtest.NewCA(t), userCA: sshtest.NewCA(t)}
	key := newUserKey(t, filepath.Join(dir, "key1"))
	key2 := newUserKey(t, filepath.Join(dir, "key2"))
	certKey := newUserKey(t, filepath.Join(dir, "key3"))
	throwaway := newUserKey(t, filepath.Join(dir, "key4"))
	e.Key, e.Key2, e.CertKey = key.IdentityFile, key2.IdentityFile, certKey.IdentityFile
	certFile := sshtest.SignUserKey(t, e.userCA, certKey, "root")
	data, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	e.Cert = string(data)
	trusted := filepath.Join(dir, "user_ca.pub")
	e.userCA.WritePublicKey(t, trusted)
	// sntrup761 costs a second per handshake on an emulated CPU.
	kex := "KexAlgorithms curve25519-sha256"
	e.A = sshtest.StartOpenSSHWith(t, sshtest.Options{Host: "127.0.0.1", UserKey: key, Config: []string{"SetEnv EVW_SERVER=A", kex}})
	e.B = sshtest.StartOpenSSHWith(t, sshtest.Options{Host: "127.0.0.2", UserKey: key, Config: []string{"SetEnv EVW_SERVER=B", kex}})
	e.C = sshtest.StartOpenSSHWith(t, sshtest.Options{Host: "127.0.0.3", UserKey: key2, Config: []string{"SetEnv EVW_SERVER=C", kex, "AllowTcpForwarding no"}})
	e.D = sshtest.StartOpenSSHWith(t, sshtest.Options{Host: "127.0.0.4", UserKey: throwaway, Cert: &sshtest.HostCert{CA: e.hostCA},
		Config: []string{"SetEnv EVW_SERVER=D", kex, "TrustedUserCAKeys " + trusted}})
	e.servers = map[string]*sshtest.OpenSSH{"A": e.A, "B": e.B, "C": e.C, "D": e.D}
	e.KH = filepath.Join(dir, "known_hosts")
	var lines []string
	for _, s := range []string{"A", "B", "C", "D"} {
		lines = append(lines, e.Known(s, ""))
	}
	lines = append(lines, e.Known("A", knownhosts.Normalize(fmt.Sprintf("localhost:%d", e.A.Port))))
	if err := os.WriteFile(e.KH, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EVW_CORPUS_DIR", dir)
	e.Agent = startAgent(t, filepath.Join(dir, "agent.sock"), e.Key2, e.CertKey)
	bare := filepath.Join(dir, "bare", "id_ed25519")
	if err := os.MkdirAll(filepath.Dir(bare), 0o700); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(e.CertKey); err != nil || os.WriteFile(bare, data, 0o600) != nil {
		t.Fatalf("copying the key: %v", err)
	}
	e.BareAgent = startAgent(t, filepath.Join(dir, "bare.sock"), bare)
	t.Setenv("EVW_CORPUS_AGENT", e.Agent)
	return e
}

// startAgent runs an ssh-agent of the test's own on socket, holding keys
// (and the certificates beside them, which ssh-add loads too).
func startAgent(t *testing.T, socket string, keys ...string) string {
	t.Helper()
	agent := exec.Command("ssh-agent", "-D", "-a", socket)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = agent.Process.Kill()
		_ = agent.Wait()
	})
	for {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	add := exec.Command("ssh-add", keys...)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+socket)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	return socket
}

func newUserKey(t *testing.T, dir string) *sshtest.UserKey {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	signer, file := sshtest.NewUserKey(t, dir)
	return &sshtest.UserKey{Signer: signer, IdentityFile: file}
}

var resolvers = []string{sshconfig.ResolverOpenSSH, sshconfig.ResolverBuiltin}

// TestCorpus runs every corpus case through ssh -G and both resolvers, and
// connects as real ssh and as everywhere (each resolver) to real sshds.
func TestCorpus(t *testing.T) {
	sshconfig.RequireSSH(t)
	sshtest.RequireOpenSSH(t)
	if len(corpus) < 80 {
		t.Errorf("the corpus has %d cases; keep at least 80", len(corpus))
	}
	e := startCorpusServers(t)
	t.Setenv("SSH_AUTH_SOCK", "")
	seen := map[string]bool{}
	for i, tc := range corpus {
		if seen[tc.name] {
			t.Fatalf("two cases named %q", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			// Each case waits mostly on handshakes: let them overlap.
			t.Parallel()
			dir := filepath.Join(e.Dir, fmt.Sprintf("case%d", i))
			config := writeCase(t, e, dir, tc)
			port := tc.port
			if port == -1 {
				port = e.B.Port
			}
			q := sshconfig.Query{Alias: tc.alias, User: tc.user, Port: port}
			want, sshErr := sshG(config, q)
			for _, r := range resolvers {
				cfg, err := sshconfig.LoadWith(config, sshconfig.Options{Resolver: r})
				var got sshconfig.Settings
				if err == nil {
					got, err = cfg.ResolveFor(context.Background(), q)
				}
				switch {
				case tc.refused != 0 && sshErr == nil:
					t.Fatalf("ssh -G accepts the config; the case says it refuses line %d", tc.refused)
				case sshErr != nil:
					if tc.refused == 0 {
						t.Fatalf("ssh -G refuses the config: %v", sshErr)
					}
					at := fmt.Sprintf("%s:%d:", config, tc.refused)
					if err == nil || !strings.Contains(err.Error(), at) || !errors.Is(err, sshconfig.ErrConfig) {
						t.Errorf("%s: got %v; ssh says %v (want an error at %s)", r, err, sshErr, at)
					}
					continue
				case err != nil:
					t.Errorf("%s: %v; ssh -G accepts the config", r, err)
					continue
				}
				for _, key := range sshconfig.Keys {
					if g, w := got.Value(key), strings.Join(want[key], " "); g != w {
						t.Errorf("%s: %s: got %q, ssh -G says %q", r, key, g, w)
					}
				}
			}
			if sshErr != nil || tc.skipConnect {
				return
			}
			// ssh and everywhere connect at once: the handshakes overlap.
			var sshSays string
			got := make([]string, len(resolvers))
			var wg sync.WaitGroup
			wg.Go(func() { sshSays = sshReaches(t, config, q) })
			for i, r := range resolvers {
				wg.Go(func() { got[i] = everywhereReaches(t, r, config, q) })
			}
			wg.Wait()
			for i, r := range resolvers {
				if got[i] != sshSays {
					t.Errorf("%s: everywhere reaches %s; ssh reaches %s", r, got[i], sshSays)
				}
			}
		})
	}
}

// writeCase writes the case's files and returns its config's path.
func writeCase(t *testing.T, e *corpusEnv, dir string, tc corpusCase) string {
	t.Helper()
	files := map[string]string{"config": tc.config}
	if !tc.noBase {
		files["config"] += base
	}
	for name, content := range tc.files {
		files[name] = content
	}
	env := *e
	env.Dir = dir
	for name, content := range files {
		path := filepath.Join(dir, expandTemplate(t, name, &env))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(name, "/") {
			continue
		}
		if err := os.WriteFile(path, []byte(expandTemplate(t, content, &env)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "config")
}

func expandTemplate(t *testing.T, text string, env *corpusEnv) string {
	t.Helper()
	tmpl, err := template.New("").Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, env); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// sshG is what ssh -G prints for q, each key's values in order.
func sshG(config string, q sshconfig.Query) (map[string][]string, error) {
	args := []string{"-G", "-F", config}
	if q.User != "" {
		args = append(args, "-l", q.User)
	}
	if q.Port != 0 {
		args = append(args, "-p", fmt.Sprint(q.Port))
	}
	cmd := exec.Command("ssh", append(args, "--", q.Alias)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ssh -G: %v: %s", err, stderr.String())
	}
	values := map[string][]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if key, value, ok := strings.Cut(line, " "); ok {
			values[key] = append(values[key], value)
		}
	}
	return values, nil
}

// sshReaches connects as ssh does and says which server answered, or
// "nothing" when ssh could not get in.
func sshReaches(t *testing.T, config string, q sshconfig.Query) string {
	t.Helper()
	args := []string{"-F", config, "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"}
	if q.User != "" {
		args = append(args, "-l", q.User)
	}
	if q.Port != 0 {
		args = append(args, "-p", fmt.Sprint(q.Port))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", append(args, "--", q.Alias, "echo server=$EVW_SERVER")...)
	cmd.Stdin = nil
	out, err := cmd.Output()
	return reached(string(out), err)
}

var serverLine = regexp.MustCompile(`server=(\w+)`)

func reached(out string, err error) string {
	if m := serverLine.FindStringSubmatch(out); m != nil && err == nil {
		return m[1]
	}
	return "nothing"
}

// everywhereReaches resolves q through an inventory as everywhere does,
// with resolver r, connects, and says which server answered.
func everywhereReaches(t *testing.T, r, config string, q sshconfig.Query) string {
	t.Helper()
	inv := fmt.Sprintf("hosts:\n  - {name: h, address: %q", q.Alias)
	if q.User != "" {
		inv += fmt.Sprintf(", user: %q", q.User)
	}
	if q.Port != 0 {
		inv += fmt.Sprintf(", port: %d", q.Port)
	}
	inv += "}\n"
	parsed, err := inventory.Parse(filepath.Join(filepath.Dir(config), "inv.yaml"), []byte(inv), inventory.Options{SSHConfig: config, SSHResolver: r})
	if err != nil {
		t.Logf("%s: inventory: %v", r, err)
		return "nothing"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := sshconn.NewDialer(false, 0).Dial(ctx, parsed.Hosts[0])
	if err != nil {
		t.Logf("%s: %v", r, err)
		return "nothing"
	}
	defer conn.Close()
	out, err := conn.Exec(ctx, "echo server=$EVW_SERVER", 1<<10)
	if err != nil {
		return "nothing"
	}
	return reached(out.Stdout.String(), nil)
}
