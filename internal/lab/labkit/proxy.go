package labkit

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// The lab's package proxy: Debian's apt-cacher-ng on the lab bridge's
// address, the one way out of the lab. It fetches only from the mirror the
// lab's rootfs came from (ForceManaged: every other location, and CONNECT
// tunnels, are refused with 403) and keeps what it fetched, so a second
// install is served from its cache. The lab's Docker and LXD images point
// apt at it.

// ProxyPort is the port apt-cacher-ng listens on, its usual one.
const ProxyPort = 3142

// ProxyDir holds the proxy's configuration, cache and logs.
func (c *Config) ProxyDir() string { return filepath.Join(c.Dir, "apt-proxy") }

// ProxyCgroup is the proxy's cgroup.
func (c *Config) ProxyCgroup() string { return path.Join(c.Cgroup(), "apt-proxy") }

// ProxyURL is the proxy's address as the lab's hosts and containers use it.
func (c Config) ProxyURL() string {
	return "http://" + net.JoinHostPort(c.Gateway().String(), fmt.Sprint(ProxyPort))
}

// proxyConfig is apt-cacher-ng's whole configuration for the lab.
func (c *Config) proxyConfig(mirror string) (string, error) {
	u, err := url.Parse(mirror)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return "", fmt.Errorf("mirror %q: the lab's package proxy needs an http:// mirror URL", mirror)
	}
	origin := u.Host + strings.TrimSuffix(u.Path, "/")
	dir := c.ProxyDir()
	return fmt.Sprintf(`# Written by everywhere lab up: fetch from %[1]s only.
CacheDir: %[2]s
LogDir: %[3]s
SupportDir: /usr/lib/apt-cacher-ng
BindAddress: %[4]s
Port: %[5]d
Remap-lab: %[6]s ; %[1]s/
ForceManaged: 1
PassThroughPattern: ^$
ForwardBtsSoap: 0
NetworkTimeout: 20
ForeGround: 1
PidFile: %[7]s
SocketPath: %[8]s
ReportPage: acng-report.html
ExThreshold: 4
`, strings.TrimSuffix(mirror, "/"), filepath.Join(dir, "cache"), filepath.Join(dir, "log"), c.Gateway(), ProxyPort, origin,
		filepath.Join(dir, "pid"), filepath.Join(dir, "socket")), nil
}

// StartProxy runs the lab's apt-cacher-ng, its cache kept in the lab's
// directory between ups.
func StartProxy(ctx context.Context, c Config, mirror string) error {
	start := time.Now()
	config, err := c.proxyConfig(mirror)
	if err != nil {
		return err
	}
	dir := c.ProxyDir()
	for _, d := range []string{filepath.Join(dir, "conf"), filepath.Join(dir, "cache"), filepath.Join(dir, "log")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "acng.conf"), []byte(config), 0o644); err != nil {
		return err
	}
	d, err := Spawn(c.ProxyCgroup(), filepath.Join(dir, "apt-cacher-ng.log"), "", nil, "apt-cacher-ng", "-c", filepath.Join(dir, "conf"))
	if err != nil {
		return err
	}
	if err := d.Ready(ctx, func() error { return proxyAnswers(ctx, c) }); err != nil {
		return fmt.Errorf("the lab's package proxy (apt-cacher-ng, log %s): %w", filepath.Join(dir, "apt-cacher-ng.log"), err)
	}
	fmt.Fprintf(c.Log, "package proxy %s up (fetches from %s only) in %s\n", c.ProxyURL(), mirror, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// proxyAnswers checks that the proxy accepts connections. It dials only
// an address of the lab's bridge that is up on this machine: with the lab
// down, that address would be routed away, out of the machine.
func proxyAnswers(ctx context.Context, c Config) error {
	if !c.GatewayIsLocal() {
		return fmt.Errorf("the lab bridge %s with %s is not up", c.Bridge(), c.Gateway())
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", strings.TrimPrefix(c.ProxyURL(), "http://"))
	if err != nil {
		return err
	}
	return conn.Close()
}

// AptProxyConf is the apt configuration the lab's images carry: packages
// through the proxy, and a bounded wait, so that a proxy that is not there
// fails an install in seconds instead of hanging it.
func (c Config) AptProxyConf() []byte {
	return []byte(fmt.Sprintf(`// Written by everywhere's lab: packages come through the lab's proxy, the one way out of the lab.
Acquire::http::Proxy "%s";
Acquire::http::Timeout "30";
Acquire::Retries "1";
`, c.ProxyURL()))
}

// AptProxyConfFile is where the lab's images keep aptProxyConf.
const AptProxyConfFile = "etc/apt/apt.conf.d/01everywhere-proxy"

// GatewayIsLocal says whether the lab bridge holds its address here.
func (c *Config) GatewayIsLocal() bool {
	iface, err := net.InterfaceByName(c.Bridge())
	if err != nil {
		return false
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if p, ok := a.(*net.IPNet); ok && p.IP.Equal(net.IP(c.Gateway().AsSlice())) {
			return true
		}
	}
	return false
}
