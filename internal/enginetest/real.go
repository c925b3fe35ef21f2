package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"

	"everywhere/internal/docker"
	"everywhere/internal/engineapi"
	"everywhere/internal/host"
	"everywhere/internal/lxdclient"
	"everywhere/internal/tarball"
)

// Busybox is the image the suite's real engines are given: Debian's static
// busybox alone, as sh and the few commands the suite and the drivers run
// (sleep, true, tr, grep, kill), and an init that sleeps for LXD and Incus.
const Busybox = "everywhere/busybox:test"

// busyboxTree writes the image's root into tw under prefix.
func busyboxTree(t *testing.T, tw *tar.Writer, prefix string) error {
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("the test image needs Debian's busybox-static (scripts/install-deps installs it): %v", err)
	}
	// The mount points too: LXC mounts /proc, /sys and /dev on them.
	for _, dir := range []string{"", "bin", "sbin", "etc", "dev", "proc", "sys", "tmp", "run", "root", "var", "var/tmp"} {
		name := strings.TrimSuffix(prefix+dir, "/")
		if name == "" {
			continue // a layer's root is the engine's
		}
		if err := tw.WriteHeader(&tar.Header{Name: name + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			return err
		}
	}
	if err := tarball.AddFile(tw, prefix+"bin/busybox", 0o755, bin); err != nil {
		return err
	}
	links := map[string]string{"sbin/init": "/bin/busybox"}
	for _, applet := range []string{"sh", "sleep", "true", "tr", "grep", "kill", "echo", "ps", "head", "nohup", "ip"} {
		links["bin/"+applet] = "busybox"
	}
	for name, target := range links {
		if err := tw.WriteHeader(&tar.Header{Name: prefix + name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}); err != nil {
			return err
		}
	}
	return tarball.AddFiles(tw, prefix, map[string][]byte{"etc/inittab": []byte("::respawn:/bin/sleep 1000000\n")})
}

// EngineAt is what the suite needs of a real Engine-API engine at socket
// on this machine: Busybox loaded into it, and its containers listed and
// planted through its API.
func EngineAt(t *testing.T, socket string) (things func(*testing.T) map[string]string, plant func(*testing.T, string, string)) {
	c, err := client.NewClientWithOpts(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	arch, _ := host.ParseArch(runtime.GOARCH)
	var archive bytes.Buffer
	if err := docker.WriteImage(&archive, Busybox, docker.Platform(arch), nil, []string{"/bin/sh"},
		func(tw *tar.Writer) error { return busyboxTree(t, tw, "") }); err != nil {
		t.Fatal(err)
	}
	if err := docker.LoadImage(context.Background(), c, &archive); err != nil {
		t.Fatal(err)
	}
	things = func(t *testing.T) map[string]string {
		list, err := c.ContainerList(context.Background(), container.ListOptions{All: true})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, ct := range list {
			for _, n := range ct.Names {
				out[strings.TrimPrefix(n, "/")] = ct.Labels[engineapi.Label]
			}
		}
		return out
	}
	plant = func(t *testing.T, name, run string) {
		labels := map[string]string{}
		if run != "" {
			labels[engineapi.Label] = run
		}
		if _, err := c.ContainerCreate(context.Background(), &container.Config{Image: Busybox, Cmd: []string{"true"}, Labels: labels}, nil, nil, nil, name); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = c.ContainerRemove(context.Background(), name, container.RemoveOptions{Force: true})
		})
	}
	return things, plant
}

// ServerAt is what the suite needs of a real LXD or Incus listening on
// socket on this machine: Busybox imported into it as an image of that
// alias, and its instances listed and planted through its API.
func ServerAt(t *testing.T, socket string) (things func(*testing.T) map[string]string, plant func(*testing.T, string, string)) {
	c := lxdclient.NewUnix(func(ctx context.Context, network, addr string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}, socket)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var image bytes.Buffer
	tw := tar.NewWriter(&image)
	metadata := fmt.Sprintf("architecture: %s\ncreation_date: %d\nproperties:\n  os: busybox\n  description: everywhere's test image\n", kernelArch(), time.Now().Unix())
	if err := tarball.AddFiles(tw, "", map[string][]byte{"metadata.yaml": []byte(metadata)}); err != nil {
		t.Fatal(err)
	}
	if err := busyboxTree(t, tw, "rootfs/"); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ImportImage(ctx, &image, Busybox); err != nil {
		t.Fatalf("importing the test image: %v", err)
	}
	things = func(t *testing.T) map[string]string {
		list, err := c.Instances(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, i := range list {
			out[i.Name] = i.Config["user.everywhere.run"]
		}
		return out
	}
	plant = func(t *testing.T, name, run string) {
		config := map[string]string{}
		if run != "" {
			config["user.everywhere.run"] = run
		}
		op, err := c.Create(context.Background(), lxdclient.CreateInstance{Name: name, Type: "container",
			Source: lxdclient.InstanceSource{Type: "image", Alias: Busybox}, Profiles: []string{"default"}, Config: config})
		if err == nil {
			_, err = c.Wait(context.Background(), op)
		}
		if err != nil {
			t.Fatalf("planting %s: %v", name, err)
		}
		t.Cleanup(func() { _ = c.Delete(context.Background(), name) })
	}
	return things, plant
}
