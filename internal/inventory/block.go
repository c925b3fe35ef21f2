package inventory

import (
	"sort"
	"sync"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/yamlfile"
)

// BlockSource is a block of a host's inventory entry (`docker:`, `lxd:`)
// as its driver decodes it.
type BlockSource struct {
	File  string     // the inventory, for file:line errors
	Base  string     // the inventory's folder, which anchors relative paths
	Where string     // `host "a": docker`, to begin error messages with
	Node  *yaml.Node // the host's block, else the defaults' block; nil when neither has one
}

// Decode decodes the block strictly into v, with file:line errors; without a
// block it leaves v as it is, for the driver's defaults.
func (b BlockSource) Decode(v any) error {
	if b.Node == nil {
		return nil
	}
	return yamlfile.Decode(b.File, b.Node, v)
}

// Path resolves a path written in the inventory: ~ expanded, relative
// paths anchored at the inventory's folder.
func (b BlockSource) Path(p string) string { return resolvePath(b.Base, p) }

var (
	blocksMu sync.RWMutex
	blocks   = map[string]func(BlockSource) (any, error){}
)

// Block is a driver's typed handle on its block of every host entry.
type Block[T any] struct {
	name   string
	decode func(BlockSource) (T, error)
}

// NewBlock registers the block name, decoded by decode for every host (with
// a nil Node where the inventory has none, so decode supplies the defaults).
// The inventory itself knows no block's fields. It panics on a duplicate.
func NewBlock[T any](name string, decode func(BlockSource) (T, error)) Block[T] {
	blocksMu.Lock()
	defer blocksMu.Unlock()
	if _, dup := blocks[name]; dup {
		panic("inventory: block registered twice: " + name)
	}
	blocks[name] = func(src BlockSource) (any, error) { return decode(src) }
	return Block[T]{name: name, decode: decode}
}

// Of is the host's block as its decoder made it; the block's defaults for
// a host made in code rather than read from an inventory.
func (b Block[T]) Of(h Host) T {
	if v, ok := h.blocks[b.name].(T); ok {
		return v
	}
	v, _ := b.decode(BlockSource{Where: b.name})
	return v
}

// With returns h with its block set to v: for hosts made in code (tests, a
// lab) rather than read from a file.
func (b Block[T]) With(h Host, v T) Host {
	copied := make(map[string]any, len(h.blocks)+1)
	for k, old := range h.blocks {
		copied[k] = old
	}
	copied[b.name] = v
	h.blocks = copied
	return h
}

func blockNames() []string {
	blocksMu.RLock()
	defer blocksMu.RUnlock()
	names := make([]string, 0, len(blocks))
	for n := range blocks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BlockDefaults is a registered block's name and its decoder's value for a
// host without the block: its type and defaults, for the reference.
type BlockDefaults struct {
	Name     string
	Defaults any
}

// Blocks lists the registered blocks, sorted by name, with their defaults.
func Blocks() []BlockDefaults {
	var list []BlockDefaults
	for _, name := range blockNames() {
		blocksMu.RLock()
		decode := blocks[name]
		blocksMu.RUnlock()
		v, _ := decode(BlockSource{Where: name})
		list = append(list, BlockDefaults{Name: name, Defaults: v})
	}
	return list
}
