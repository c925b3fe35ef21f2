package sshconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"everywhere/internal/inventory"
)

// DefaultMaxHandshakes caps SSH handshakes in flight: an sshd's listen
// queue (128 by default) overflows and resets connections beyond that.
const DefaultMaxHandshakes = 64

// Errors callers branch on. Each is wrapped in a *ConnectError.
var (
	ErrUnreachable    = errors.New("unreachable")
	ErrHostKeyChanged = errors.New("host key changed")
	ErrHostKeyUnknown = errors.New("host key unknown")
	// ErrHostKeyRevoked is a key (or a certificate's CA) that known_hosts
	// marks @revoked: refused like a changed key, and told apart so that
	// the message does not suggest replacing the pin.
	ErrHostKeyRevoked = errors.New("host key revoked")
	ErrAuth           = errors.New("authentication failed")
)

// ConnectError says why a host could not be reached and what to do about it.
type ConnectError struct {
	Host   string
	Via    string // the jump host where reaching Host failed; empty: Host itself
	Addr   string // the address of Via when set, else of Host
	Kind   error  // one of the Err* sentinels above
	Detail string
}

func (e *ConnectError) Error() string {
	if e.Via != "" {
		return fmt.Sprintf("host %s: via %s (%s): %v: %s", e.Host, e.Via, e.Addr, e.Kind, e.Detail)
	}
	return fmt.Sprintf("host %s (%s): %v: %s", e.Host, e.Addr, e.Kind, e.Detail)
}

func (e *ConnectError) Unwrap() error { return e.Kind }

// Dialer opens SSH connections to hosts. It is safe for concurrent use; one
// Dialer serves a whole run so that the handshake cap and known_hosts writes
// are shared.
type Dialer struct {
	// AcceptNewHostKeys records keys of hosts absent from known_hosts
	// (trust on first use). A changed key is refused regardless.
	AcceptNewHostKeys bool

	handshakes chan struct{}

	cacheMu    sync.Mutex
	knownHosts map[string]knownHostsDB // parsed once per file: a fleet shares one
	// identities are the identity files read and parsed, once per file:
	// opening and parsing one per host took 4% of a 20,000-host run's CPU.
	identities map[string]identity
	// certificates are the user certificate files read, once per file.
	certificates map[string]certFile
}

// certFile is a user certificate file parsed, or why it could not be.
type certFile struct {
	cert *ssh.Certificate
	err  error
}

// identity is a private key file parsed, or why it could not be read or parsed.
type identity struct {
	signer            ssh.Signer
	readErr, parseErr error
}

// knownHostsDB is a parsed known_hosts file, or why it could not be read.
type knownHostsDB struct {
	kh  *knownHosts
	err error
}

// NewDialer returns a Dialer allowing maxHandshakes handshakes at once
// (DefaultMaxHandshakes when <= 0).
func NewDialer(acceptNewHostKeys bool, maxHandshakes int) *Dialer {
	if maxHandshakes <= 0 {
		maxHandshakes = DefaultMaxHandshakes
	}
	return &Dialer{AcceptNewHostKeys: acceptNewHostKeys, handshakes: make(chan struct{}, maxHandshakes),
		knownHosts: map[string]knownHostsDB{}, identities: map[string]identity{}, certificates: map[string]certFile{}}
}

// Conn is one SSH connection to one host; every step runs in a new session
// on it. Close it once, when the host's work is done.
type Conn struct {
	host   inventory.Host
	client *ssh.Client
	jumps  []*ssh.Client // the hops' connections this one runs through, in order
	stop   chan struct{}
	once   sync.Once

	mu      sync.Mutex
	closed  bool
	onClose []func() // closers of clients that dial through this connection
}

// Dial connects to h, through its jump hosts when it has some, and
// authenticates; each hop is verified and authenticated as a host of its
// own, within its own connect timeout, and ctx cancels any of them.
func (d *Dialer) Dial(ctx context.Context, h inventory.Host) (*Conn, error) {
	// One slot for the whole chain: a slot per hop could deadlock a fleet
	// whose hosts all wait for their bastion's handshake.
	select {
	case d.handshakes <- struct{}{}:
		defer func() { <-d.handshakes }()
	case <-ctx.Done():
		return nil, &ConnectError{Host: h.Name, Addr: h.Addr(), Kind: ErrUnreachable, Detail: fmt.Sprintf("%v before connecting", ctx.Err())}
	}
	var jumps []*ssh.Client
	closeJumps := func() {
		for i := len(jumps) - 1; i >= 0; i-- {
			_ = jumps[i].Close()
		}
	}
	var via *ssh.Client
	for _, hop := range h.Jumps {
		client, err := d.handshake(ctx, hop, via)
		if err != nil {
			closeJumps()
			err.Host, err.Via = h.Name, hop.Name
			return nil, err
		}
		jumps = append(jumps, client)
		via = client
	}
	client, err := d.handshake(ctx, h, via)
	if err != nil {
		closeJumps()
		return nil, err
	}
	c := &Conn{host: h, client: client, jumps: jumps, stop: make(chan struct{})}
	if h.Keepalive > 0 {
		go c.keepalive(h.Keepalive)
	}
	// A connection that ends by itself (the link dropped, the server went,
	// keepalive gave up) is closed as Close closes it: OnClose hooks run,
	// so that whoever keeps it (the console) knows.
	go func() {
		_ = client.Wait()
		_ = c.Close()
	}()
	return c, nil
}

// handshake reaches h, through via when it is not nil, else by its
// ProxyCommand or TCP, and opens an SSH client on that stream.
func (d *Dialer) handshake(ctx context.Context, h inventory.Host, via *ssh.Client) (*ssh.Client, *ConnectError) {
	fail := func(kind error, format string, args ...any) *ConnectError {
		return &ConnectError{Host: h.Name, Addr: h.Addr(), Kind: kind, Detail: fmt.Sprintf(format, args...)}
	}
	auth, closeAgent, tried, err := d.authMethods(h)
	if err != nil {
		return nil, fail(ErrAuth, "%v", err)
	}
	defer closeAgent()
	hostKeys, algorithms, expected, err := d.hostKeyCallback(h)
	if err != nil {
		return nil, fail(ErrHostKeyUnknown, "%v", err)
	}

	timeout := h.ConnectTimeout
	if timeout <= 0 {
		timeout = inventory.DefaultConnectTimeout
	}
	dialCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	stream, how, err := dialStream(dialCtx, h, via)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return nil, fail(ErrUnreachable, "%v while connecting", ctx.Err())
		case dialCtx.Err() == context.DeadlineExceeded:
			return nil, fail(ErrUnreachable, "no answer %swithin %v (connect_timeout)", how, timeout)
		}
		return nil, fail(ErrUnreachable, "%s%v", how, err)
	}
	// ssh.Dial's timeout covers only the TCP connect (golang/go#51926): a
	// deadline on the conn bounds a stalled key exchange, and closing it on
	// cancellation or timeout makes either reach a handshake in progress
	// (streams through a jump host or a command have no deadlines).
	deadline, _ := dialCtx.Deadline()
	_ = stream.SetDeadline(deadline)
	stopWatch := context.AfterFunc(dialCtx, func() { _ = stream.Close() })
	config := &ssh.ClientConfig{
		User:              h.User,
		Auth:              auth,
		HostKeyCallback:   hostKeys,
		HostKeyAlgorithms: algorithms,
		Timeout:           timeout,
	}
	sshConn, chans, reqs, err := ssh.NewClientConn(stream, h.Addr(), config)
	stopped := stopWatch()
	if err != nil {
		_ = stream.Close()
		var keyErr *hostKeyError
		switch {
		case errors.As(err, &keyErr):
			return nil, fail(keyErr.kind, "%s", keyErr.detail)
		case len(algorithms) > 0 && strings.Contains(err.Error(), "no common algorithm for host key"):
			return nil, fail(ErrHostKeyChanged, "the server offers no host key of the kinds known_hosts expects of it (%s); this may be an attack, or the host was reinstalled", expected)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, fail(ErrAuth, "as user %q with %s: the server accepted none of these keys", h.User, tried)
		case !stopped && ctx.Err() != nil:
			return nil, fail(ErrUnreachable, "%v during SSH handshake", ctx.Err())
		case !stopped || isTimeout(err):
			return nil, fail(ErrUnreachable, "SSH handshake %sdid not finish within %v (connect_timeout)", how, timeout)
		}
		return nil, fail(ErrUnreachable, "SSH handshake %s%v%s", how, err, proxyStderr(stream))
	}
	_ = stream.SetDeadline(time.Time{})
	return ssh.NewClient(sshConn, chans, reqs), nil
}

// dialStream opens the byte stream an SSH handshake runs on, and says how
// for errors ("through ProxyCommand …: ").
func dialStream(ctx context.Context, h inventory.Host, via *ssh.Client) (net.Conn, string, error) {
	switch {
	case via != nil:
		c, err := via.DialContext(ctx, "tcp", h.Addr())
		return c, "", err
	case h.ProxyCommand != "":
		c, err := startProxyCommand(ctx, h.ProxyCommand)
		return c, fmt.Sprintf("through ProxyCommand %q: ", h.ProxyCommand), err
	}
	c, err := (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext(ctx, "tcp", h.Addr())
	return c, "", err
}

// Transient says whether err, from Dial, may pass if the host is dialled
// again: it could not be reached (refused, reset, no route, timed out). A
// host key or login that was refused stays refused.
func Transient(err error) bool { return errors.Is(err, ErrUnreachable) }

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// keepalive closes the connection when the server stops answering, so that
// sessions on a dead link fail instead of hanging.
func (c *Conn) keepalive(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := c.client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err == nil {
				continue
			}
		case <-time.After(every):
		case <-c.stop:
			return
		}
		_ = c.client.Close()
		return
	}
}

// Host is the host this connection reaches.
func (c *Conn) Host() inventory.Host { return c.host }

// OnClose has f run when the connection closes, before the SSH client
// goes: how a Docker or LXD client dialling through it is closed. On a
// closed connection f runs at once.
func (c *Conn) OnClose(f func()) {
	c.mu.Lock()
	if !c.closed {
		c.onClose = append(c.onClose, f)
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	f()
}

// Close ends the connection, the clients dialling through it and every
// session on it. Safe to call twice.
func (c *Conn) Close() error {
	var err error
	c.once.Do(func() {
		close(c.stop)
		c.mu.Lock()
		c.closed = true
		closers := c.onClose
		c.onClose = nil
		c.mu.Unlock()
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		err = c.client.Close()
		for i := len(c.jumps) - 1; i >= 0; i-- {
			_ = c.jumps[i].Close()
		}
	})
	return err
}

// DialContext opens a stream to network/addr on the far side of the SSH
// connection ("unix" reaches a socket such as /var/run/docker.sock).
func (c *Conn) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return c.client.DialContext(ctx, network, addr)
}

// authMethods offers what ssh offers: the host's identity file (when set)
// or the ssh config's IdentityFiles, each with its certificates first (the
// config's CertificateFiles that certify it, else the -cert.pub beside
// it), then the keys and certificates of the ssh-agent (unless
// IdentitiesOnly), and a CertificateFile whose private key only the agent
// holds. tried describes them for errors, with the keys skipped and why.
func (d *Dialer) authMethods(h inventory.Host) (methods []ssh.AuthMethod, closeAgent func(), tried string, err error) {
	closeAgent = func() {}
	var signers []ssh.Signer
	var names, skipped []string
	keyFiles := []string{h.Identity}
	switch {
	case h.Identity == "" && len(h.ConfigIdentities) > 0:
		// As ssh, a configured key that is missing is passed over.
		keyFiles = h.ConfigIdentities
	case h.Identity == "":
		home, _ := os.UserHomeDir()
		keyFiles = []string{filepath.Join(home, ".ssh/id_ed25519"), filepath.Join(home, ".ssh/id_ecdsa"), filepath.Join(home, ".ssh/id_rsa")}
	}
	var certs []*ssh.Certificate
	for _, file := range h.Certificates {
		if cert, err := d.certificate(file); err == nil {
			certs = append(certs, cert)
		} else if !errors.Is(err, fs.ErrNotExist) {
			skipped = append(skipped, fmt.Sprintf("%s skipped: %v", file, err))
		}
	}
	certified := map[*ssh.Certificate]bool{}
	for _, file := range keyFiles {
		id := d.identity(file)
		readErr, parseErr := id.readErr, id.parseErr
		var open *tooOpenError
		switch {
		case readErr != nil && h.Identity != "":
			return nil, closeAgent, "", fmt.Errorf("identity %s: %w", file, readErr)
		case errors.As(readErr, &open):
			skipped = append(skipped, fmt.Sprintf("%s skipped: %v", file, readErr))
			continue
		case readErr != nil:
			continue
		}
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(parseErr, &missing) && h.Identity != "":
			return nil, closeAgent, "", fmt.Errorf("identity %s is passphrase-protected: load it into ssh-agent (ssh-add %s)", file, file)
		case parseErr != nil && h.Identity != "":
			return nil, closeAgent, "", fmt.Errorf("identity %s: %w", file, parseErr)
		case parseErr != nil:
			continue
		}
		mine := certs
		if len(h.Certificates) == 0 {
			// ssh looks beside the key only when no CertificateFile is given.
			mine = nil
			if cert, err := d.certificate(file + "-cert.pub"); err == nil {
				mine = []*ssh.Certificate{cert}
			}
		}
		for _, cert := range mine {
			if signer, err := ssh.NewCertSigner(cert, id.signer); err == nil {
				signers = append(signers, signer)
				names = append(names, fmt.Sprintf("%s with certificate %q", file, cert.KeyId))
				certified[cert] = true
			}
		}
		signers = append(signers, id.signer)
		names = append(names, file)
	}
	if sock := agentSocket(h.IdentityAgent); sock != "" {
		if conn, dialErr := net.DialTimeout("unix", sock, 2*time.Second); dialErr == nil {
			closeAgent = func() { _ = conn.Close() }
			agentSigners, _ := agent.NewClient(conn).Signers()
			var offered int
			for _, s := range agentSigners {
				for _, cert := range certs {
					if certified[cert] || !bytes.Equal(cert.Key.Marshal(), s.PublicKey().Marshal()) {
						continue
					}
					if signer, err := ssh.NewCertSigner(cert, s); err == nil {
						signers = append(signers, signer)
						names = append(names, fmt.Sprintf("certificate %q with its key in ssh-agent", cert.KeyId))
						certified[cert] = true
					}
				}
				if !h.IdentitiesOnly {
					signers = append(signers, s)
					offered++
				}
			}
			if offered > 0 {
				names = append(names, fmt.Sprintf("%d ssh-agent key(s)", offered))
			}
		}
	}
	if len(signers) == 0 {
		return nil, closeAgent, "", errors.New(strings.Join(append([]string{"no key to offer: set identity: in the inventory or start ssh-agent"}, skipped...), "; "))
	}
	tried = strings.Join(names, ", ")
	if len(skipped) > 0 {
		tried += " (" + strings.Join(skipped, "; ") + ")"
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, closeAgent, tried, nil
}

// agentSocket is the agent ssh would ask, given IdentityAgent: none is
// none; SSH_AUTH_SOCK (or unset) and $VAR name environment variables;
// anything else is the socket's path, already expanded.
func agentSocket(identityAgent string) string {
	switch {
	case strings.EqualFold(identityAgent, "none"):
		return ""
	case identityAgent == "" || identityAgent == "SSH_AUTH_SOCK":
		return os.Getenv("SSH_AUTH_SOCK")
	case strings.HasPrefix(identityAgent, "$") && !strings.HasPrefix(identityAgent, "${"):
		return os.Getenv(identityAgent[1:])
	}
	return identityAgent
}

// certificate reads and parses a user certificate file once for the
// Dialer's life.
func (d *Dialer) certificate(file string) (*ssh.Certificate, error) {
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	if c, ok := d.certificates[file]; ok {
		return c.cert, c.err
	}
	var c certFile
	data, err := os.ReadFile(file)
	switch {
	case err != nil:
		c.err = err
	default:
		key, _, _, _, err := ssh.ParseAuthorizedKey(data)
		cert, ok := key.(*ssh.Certificate)
		switch {
		case err != nil:
			c.err = err
		case !ok:
			c.err = fmt.Errorf("%s is a %s key, not a certificate", file, key.Type())
		default:
			c.cert = cert
		}
	}
	d.certificates[file] = c
	return c.cert, c.err
}

// identity reads and parses file once for the Dialer's life.
func (d *Dialer) identity(file string) identity {
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	id, ok := d.identities[file]
	if !ok {
		var data []byte
		if data, id.readErr = readIdentity(file); id.readErr == nil {
			id.signer, id.parseErr = ssh.ParsePrivateKey(data)
		}
		d.identities[file] = id
	}
	return id
}

// tooOpenError is a private key that others than its owner may read. OpenSSH
// ignores such a key; so do we, lest a key that leaked stay in use unnoticed.
type tooOpenError struct {
	file string
	mode fs.FileMode
}

func (e *tooOpenError) Error() string {
	return fmt.Sprintf("Permissions %04o for '%s' are too open: it is required that your private key files are NOT accessible by others (chmod 600 %s)", e.mode.Perm(), e.file, e.file)
}

// readIdentity reads a private key file, refusing it as OpenSSH's
// sshkey_perm_ok does: when it belongs to us and group or others have any
// access to it. A key owned by someone else (root, sharing it with a
// group) is allowed, as there.
func readIdentity(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Getuid() && info.Mode().Perm()&0o077 != 0 {
		return nil, &tooOpenError{file: file, mode: info.Mode()}
	}
	return io.ReadAll(f)
}

// hostKeyError carries a precise explanation through x/crypto/ssh's handshake.
type hostKeyError struct {
	kind   error
	detail string
}

func (e *hostKeyError) Error() string { return e.detail }

// hostKeyCallback verifies against every known_hosts file of h, and
// returns the host key algorithms to ask for (see hostEntries.algorithms)
// and what known_hosts expects of the host, for an error when the server
// offers none of them.
func (d *Dialer) hostKeyCallback(h inventory.Host) (callback ssh.HostKeyCallback, algorithms []string, expected string, err error) {
	// StrictHostKeyChecking accept-new asks for what the flag does, for
	// this host alone. "no" is taken as accept-new: ssh then records new
	// keys as well, and connects where the key changed, which everywhere
	// never does.
	acceptNew := d.AcceptNewHostKeys || h.HostKeyPolicy == "accept-new" || h.HostKeyPolicy == "no"
	set, err := d.knownHostsSet(h, acceptNew)
	if err != nil {
		return nil, nil, "", err
	}
	callback = func(addr string, _ net.Addr, key ssh.PublicKey) error {
		err := set.verify(addr, h.HostKeyAlias, key)
		switch {
		case !errors.Is(err, errKeyNotKnown):
			return err
		case !acceptNew:
			return &hostKeyError{kind: ErrHostKeyUnknown, detail: fmt.Sprintf(
				"%s is not in %s; verify it and add it (ssh-keyscan -p %d %s), or rerun with --accept-new-host-keys to trust it on first use",
				describe(plainKey(key)), strings.Join(knownHostsFiles(h), " nor "), h.Port, h.Address)}
		}
		return remember(h.KnownHosts, addr, h.HostKeyAlias, key)
	}
	found := set.lookup(hostKeyName(h.Addr(), h.HostKeyAlias))
	return callback, found.algorithms(), found.expected(), nil
}

// knownHostsFiles are the files h's key is looked up in, in ssh's order.
func knownHostsFiles(h inventory.Host) []string {
	return append([]string{h.KnownHosts}, h.MoreKnownHosts...)
}

// knownHostsSet reads every known_hosts file of h that exists, as ssh
// passes over missing ones; the file new keys go to is created when they
// may. None at all is an error that says how to make one.
func (d *Dialer) knownHostsSet(h inventory.Host, acceptNew bool) (knownHostsSet, error) {
	var set knownHostsSet
	var missing error
	for _, file := range knownHostsFiles(h) {
		kh, err := d.knownHostsFile(file, acceptNew && file == h.KnownHosts)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if missing == nil {
				missing = err
			}
		case err != nil:
			return nil, err
		default:
			set = append(set, kh)
		}
	}
	if len(set) == 0 && missing != nil {
		return nil, missing
	}
	return set, nil
}

// knownHostsFile parses file once for the Dialer's life: parsing it per
// host made a fleet's cost grow with the square of its size. Keys that
// trust-on-first-use adds later are checked against the file itself.
func (d *Dialer) knownHostsFile(file string, create bool) (*knownHosts, error) {
	d.cacheMu.Lock()
	defer d.cacheMu.Unlock()
	// A file missing for a host that may not create it can still be
	// created for one that may (StrictHostKeyChecking accept-new).
	if db, ok := d.knownHosts[file]; ok && (db.err == nil || !create) {
		return db.kh, db.err
	}
	kh, err := readKnownHosts(file, create)
	d.knownHosts[file] = knownHostsDB{kh, err}
	return kh, err
}
