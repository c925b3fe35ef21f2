package labkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// SetupBridge creates the lab's bridge with the gateway address.
func SetupBridge(ctx context.Context, c Config) error {
	br := c.Bridge()
	steps := [][]string{
		{"link", "add", br, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("%s/%d", c.Gateway(), c.Subnet.Bits()), "dev", br},
		{"link", "set", br, "up"},
	}
	for _, s := range steps {
		if err := Command(ctx, "ip", s...); err != nil {
			return fmt.Errorf("lab bridge: %w", err)
		}
	}
	return nil
}

// removeBridge deletes the lab's bridge, if it is there.
func removeBridge(ctx context.Context, c Config) error {
	if _, err := os.Stat(filepath.Join("/sys/class/net", c.Bridge())); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return Command(ctx, "ip", "link", "del", c.Bridge())
}
