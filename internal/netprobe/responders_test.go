//go:build !evnet

package netprobe

import (
	"bufio"
	"bytes"
	"context"
	"debug/buildinfo"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"everywhere/internal/host"
	"everywhere/internal/netprobe/srcdigest"
)

// The embedded binaries must be built from the sources as they are.
func TestRespondersFresh(t *testing.T) {
	digest, err := srcdigest.Digest(".")
	if err != nil {
		t.Fatal(err)
	}
	built, err := responders.ReadFile("bin/SOURCE.sha256")
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(built)) != digest {
		t.Fatalf("the embedded evnet binaries are stale: built from sources %.12s, the sources are %.12s now: run go generate ./internal/netprobe", built, digest)
	}
}

// qemuNames are qemu-user's names of the GOARCHes; amd64 runs natively.
var qemuNames = map[string]string{"386": "i386", "arm": "arm", "arm64": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x"}

func TestResponderArchs(t *testing.T) {
	want := []string{"386", "amd64", "arm", "arm64", "ppc64le", "s390x"}
	if got := ResponderArchs(); !slices.Equal(got, want) {
		t.Errorf("ResponderArchs() = %v, want %v", got, want)
	}
	_, err := Responder("mips")
	if want := `no evnet responder for "mips" (built: 386, amd64, arm, arm64, ppc64le, s390x)`; err == nil || err.Error() != want {
		t.Errorf("Responder(mips): %v, want %q", err, want)
	}
}

// Every build is static, without the embedded builds (tag evnet), and
// with async preemption off, which Go's 386 runtime needs under
// qemu-i386; no default GODEBUG of cmd/go's competes with gen's.
func TestResponderBuilds(t *testing.T) {
	for _, goarch := range ResponderArchs() {
		binary, err := Responder(goarch)
		if err != nil {
			t.Fatal(err)
		}
		info, err := buildinfo.Read(bytes.NewReader(binary))
		if err != nil {
			t.Fatalf("%s: %v", goarch, err)
		}
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		if settings["GOARCH"] != goarch || settings["CGO_ENABLED"] != "0" || settings["-tags"] != "evnet" || settings["DefaultGODEBUG"] != "" {
			t.Errorf("%s: built with %v", goarch, settings)
		}
		// -trimpath keeps -ldflags out of the build info: the runtime's
		// default GODEBUG, which gen sets, is a string of the binary's.
		if !bytes.Contains(binary, []byte("asyncpreemptoff=1")) {
			t.Errorf("%s: built without asyncpreemptoff=1", goarch)
		}
	}
}

// Each build, run by qemu-user where foreign, probes an in-process server
// and serves a probe of its own.
func TestResponders(t *testing.T) {
	port := startServer(t)
	for _, goarch := range ResponderArchs() {
		t.Run(goarch, func(t *testing.T) {
			var launcher []string
			if qemu := qemuNames[goarch]; qemu != "" {
				path, err := exec.LookPath("qemu-" + qemu + "-static")
				if err != nil {
					t.Skipf("qemu-%s-static is not installed (apt-get install qemu-user-static): %v", qemu, err)
				}
				launcher = []string{path}
			}
			binary, err := Responder(goarch)
			if err != nil {
				t.Fatal(err)
			}
			evnet := filepath.Join(t.TempDir(), "evnet")
			if err := os.WriteFile(evnet, binary, 0o755); err != nil {
				t.Fatal(err)
			}
			launcher = append(launcher, evnet)
			emulated := goarch != "amd64"

			ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
			defer cancel()
			probe := exec.CommandContext(ctx, launcher[0], append(launcher[1:], "probe", "-to", "127.0.0.1", "-port", fmt.Sprint(port), "-long-mib", "4", "-seconds", "1")...)
			var stderr bytes.Buffer
			probe.Stderr = &stderr
			out, err := probe.Output()
			if err != nil {
				t.Fatalf("evnet probe: %v\n%s", err, stderr.Bytes())
			}
			var tests []string
			for line := range strings.Lines(string(out)) {
				var m host.Measure
				if err := json.Unmarshal([]byte(line), &m); err != nil {
					t.Fatalf("evnet probe printed %q: %v", line, err)
				}
				t.Logf("%+v", m)
				if !m.OK || m.Emulated != emulated {
					t.Errorf("%s: %+v, want OK, emulated %v", m.Test, m, emulated)
				}
				tests = append(tests, m.Test)
			}
			if !slices.Equal(tests, host.NetTests) {
				t.Errorf("evnet probe ran %v, want %v", tests, host.NetTests)
			}

			serve := exec.CommandContext(ctx, launcher[0], append(launcher[1:], "serve", "-listen", "127.0.0.1:0")...)
			stdout, err := serve.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := serve.Start(); err != nil {
				t.Fatal(err)
			}
			defer serve.Wait()
			defer serve.Process.Kill()
			var started struct {
				Listening string
				Arch      string
				Emulated  bool
			}
			line, err := bufio.NewReader(stdout).ReadBytes('\n')
			if err := errors.Join(err, json.Unmarshal(line, &started)); err != nil || started.Arch != goarch || started.Emulated != emulated {
				t.Fatalf("evnet serve started with %q (%v), want arch %s, emulated %v", line, err, goarch, emulated)
			}
			_, servePort, _ := net.SplitHostPort(started.Listening)
			served := Probe{To: "127.0.0.1", LongMiB: 1}
			served.Port, _ = strconv.Atoi(servePort)
			for _, m := range []host.Measure{served.Short(ctx), served.Long(ctx)} {
				if !m.OK {
					t.Errorf("%s against evnet serve: %+v", m.Test, m)
				}
			}

			version, err := exec.CommandContext(ctx, launcher[0], append(launcher[1:], "version")...).Output()
			digest, _ := responders.ReadFile("bin/SOURCE.sha256")
			if want := fmt.Sprintf("evnet %s linux/%s go", strings.TrimSpace(string(digest)), goarch); err != nil || !strings.HasPrefix(string(version), want) {
				t.Errorf("evnet version: %q (%v), want %q…", version, err, want)
			}
		})
	}
}
