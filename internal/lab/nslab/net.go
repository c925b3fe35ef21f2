package nslab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"everywhere/internal/lab/labkit"
)

// setupHostNetwork gives h a namespace whose eth0 is a veth on the bridge.
func setupHostNetwork(ctx context.Context, h labkit.Host) error {
	ns, veth := netns(h), h.Veth()
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", veth, "master", h.Lab().Bridge()},
		{"link", "set", veth, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", fmt.Sprintf("%s/%d", h.Address, h.Lab().Subnet.Bits()), "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "add", "default", "via", h.Lab().Gateway().String()},
	}
	for _, s := range steps {
		if err := labkit.Command(ctx, "ip", s...); err != nil {
			return fmt.Errorf("network: %w", err)
		}
	}
	return nil
}

// removeHostNetwork deletes h's namespace, which takes its veth pair along
// once the kernel has torn the namespace down; it waits for that.
func removeHostNetwork(ctx context.Context, h labkit.Host) error {
	if _, err := os.Stat(filepath.Join("/run/netns", netns(h))); err == nil {
		if err := labkit.Command(ctx, "ip", "netns", "del", netns(h)); err != nil {
			return err
		}
	}
	link := filepath.Join("/sys/class/net", h.Veth())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(link); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("link %s still there 10s after its namespace was deleted: a process outside the lab holds the namespace", h.Veth())
		}
	}
}
