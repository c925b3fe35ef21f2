package lxd_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"everywhere/internal/drivers"
	"everywhere/internal/host"
	"everywhere/internal/inventory"
	"everywhere/internal/lab"
	"everywhere/internal/lxd"
	"everywhere/internal/lxdclient"
	"everywhere/internal/plan"
	"everywhere/internal/result"
	"everywhere/internal/run"
	"everywhere/internal/sshconn"
	"everywhere/internal/sshtest"
)

// startLXD runs a real LXD of the test's own (the lab's recipe: dir pool,
// private bridge, local images only) and stops it at the end.
func startLXD(t *testing.T) lab.Config {
	t.Helper()
	if os.Geteuid() != 0 || runtime.GOARCH != "amd64" {
		if os.Getenv("CI") != "" {
			t.Fatal("LXD tests need root on amd64 under CI")
		}
		t.Skip("LXD tests need root on amd64")
	}
	c := lab.Config{Dir: searchableTempDir(t), Prefix: "ewx", Archs: []host.Arch{host.AMD64},
		LXDSubnet: netip.MustParsePrefix("10.213.102.0/24"), Log: testLog{t}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := lab.StopLXD(context.Background(), c); err != nil {
			t.Errorf("stopping lxd: %v", err)
		}
	})
	if err := lab.StartLXD(ctx, c); err != nil {
		if os.Getenv("CI") == "" && strings.Contains(err.Error(), "the lab needs") {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	return c
}

// searchableTempDir is a temporary folder that LXD's unprivileged
// containers can traverse (t.TempDir's is private to root).
func searchableTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("/var/tmp", "everywhere-lxd-test-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// sshHost is a host reached over a real OpenSSH sshd whose LXD socket is c's.
func sshHost(t *testing.T, c lab.Config) inventory.Host {
	sshd := sshtest.StartOpenSSH(t)
	h := inventory.Host{Name: "lxd-host", Arch: host.AMD64, Address: sshd.Host, Port: sshd.Port, User: sshd.User,
		Identity: sshd.IdentityFile, KnownHosts: sshd.KnownHostsFile, ConnectTimeout: 10 * time.Second}
	return lxd.New(lxd.LXD(nil)).Block().With(h, lxd.Config{Socket: c.LXDSocket()})
}

func runPlan(t *testing.T, ctx context.Context, h inventory.Host, src string) *result.Result {
	t.Helper()
	p, err := plan.Parse("lxd.yaml", []byte(src), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	r := &run.Runner{Connect: run.Connector(sshconn.NewDialer(false, 0).Dial), OutputLimit: 1 << 16}
	return r.Run(ctx, []inventory.Host{h}, p)
}

func steps(res *result.Result) map[string]result.StepResult {
	m := map[string]result.StepResult{}
	for _, s := range append(res.Hosts[0].Steps, res.Hosts[0].Cleanup...) {
		m[s.Name] = s
	}
	return m
}

// direct is a client of c's LXD from this machine, to check the server's state.
func direct(c lab.Config) *lxd.Client {
	return lxd.NewUnix(func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}, c.LXDSocket())
}

func instancesOf(t *testing.T, c lab.Config, runID string) []string {
	list, err := direct(c).Instances(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, i := range list {
		if strings.Contains(i.Name, runID) {
			names = append(names, i.Name+" "+i.Status)
		}
	}
	return names
}

func TestLXD(t *testing.T) {
	c := startLXD(t)
	h := sshHost(t, c)

	t.Run("launch list exec delete through SSH", func(t *testing.T) {
		res := runPlan(t, context.Background(), h, `
steps:
  - {name: launch, lxd.launch: {image: "debian/bookworm/{arch}", profiles: [default, docker], wait_ipv4: true}, timeout: 3m}
  - {name: list, lxd.list: {}, expect: {contains: RUNNING}}
  - {name: uname, lxd.exec: {cmd: [uname, -m]}, expect: {arch_matches_host: true}}
  - {name: fails, lxd.exec: {cmd: [sh, -c, "echo out; echo err >&2; exit 3"]}}
  - {name: missing-image, lxd.launch: {image: "no/such/image"}}
  - {name: missing-profile, lxd.launch: {image: "debian/bookworm/amd64", profiles: [default, nope]}}
cleanup:
  - {name: delete, lxd.delete: {}}
`)
		s := steps(res)
		check := func(name string, status result.Status, field, contains string) {
			t.Helper()
			if s[name].Status != status || !strings.Contains(field, contains) {
				t.Errorf("step %s: %s (stdout %q, stderr %q, error %q); want %s with %q", name, s[name].Status, s[name].Stdout, s[name].Stderr, s[name].Error, status, contains)
			}
		}
		check("launch", result.OK, s["launch"].Stdout, "RUNNING (x86_64) from debian/bookworm/amd64, profiles default, docker\n10.213.102.")
		check("list", result.OK, s["list"].Stdout, "everywhere-"+res.RunID)
		check("uname", result.OK, s["uname"].Stdout, "x86_64\n")
		check("fails", result.Failed, s["fails"].Stderr, "err\n")
		check("fails", result.Failed, s["fails"].Stdout, "out\n")
		if code := s["fails"].ExitCode; code == nil || *code != 3 {
			t.Errorf("exit code %v, want 3", code)
		}
		check("missing-image", result.Error, s["missing-image"].Error, `image alias "no/such/image" is unknown on this LXD`)
		check("missing-profile", result.Error, s["missing-profile"].Error, `profile "nope" does not exist on this LXD`)
		check("delete", result.OK, s["delete"].Stdout, ": deleted")
		if left := instancesOf(t, c, res.RunID); len(left) != 0 {
			t.Errorf("instances left: %v", left)
		}
	})

	t.Run("cancelled mid-launch deletes the instance it created", func(t *testing.T) {
		// Cancel once the instance exists, so the test proves it was created
		// and then deleted, not that the cancel beat the POST.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		created := make(chan string, 1)
		go func() {
			for ctx.Err() == nil {
				if list, err := direct(c).Instances(ctx); err == nil {
					for _, i := range list {
						if i.Config[lxd.RunKey] != "" && strings.HasPrefix(i.Name, "everywhere-") {
							created <- i.Name
							cancel()
							return
						}
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		res := runPlan(t, ctx, h, "steps:\n  - {lxd.launch: {image: \"debian/bookworm/amd64\", wait_ipv4: true}}\n")
		var name string
		select {
		case name = <-created:
		default:
			t.Fatalf("the instance was never seen created (step %+v)", res.Hosts[0].Steps[0])
		}
		if !res.Interrupted || res.Hosts[0].Steps[0].Status != result.Error {
			t.Fatalf("interrupted %v, step %+v", res.Interrupted, res.Hosts[0].Steps[0])
		}
		if !strings.Contains(name, res.RunID) {
			t.Errorf("instance %s is not this run's (%s)", name, res.RunID)
		}
		if left := instancesOf(t, c, res.RunID); len(left) != 0 {
			t.Errorf("instances left after cancellation: %v", left)
		}
	})

	t.Run("no socket", func(t *testing.T) {
		h := lxd.New(lxd.LXD(nil)).Block().With(h, lxd.Config{Socket: filepath.Join(t.TempDir(), "absent.socket")})
		res := runPlan(t, context.Background(), h, "steps:\n  - lxd.list: {}\n")
		if s := res.Hosts[0].Steps[0]; s.Status != result.Error || !strings.Contains(s.Error, "no LXD socket on the host") {
			t.Errorf("%s %q", s.Status, s.Error)
		}
	})

	t.Run("steps after a failed launch are skipped", func(t *testing.T) {
		res := runPlan(t, context.Background(), h, `
steps:
  - {name: launch, lxd.launch: {image: "no/such/image"}}
  - {name: list, lxd.list: {}, expect: {contains: RUNNING}}
  - {name: uname, lxd.exec: {cmd: [uname, -m]}}
cleanup:
  - {name: delete, lxd.delete: {}}
`)
		s := steps(res)
		if s["launch"].Status != result.Error {
			t.Errorf("launch: %s %q", s["launch"].Status, s["launch"].Error)
		}
		for _, name := range []string{"list", "uname", "delete"} {
			if s[name].Status != result.Skipped || !strings.Contains(s[name].Error, "lxd.launch did not succeed") || !strings.Contains(s[name].Error, "no/such/image") {
				t.Errorf("%s: %s %q, want skipped because the launch failed", name, s[name].Status, s[name].Error)
			}
		}
	})

	t.Run("a run never deletes or enters an instance it did not create", func(t *testing.T) {
		d := direct(c)
		ctx := context.Background()
		// prod-db: made by someone else, without everywhere's run key.
		op, err := d.Create(ctx, lxdclient.CreateInstance{Name: "prod-db", Type: "container",
			Source: lxdclient.InstanceSource{Type: "image", Alias: "debian/bookworm/amd64"}, Profiles: []string{"default"}})
		if err == nil {
			_, err = d.Wait(ctx, op)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.Delete(context.Background(), "prod-db") })
		res := runPlan(t, ctx, h, `
steps:
  - {name: clash, lxd.launch: {image: "debian/bookworm/amd64", name: prod-db}}
  - {name: enter, lxd.exec: {instance: prod-db, cmd: [true]}}
  - {name: named-delete, lxd.delete: {instance: prod-db}}
cleanup:
  - {name: delete, lxd.delete: {}}
`)
		s := steps(res)
		if s["clash"].Status != result.Error || !strings.Contains(s["clash"].Error, "already exists") {
			t.Errorf("clash: %s %q", s["clash"].Status, s["clash"].Error)
		}
		for _, name := range []string{"enter", "named-delete"} {
			if s[name].Status != result.Error || !strings.Contains(s[name].Error, "not created by this run") {
				t.Errorf("%s: %s %q, want refused", name, s[name].Status, s[name].Error)
			}
		}
		if s["delete"].Status != result.Skipped {
			t.Errorf("cleanup delete: %s %q %q, want skipped (the launch failed)", s["delete"].Status, s["delete"].Stdout, s["delete"].Error)
		}
		if _, err := d.Instance(ctx, "prod-db"); err != nil {
			t.Errorf("prod-db is gone: %v", err)
		}
	})

	t.Run("an exec that times out is killed", func(t *testing.T) {
		res := runPlan(t, context.Background(), h, `
steps:
  - {name: launch, lxd.launch: {image: "debian/bookworm/amd64"}, timeout: 3m}
  - {name: slow, lxd.exec: {cmd: [sleep, "600"]}, timeout: 2s}
  - {name: after, lxd.exec: {cmd: [sh, -c, "ps -eo args | grep -c '^sleep 600' || true"]}}
cleanup:
  - {name: delete, lxd.delete: {}}
`)
		s := steps(res)
		if s["slow"].Status != result.Timeout || !strings.Contains(s["slow"].Error, "killed pids") {
			t.Errorf("slow: %s %q", s["slow"].Status, s["slow"].Error)
		}
		if got := strings.TrimSpace(s["after"].Stdout); got != "0" {
			t.Errorf("sleep 600 still running after its step timed out: %q (%s %q)", got, s["after"].Status, s["after"].Error)
		}
	})

	t.Run("HTTPS remote with a pinned certificate", func(t *testing.T) {
		cert, key := clientCert(t)
		port := freePort(t)
		d := direct(c)
		if err := patchServer(d, fmt.Sprintf("127.0.0.1:%d", port), cert); err != nil {
			t.Fatal(err)
		}
		httpsConfig := lxd.Config{URL: fmt.Sprintf("https://127.0.0.1:%d", port), ClientCert: cert, ClientKey: key,
			ServerCert: filepath.Join(c.Dir, "lxd-daemon", "server.crt")}
		remote := lxd.New(lxd.LXD(nil)).Block().With(h, httpsConfig)
		res := runPlan(t, context.Background(), remote, "steps:\n  - lxd.list: {}\n")
		if s := res.Hosts[0].Steps[0]; s.Status != result.OK || !strings.HasPrefix(s.Stdout, "NAME") {
			t.Errorf("over HTTPS: %s %q %q", s.Status, s.Stdout, s.Error)
		}
		httpsConfig.ServerCert = cert // a certificate that is not the server's
		remote = lxd.New(lxd.LXD(nil)).Block().With(h, httpsConfig)
		res = runPlan(t, context.Background(), remote, "steps:\n  - lxd.list: {}\n")
		if s := res.Hosts[0].Steps[0]; s.Status != result.Error || !strings.Contains(s.Error, "does not match the pinned server_cert") {
			t.Errorf("wrong pin: %s %q", s.Status, s.Error)
		}
	})
}

// patchServer makes the LXD listen on addr and trust cert, as
// `lxc config set core.https_address` and `lxc config trust add` do.
func patchServer(d *lxd.Client, addr, certFile string) error {
	data, err := os.ReadFile(certFile)
	if err != nil {
		return err
	}
	block, _ := pem.Decode(data)
	return d.Configure(context.Background(), map[string]string{"core.https_address": addr},
		base64.StdEncoding.EncodeToString(block.Bytes))
}

func clientCert(t *testing.T) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "everywhere-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "client.crt"), filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
