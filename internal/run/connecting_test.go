package run

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/result"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// countingConnect dials for real and counts the dials in flight, the most
// at once, and the order in which hosts began dialling; hold, while open,
// keeps dials from starting.
type countingConnect struct {
	dial ConnectFunc
	hold chan struct{}

	mu       sync.Mutex
	inFlight int
	most     int
	started  []string
}

func (c *countingConnect) connect(ctx context.Context, h inventory.Host) (Conn, error) {
	c.mu.Lock()
	c.inFlight++
	c.most = max(c.most, c.inFlight)
	c.started = append(c.started, h.Name)
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	}()
	<-c.hold
	return c.dial(ctx, h)
}

func (c *countingConnect) snapshot() (inFlight, most int, started []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight, c.most, slices.Clone(c.started)
}

// TestConnectingCapsDialsAndGoroutines: with Parallel as big as the fleet,
// Connecting caps the hosts dialling a real server at once, and the hosts
// waiting for their turn are no goroutines yet.
func TestConnectingCapsDialsAndGoroutines(t *testing.T) {
	s := sshtest.NewServer(t, fakeHost(host.Arm64))
	var hosts []inventory.Host
	for i := range 60 {
		hosts = append(hosts, inventory.Host{Name: fmt.Sprintf("h%d", i), Arch: host.Arm64, Address: s.Host, Port: s.Port, User: "u",
			Identity: s.IdentityFile, KnownHosts: s.KnownHostsFile, ConnectTimeout: 10 * time.Second})
	}
	cc := &countingConnect{dial: Connector(sshconn.NewDialer(false, 0).Dial), hold: make(chan struct{})}
	r := &Runner{Connect: cc.connect, Parallel: len(hosts), Connecting: 3, OutputLimit: 1 << 10}
	before := runtime.NumGoroutine()
	done := make(chan *result.Result, 1)
	go func() { done <- r.Run(context.Background(), hosts, mustPlan(t, archPlan)) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if inFlight, _, _ := cc.snapshot(); inFlight >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("three hosts did not start dialling")
		}
	}
	time.Sleep(100 * time.Millisecond) // room for more to start, were they not capped
	inFlight, _, _ := cc.snapshot()
	// Run's own goroutine and three hosts'; 60 without the cap.
	if grown := runtime.NumGoroutine() - before; inFlight != 3 || grown > 10 {
		t.Errorf("while 3 may connect: %d dialling, %d goroutines more than before", inFlight, grown)
	}
	close(cc.hold)
	res := <-done
	if res.ExitCode() != result.ExitOK {
		t.Fatalf("exit code %d: %+v", res.ExitCode(), res.Hosts[0])
	}
	if _, most, started := cc.snapshot(); most != 3 || len(started) != len(hosts) {
		t.Errorf("at most %d dialling at once (want 3), %d hosts dialled (want %d)", most, len(started), len(hosts))
	}
}

// TestConnectingFreedWhileRetrying: a host waiting to dial again gives its
// turn to the next host meanwhile.
func TestConnectingFreedWhileRetrying(t *testing.T) {
	s := sshtest.NewServer(t, fakeHost(host.Arm64))
	live := inventory.Host{Name: "live", Arch: host.Arm64, Address: s.Host, Port: s.Port, User: "u",
		Identity: s.IdentityFile, KnownHosts: s.KnownHostsFile, ConnectTimeout: 10 * time.Second}
	refused := live
	refused.Name, refused.Port = "refused", sshtest.FreePort(t) // nothing listens there
	open := make(chan struct{})
	close(open)
	cc := &countingConnect{dial: Connector(sshconn.NewDialer(false, 0).Dial), hold: open}
	r := &Runner{Connect: cc.connect, Parallel: 2, Connecting: 1, OutputLimit: 1 << 10,
		Retries: 2, Transient: sshconn.Transient, RetryBackoff: 600 * time.Millisecond}
	res := r.Run(context.Background(), []inventory.Host{refused, live}, mustPlan(t, archPlan))
	if res.Hosts[0].Status != result.Error || res.Hosts[0].Attempts != 3 || res.Hosts[1].Status != result.OK {
		t.Fatalf("refused: %s after %d attempts; live: %s %s", res.Hosts[0].Status, res.Hosts[0].Attempts, res.Hosts[1].Status, res.Hosts[1].Error)
	}
	// The live host dials during the refused one's first wait, not after its last attempt.
	if _, most, started := cc.snapshot(); most != 1 || !slices.Equal(started, []string{"refused", "live", "refused", "refused"}) {
		t.Errorf("dials in order %v, %d at once at most; want refused, live, refused, refused, one at a time", started, most)
	}
}
