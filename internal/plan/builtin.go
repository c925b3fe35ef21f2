package plan

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"everywhere/internal/driver"
)

// The built-in plans, one YAML file each: builtin/NAME.yaml, whose first
// line is a comment saying what the plan does.
//
//go:embed builtin/*.yaml
var builtins embed.FS

// DefaultName is the built-in plan run when none is named.
const DefaultName = "default"

// Builtins lists the built-in plans' names, sorted.
func Builtins() []string {
	entries, _ := fs.ReadDir(builtins, "builtin")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// BuiltinSource is the YAML of the built-in plan name, to show and to copy.
func BuiltinSource(name string) (string, bool) {
	data, err := builtins.ReadFile("builtin/" + name + ".yaml")
	return string(data), err == nil
}

// BuiltinSummary is what the built-in plan name does: its first comment.
func BuiltinSummary(name string) string {
	src, _ := BuiltinSource(name)
	first, _, _ := strings.Cut(src, "\n")
	return strings.TrimSpace(strings.TrimPrefix(first, "#"))
}

// Default is the default built-in plan. Its steps use the docker.* and
// lxd.* kinds, so drivers must have them.
func Default(drivers *driver.Registry) (*Plan, error) { return Open(DefaultName, drivers) }

// Open returns the built-in plan of that name, else reads the plan file.
func Open(nameOrFile string, drivers *driver.Registry) (*Plan, error) {
	if src, ok := BuiltinSource(nameOrFile); ok {
		return Parse("(built-in plan "+nameOrFile+")", []byte(src), drivers)
	}
	p, err := Load(nameOrFile, drivers)
	if errors.Is(err, os.ErrNotExist) && !strings.ContainsAny(nameOrFile, "/.") {
		return nil, fmt.Errorf("no plan file %q and no built-in plan of that name (built in: %s)", nameOrFile, strings.Join(Builtins(), ", "))
	}
	return p, err
}
