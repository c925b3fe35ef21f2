package run

import (
	"context"
	"fmt"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/result"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// TestRetryUntilThePortOpens: a real sshd that starts listening only after
// the first attempts were refused is reached by a later one, and the
// result counts them.
func TestRetryUntilThePortOpens(t *testing.T) {
	sshtest.RequireOpenSSH(t)
	port := sshtest.FreePort(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	signer, identity := sshtest.NewUserKey(t, dir)
	h := inventory.Host{Name: "late", Arch: host.AMD64, Address: "127.0.0.1", Port: port, User: u.Username, Identity: identity,
		KnownHosts: filepath.Join(dir, "known_hosts"), ConnectTimeout: 5 * time.Second}
	r := runner()
	r.Connect = Connector(sshconn.NewDialer(true, 0).Dial) // the key is new: trusted on first use
	r.Retries, r.Transient, r.RetryBackoff = 6, sshconn.Transient, 300*time.Millisecond
	done := make(chan *result.Result, 1)
	go func() {
		done <- r.Run(context.Background(), []inventory.Host{h}, mustPlan(t, "steps: [{name: hi, shell: echo hi}]"))
	}()
	time.Sleep(time.Second) // refused meanwhile: nothing listens yet
	sshtest.StartOpenSSHWith(t, sshtest.Options{Port: port, UserKey: &sshtest.UserKey{Signer: signer, IdentityFile: identity}})
	res := <-done
	hr := res.Hosts[0]
	if hr.Status != result.OK || hr.Attempts < 2 {
		t.Fatalf("status %s after %d attempts: %s", hr.Status, hr.Attempts, hr.Error)
	}
	t.Logf("reached after %d attempts in %dms", hr.Attempts, hr.ConnectMS)
}

// TestRetryOnlyTransient: refused connections are retried and counted; a
// changed host key or a refused login is final at once.
func TestRetryOnlyTransient(t *testing.T) {
	for _, tc := range []struct {
		kind     error
		attempts int
	}{
		{sshconn.ErrUnreachable, 3},
		{sshconn.ErrHostKeyChanged, 1},
		{sshconn.ErrAuth, 1},
	} {
		calls := 0
		r := &Runner{Retries: 2, Transient: sshconn.Transient, RetryBackoff: time.Millisecond,
			Connect: func(context.Context, inventory.Host) (Conn, error) {
				calls++
				return nil, &sshconn.ConnectError{Host: "h", Addr: "h:22", Kind: tc.kind, Detail: "no"}
			}}
		res := r.Run(context.Background(), []inventory.Host{{Name: "h", Address: "h", Port: 22}}, mustPlan(t, "steps: [{name: hi, shell: echo hi}]"))
		hr := res.Hosts[0]
		wantErr := fmt.Sprintf("host h (h:22): %v: no", tc.kind)
		if tc.attempts > 1 {
			wantErr += fmt.Sprintf(" (after %d attempts)", tc.attempts)
		}
		if calls != tc.attempts || hr.Attempts != tc.attempts || hr.Error != wantErr {
			t.Errorf("%v: %d calls, %d attempts recorded, error %q; want %d and %q", tc.kind, calls, hr.Attempts, hr.Error, tc.attempts, wantErr)
		}
	}
}

// TestRetryStopsOnInterrupt: Ctrl-C during the wait between attempts ends
// it at once.
func TestRetryStopsOnInterrupt(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{Retries: 5, Transient: sshconn.Transient, RetryBackoff: time.Minute,
		Connect: func(context.Context, inventory.Host) (Conn, error) {
			time.AfterFunc(50*time.Millisecond, cancel)
			return nil, &sshconn.ConnectError{Host: "h", Addr: "h:22", Kind: sshconn.ErrUnreachable, Detail: "refused"}
		}}
	start := time.Now()
	res := r.Run(ctx, []inventory.Host{{Name: "h", Address: "h", Port: 22}}, mustPlan(t, "steps: [{name: hi, shell: echo hi}]"))
	if d := time.Since(start); d > 5*time.Second || !strings.Contains(res.Hosts[0].Error, "refused") || res.Hosts[0].Attempts != 1 {
		t.Errorf("after %v: %+v", d, res.Hosts[0])
	}
}
