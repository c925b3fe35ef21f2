package netprobe

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// pingOnlyEnv makes the test binary ping the address it names and print
// the measure, for the tests that run it with fewer privileges.
const pingOnlyEnv = "NETPROBE_TEST_PING_ONLY"

func TestMain(m *testing.M) {
	if to := os.Getenv(pingOnlyEnv); to != "" {
		json.NewEncoder(os.Stdout).Encode(Probe{To: to, PingCount: 2}.Ping(context.Background()))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestPing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("ping needs root here (a raw ICMP socket; no group may open the unprivileged one)")
	}
	start := time.Now()
	m := Probe{To: "127.0.0.1"}.Ping(context.Background())
	took := time.Since(start)
	t.Logf("%+v in %s", m, took)
	detail := regexp.MustCompile(`^3/3 replies, 0% loss, rtt min/avg/max [0-9.]+/[0-9.]+/[0-9.]+ ms$`)
	if !m.OK || m.Unit != "ms" || m.Value <= 0 || !detail.MatchString(m.Detail) || took < 2*pingInterval || took > time.Second {
		t.Errorf("ping 127.0.0.1: %+v in %s, want 3 replies 200 ms apart", m, took)
	}
}

// In a network namespace of its own, without CAP_NET_RAW, the test binary
// pings through the unprivileged ICMP socket, or says why it cannot. The
// same namespace dropping echo replies makes every ping a loss.
func TestPingWithoutRawSocket(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a network namespace")
	}
	for _, tool := range []string{"unshare", "ip", "sysctl", "setpriv", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s: %v", tool, err)
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const noRaw = `exec setpriv --bounding-set -net_raw --inh-caps -net_raw "$0"`
	for _, c := range []struct {
		name, setup string
		ok          bool
		detail      string
	}{
		{"unprivileged socket", `sysctl -qw net.ipv4.ping_group_range="0 0"; ` + noRaw, true,
			`^2/2 replies, 0% loss, rtt min/avg/max [0-9./]+ ms \(unprivileged ICMP socket\)$`},
		{"no socket", noRaw, false,
			`^ping 127\.0\.0\.1: no ICMP socket: raw: operation not permitted \(needs CAP_NET_RAW\); unprivileged: permission denied \(net\.ipv4\.ping_group_range is "1 0", this process's group 0\)$`},
		{"replies dropped", `nft add table ip t && nft add chain ip t in '{ type filter hook input priority 0; }' && nft add rule ip t in icmp type echo-reply drop && exec "$0"`, false,
			`^0/2 replies, 100% loss, more than the 0% allowed$`},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("unshare", "-n", "sh", "-c", "ip link set lo up && "+c.setup, self)
			cmd.Env = append(os.Environ(), pingOnlyEnv+"=127.0.0.1")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			var m struct {
				OK     bool
				Detail string
			}
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
			if m.OK != c.ok || !regexp.MustCompile(c.detail).MatchString(m.Detail) {
				t.Errorf("ok %v, detail %q; want ok %v, a detail matching %s", m.OK, m.Detail, c.ok, c.detail)
			}
		})
	}
}
