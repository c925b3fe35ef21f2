package sshconn

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"everywhere/internal/sshconfig"
)

// knownHosts is one known_hosts file, read whole. x/crypto's knownhosts
// skips a line it cannot parse, and a skipped line is a pin silently gone:
// a key appended to a file lacking its final newline glued itself to the
// last line and erased that host's pin (issue #11). Here any line that
// cannot be parsed is an error naming it.
type knownHosts struct {
	entries []knownEntry
	// byName indexes, by each name, the entries whose host field is a list
	// of plain names (no wildcard, negation or hash), and others holds the
	// rest: a fleet's known_hosts has a line per host, and matching every
	// line for every host made dialling 20,000 hosts spend a third of its
	// CPU here.
	byName map[string][]int
	others []int
	// revokedKeys indexes the @revoked entries by key (the first line of
	// each): matching every entry for every host cost 2.7% of a
	// 20,000-host run's CPU.
	revokedKeys map[string]int
}

// knownEntry is one line of a known_hosts file.
type knownEntry struct {
	file   string
	line   int
	marker string // "", markerCA or markerRevoked
	hosts  hostMatcher
	names  []string // the host field's names when all are plain, in lower case
	key    ssh.PublicKey
}

const (
	markerCA      = "@cert-authority"
	markerRevoked = "@revoked"
)

// errKeyNotKnown says that no line of known_hosts speaks for the host: it
// is new, and trust on first use may record its key.
var errKeyNotKnown = errors.New("no known_hosts line for the host")

// parseKnownHosts parses data, the content of file, in the format of
// sshd(8)'s SSH_KNOWN_HOSTS_FILE_FORMAT.
func parseKnownHosts(file string, data []byte) (*knownHosts, error) {
	kh := &knownHosts{byName: map[string][]int{}, revokedKeys: map[string]int{}}
	for i, line := range bytes.Split(data, []byte("\n")) {
		text := strings.Trim(strings.TrimSuffix(string(line), "\r"), " \t")
		if text == "" || text[0] == '#' {
			continue
		}
		e, err := parseKnownEntry(text)
		if err != nil {
			return nil, fmt.Errorf("known_hosts %s:%d: %w; fix or remove that line", file, i+1, err)
		}
		e.file, e.line = file, i+1
		if e.names == nil {
			kh.others = append(kh.others, len(kh.entries))
		}
		for _, name := range e.names {
			kh.byName[name] = append(kh.byName[name], len(kh.entries))
		}
		if e.marker == markerRevoked {
			blob := string(plainKey(e.key).Marshal())
			if _, seen := kh.revokedKeys[blob]; !seen {
				kh.revokedKeys[blob] = len(kh.entries)
			}
		}
		kh.entries = append(kh.entries, e)
	}
	return kh, nil
}

func parseKnownEntry(text string) (knownEntry, error) {
	var e knownEntry
	fields := strings.FieldsFunc(text, func(r rune) bool { return r == ' ' || r == '\t' })
	if strings.HasPrefix(fields[0], "@") {
		if fields[0] != markerCA && fields[0] != markerRevoked {
			return e, fmt.Errorf("unknown marker %q (want %s or %s)", fields[0], markerCA, markerRevoked)
		}
		e.marker, fields = fields[0], fields[1:]
		if len(fields) > 0 && strings.HasPrefix(fields[0], "@") {
			return e, fmt.Errorf("a second marker, %q", fields[0])
		}
	}
	if len(fields) < 3 {
		return e, errors.New("want host patterns, a key type and a key")
	}
	var err error
	if e.hosts, err = parseHostMatcher(fields[0]); err != nil {
		return e, err
	}
	if !strings.ContainsAny(fields[0], "|*?!") {
		e.names = strings.FieldsFunc(strings.ToLower(fields[0]), func(r rune) bool { return r == ',' })
	}
	blob, err := base64.StdEncoding.DecodeString(fields[2])
	if err != nil && len(fields) > 3 {
		return e, fmt.Errorf("key is not base64 (%w): is another entry glued onto this line, after a missing newline?", err)
	}
	if err != nil {
		return e, fmt.Errorf("key is not base64: %w", err)
	}
	if e.key, err = ssh.ParsePublicKey(blob); err != nil {
		return e, fmt.Errorf("key: %w", err)
	}
	if e.key.Type() != fields[1] {
		return e, fmt.Errorf("key type %s does not match the key, a %s", fields[1], e.key.Type())
	}
	return e, nil
}

// hostMatcher says whether an entry speaks for a host, named as
// known_hosts names it: host, or [host]:port off port 22, in lower case.
type hostMatcher func(name string) bool

// lookupName is how known_hosts names addr (host:port), as OpenSSH looks
// it up.
func lookupName(addr string) string { return strings.ToLower(knownhosts.Normalize(addr)) }

// parseHostMatcher parses a hashed host (|1|salt|hash) or a comma-separated
// list of patterns (* and ? wildcards, ! negation) matched as OpenSSH
// matches them: against the whole name, [host]:port included, so that
// [10.0.0.*]:* is any port; a negated match excludes the host whatever
// else matches; case is ignored.
func parseHostMatcher(field string) (hostMatcher, error) {
	if strings.HasPrefix(field, "|") {
		parts := strings.Split(field, "|")
		if len(parts) != 4 || parts[1] != "1" {
			return nil, fmt.Errorf("hashed host %q is not |1|salt|hash", field)
		}
		salt, err1 := base64.StdEncoding.DecodeString(parts[2])
		hash, err2 := base64.StdEncoding.DecodeString(parts[3])
		if err := errors.Join(err1, err2); err != nil || len(salt) != sha1.Size || len(hash) != sha1.Size {
			return nil, fmt.Errorf("hashed host %q: salt and hash must be %d bytes of base64", field, sha1.Size)
		}
		return func(name string) bool {
			mac := hmac.New(sha1.New, salt)
			mac.Write([]byte(name))
			return hmac.Equal(mac.Sum(nil), hash)
		}, nil
	}
	var patterns []string
	for _, p := range strings.Split(strings.ToLower(field), ",") {
		switch {
		case p == "!":
			return nil, errors.New("host pattern ! negates nothing")
		case p != "":
			patterns = append(patterns, p)
		}
	}
	if len(patterns) == 0 {
		return nil, errors.New("no host pattern")
	}
	return func(name string) bool {
		matched := false
		for _, p := range patterns {
			negate := strings.HasPrefix(p, "!")
			if !sshconfig.MatchPattern(name, strings.TrimPrefix(p, "!")) {
				continue
			}
			if negate {
				return false
			}
			matched = true
		}
		return matched
	}, nil
}

// hostEntries are the lines that speak for one host.
type hostEntries struct {
	authorities []knownEntry // @cert-authority
	pins        []knownEntry // plain keys
}

// lookup finds the entries for name (as lookupName or HostKeyAlias give
// it), in file order: those naming it plainly, and of the others (hashed
// lines cost an HMAC each) those that match.
func (kh *knownHosts) lookup(name string) hostEntries {
	lines := append(slices.Clone(kh.byName[name]), kh.others...)
	slices.Sort(lines)
	var found hostEntries
	for _, i := range lines {
		switch e := kh.entries[i]; {
		case e.marker == markerRevoked || !e.hosts(name):
		case e.marker == markerCA:
			found.authorities = append(found.authorities, e)
		default:
			found.pins = append(found.pins, e)
		}
	}
	return found
}

// revoked returns the @revoked entry for key, or nil. A revoked key is
// refused for every host, whatever the line's host patterns (as x/crypto's
// knownhosts does; the safer reading of "must not ever be accepted").
func (kh *knownHosts) revoked(key ssh.PublicKey) *knownEntry {
	if i, ok := kh.revokedKeys[string(plainKey(key).Marshal())]; ok {
		return &kh.entries[i]
	}
	return nil
}

// plainKey is the key a certificate certifies, or key itself.
func plainKey(key ssh.PublicKey) ssh.PublicKey {
	if cert, ok := key.(*ssh.Certificate); ok {
		return cert.Key
	}
	return key
}

func describe(key ssh.PublicKey) string {
	return key.Type() + " " + ssh.FingerprintSHA256(key)
}

func (e knownEntry) where() string { return fmt.Sprintf("%s:%d", e.file, e.line) }

// knownHostsSet is every known_hosts file ssh reads for a host, in the
// order it reads them (UserKnownHostsFile, then GlobalKnownHostsFile): a
// key is trusted when any of them trusts it, as ssh loads them all into
// one set of keys.
type knownHostsSet []*knownHosts

func (set knownHostsSet) lookup(name string) hostEntries {
	var found hostEntries
	for _, kh := range set {
		f := kh.lookup(name)
		found.authorities = append(found.authorities, f.authorities...)
		found.pins = append(found.pins, f.pins...)
	}
	return found
}

func (set knownHostsSet) revoked(key ssh.PublicKey) *knownEntry {
	for _, kh := range set {
		if e := kh.revoked(key); e != nil {
			return e
		}
	}
	return nil
}

// hostKeyName is what known_hosts calls the host at addr: its
// HostKeyAlias (no port, as ssh), else host or [host]:port.
func hostKeyName(addr, alias string) string {
	if alias != "" {
		return strings.ToLower(alias)
	}
	return lookupName(addr)
}

// verify decides on key, offered by the server at addr (known as alias
// when HostKeyAlias is set): nil when known_hosts trusts it,
// errKeyNotKnown when no line speaks for it, else a *hostKeyError that
// says why it is refused.
func (set knownHostsSet) verify(addr, alias string, key ssh.PublicKey) error {
	refuse := func(kind error, format string, args ...any) error {
		return &hostKeyError{kind: kind, detail: fmt.Sprintf(format, args...)}
	}
	if e := set.revoked(key); e != nil {
		return refuse(ErrHostKeyRevoked, "server offered %s, which %s marks @revoked: it must never be trusted again", describe(plainKey(key)), e.where())
	}
	name := hostKeyName(addr, alias)
	found := set.lookup(name)
	offered := describe(key)
	if cert, ok := key.(*ssh.Certificate); ok {
		if e := set.revoked(cert.SignatureKey); e != nil {
			return refuse(ErrHostKeyRevoked, "server offered a host certificate signed by CA %s, which %s marks @revoked: it must never be trusted again", describe(cert.SignatureKey), e.where())
		}
		for _, ca := range found.authorities {
			if !bytes.Equal(ca.key.Marshal(), cert.SignatureKey.Marshal()) {
				continue
			}
			if err := checkHostCert(addr, alias, cert); err != nil {
				return refuse(ErrHostKeyChanged, "server offered a host certificate from the CA that %s trusts, but it is not valid for this host: %v", ca.where(), err)
			}
			return nil
		}
		// A certificate from no CA trusted for addr is judged as the plain
		// key it certifies, as OpenSSH does.
		offered = fmt.Sprintf("a host certificate signed by CA %s for key %s", describe(cert.SignatureKey), describe(cert.Key))
		key = cert.Key
	}
	for _, pin := range found.pins {
		if bytes.Equal(pin.key.Marshal(), key.Marshal()) {
			return nil
		}
	}
	switch pins, authorities := found.pins, found.authorities; {
	case len(pins) > 0:
		return refuse(ErrHostKeyChanged,
			"server offered %s but %s records %s; this may be an attack. If the host was reinstalled, remove that line (ssh-keygen -R %q -f %s) and verify the new key",
			offered, pins[0].where(), describe(pins[0].key), forgetName(addr, alias), pins[0].file)
	case len(authorities) > 0:
		return refuse(ErrHostKeyChanged,
			"server offered %s, but %s trusts this host only with a host certificate signed by CA %s; this may be an attack, or the host's certificate is missing or from another CA",
			offered, authorities[0].where(), describe(authorities[0].key))
	}
	return errKeyNotKnown
}

// forgetName is the name to give ssh-keygen -R for the host.
func forgetName(addr, alias string) string {
	if alias != "" {
		return alias
	}
	return knownhosts.Normalize(addr)
}

// checkHostCert checks a certificate already known to be signed by a
// trusted CA as OpenSSH does: a host certificate, naming the host (as
// dialled, without the port; its HostKeyAlias when set) among its principals, within its validity,
// with no critical option. Unlike OpenSSH, a certificate naming no
// principals is refused rather than valid for every host the CA covers:
// one leaked host key would otherwise pass for any of them.
func checkHostCert(addr, alias string, cert *ssh.Certificate) error {
	if cert.CertType != ssh.HostCert {
		return errors.New("it is a user certificate")
	}
	if len(cert.ValidPrincipals) == 0 {
		return errors.New("it names no principals (sign it for the host's name: ssh-keygen -h -n NAME)")
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if alias != "" {
		host = alias
	}
	return (&ssh.CertChecker{}).CheckCert(host, cert)
}

// algorithms are the host key algorithms to ask of a host with these
// entries: the types they record, so that the server presents a key we
// can check (as OpenSSH does) rather than one of an unknown type, and host
// certificates first when a @cert-authority line speaks for it. Nil, for a
// host known_hosts does not name, leaves x/crypto's defaults.
func (found hostEntries) algorithms() []string {
	var algorithms []string
	if len(found.authorities) > 0 {
		for _, a := range ssh.SupportedAlgorithms().HostKeys {
			if strings.HasSuffix(a, "-cert-v01@openssh.com") {
				algorithms = append(algorithms, a)
			}
		}
	}
	for _, pin := range found.pins {
		types := []string{pin.key.Type()}
		if types[0] == ssh.KeyAlgoRSA {
			types = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, t := range types {
			if !slices.Contains(algorithms, t) {
				algorithms = append(algorithms, t)
			}
		}
	}
	return algorithms
}

// expected describes the entries for an error: what the host was expected
// to present, and where known_hosts says so.
func (found hostEntries) expected() string {
	var lines []string
	for _, e := range found.authorities {
		lines = append(lines, fmt.Sprintf("certificate from CA %s at %s", describe(e.key), e.where()))
	}
	for _, e := range found.pins {
		lines = append(lines, fmt.Sprintf("%s at %s", e.key.Type(), e.where()))
	}
	return strings.Join(lines, ", ")
}

// readKnownHosts reads and parses file under a shared lock, so that it is
// never read half-way through another run's append. With create, a missing
// file (and its directory) is created empty, never truncating one that a
// concurrent run has just written.
func readKnownHosts(file string, create bool) (*knownHosts, error) {
	flags := os.O_RDONLY
	if create {
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			return nil, fmt.Errorf("known_hosts %s: %w", file, err)
		}
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(file, flags, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("known_hosts %s: %w (create it, or rerun with --accept-new-host-keys)", file, err)
	}
	if err != nil {
		return nil, fmt.Errorf("known_hosts %s: %w", file, err)
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_SH); err != nil {
		return nil, fmt.Errorf("known_hosts %s: locking: %w", file, err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("known_hosts %s: %w", file, err)
	}
	return parseKnownHosts(file, data)
}

// remember records key for addr in file (trust on first use) unless the
// file as it is now decides otherwise: another run may have recorded a key
// for addr since the Dialer read it. The file stays locked (flock, so
// other everywhere processes wait too) from that reading to the append,
// and the append starts on a line of its own.
func remember(file, addr, alias string, key ssh.PublicKey) error {
	fail := func(err error) error {
		return &hostKeyError{kind: ErrHostKeyUnknown, detail: fmt.Sprintf("recording host key: %v", err)}
	}
	f, err := os.OpenFile(file, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if err := flock(f, syscall.LOCK_EX); err != nil {
		return fail(fmt.Errorf("locking %s: %w", file, err))
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fail(err)
	}
	kh, err := parseKnownHosts(file, data)
	if err != nil {
		return fail(err)
	}
	if err := (knownHostsSet{kh}).verify(addr, alias, key); !errors.Is(err, errKeyNotKnown) {
		return err
	}
	// A certificate from an unknown CA was judged as its plain key; that
	// key is what is pinned.
	line := knownhosts.Line([]string{forgetName(addr, alias)}, plainKey(key)) + "\n"
	if len(data) > 0 && data[len(data)-1] != '\n' {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	return nil
}

// flock takes an advisory lock on f, held until f is closed.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
