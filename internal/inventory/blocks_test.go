package inventory_test

import (
	"everywhere/internal/drivers"
	"everywhere/internal/inventory"
)

// The tests read inventories with the blocks of every driver the program
// lists.
func init() { inventory.TestBlocks = drivers.All().Blocks() }
