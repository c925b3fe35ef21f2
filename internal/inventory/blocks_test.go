package inventory_test

// The drivers' blocks (docker:, lxd:) are registered for this package's
// tests, so the error table also covers what their decoders report with
// the inventory's file:line.
import (
	_ "everywhere/internal/docker"
	_ "everywhere/internal/lxd"
)
