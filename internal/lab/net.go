package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// setupBridge creates the lab's bridge with the gateway address.
func setupBridge(ctx context.Context, c Config) error {
	br := c.bridge()
	steps := [][]string{
		{"link", "add", br, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("%s/%d", c.gateway(), c.Subnet.Bits()), "dev", br},
		{"link", "set", br, "up"},
	}
	for _, s := range steps {
		if err := command(ctx, "ip", s...); err != nil {
			return fmt.Errorf("lab bridge: %w", err)
		}
	}
	return nil
}

// setupHostNetwork gives h a namespace whose eth0 is a veth on the bridge.
func setupHostNetwork(ctx context.Context, h Host) error {
	ns, veth := h.netns(), h.veth()
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", veth, "master", h.lab.bridge()},
		{"link", "set", veth, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "addr", "add", fmt.Sprintf("%s/%d", h.Address, h.lab.Subnet.Bits()), "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "add", "default", "via", h.lab.gateway().String()},
	}
	for _, s := range steps {
		if err := command(ctx, "ip", s...); err != nil {
			return fmt.Errorf("network: %w", err)
		}
	}
	return nil
}

// removeHostNetwork deletes h's namespace, which takes its veth pair along
// once the kernel has torn the namespace down; it waits for that.
func removeHostNetwork(ctx context.Context, h Host) error {
	if _, err := os.Stat(filepath.Join("/run/netns", h.netns())); err == nil {
		if err := command(ctx, "ip", "netns", "del", h.netns()); err != nil {
			return err
		}
	}
	link := filepath.Join("/sys/class/net", h.veth())
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(link); errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("link %s still there 10s after its namespace was deleted: a process outside the lab holds the namespace", h.veth())
		}
	}
}

func removeBridge(ctx context.Context, c Config) error {
	if _, err := os.Stat(filepath.Join("/sys/class/net", c.bridge())); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return command(ctx, "ip", "link", "del", c.bridge())
}
