package vmlab

import "everywhere/internal/lab/labkit"

// RequireMachines is requireMachines, for the tests that bring the lab up
// through the lab package (package vmlab_test).
var RequireMachines = requireMachines

// SavedDisk is where h's saved machine is kept.
func SavedDisk(h labkit.Host) string { return machine{h}.savedDisk() }
