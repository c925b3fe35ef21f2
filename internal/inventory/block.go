package inventory

import (
	"sort"

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

// BlockDecoder is a driver's block as the inventory sees it: its name,
// and how it is decoded for every host. Options.Blocks lists them.
type BlockDecoder interface {
	Name() string
	decodeAny(BlockSource) (any, error)
}

// Block is a driver's typed handle on its block of every host entry.
type Block[T any] struct {
	name   string
	decode func(BlockSource) (T, error)
}

// NewBlock is the block name, decoded by decode for every host (with a nil
// Node where the inventory has none, so decode supplies the defaults). The
// inventory itself knows no block's fields, nor any block that its Options
// do not list.
func NewBlock[T any](name string, decode func(BlockSource) (T, error)) Block[T] {
	return Block[T]{name: name, decode: decode}
}

// Name is the block's key in a host entry.
func (b Block[T]) Name() string { return b.name }

func (b Block[T]) decodeAny(src BlockSource) (any, error) { return b.decode(src) }

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

// blockNames names the blocks, sorted: a stable first error when two are wrong.
func blockNames(blocks []BlockDecoder) []string {
	names := make([]string, 0, len(blocks))
	for _, b := range blocks {
		names = append(names, b.Name())
	}
	sort.Strings(names)
	return names
}

// BlockDefaults is a block's name and its decoder's value for a
// host without the block: its type and defaults, for the reference.
type BlockDefaults struct {
	Name     string
	Defaults any
}

// Defaults lists decoders' blocks, sorted by name, with their defaults:
// for the reference.
func Defaults(decoders []BlockDecoder) []BlockDefaults {
	var list []BlockDefaults
	for _, b := range decoders {
		v, _ := b.decodeAny(BlockSource{Where: b.Name()})
		list = append(list, BlockDefaults{Name: b.Name(), Defaults: v})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return list
}
