package docsgen

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"everywhere/internal/driver"
)

// Examples are one step of each kind as a plan writes it (the value under
// the kind's key). The reference shows it, and parses it with the kind's
// own parser: the fields listed are those of the action it gives, so an
// example that no longer parses, or a kind without one, fails `make docs`.
var Examples = map[string]string{
	"shell":          "{command: apt-get update, sudo: true}",
	"file.push":      "{src: ./app.deb, dest: /tmp/}",
	"docker.version": "{}",
	"docker.images":  `{reference: "debian*"}`,
	"docker.run":     `{image: "everywhere/debian:bookworm", cmd: [uname, -m]}`,
	"docker.exec":    "{container: c1, cmd: [cat, /etc/os-release]}",
	"docker.rm":      "{container: c1}",
	"lxd.launch":     `{image: "debian/bookworm/{arch}", profiles: [default, docker]}`,
	"lxd.list":       "{}",
	"lxd.exec":       "{cmd: [uname, -a]}",
	"lxd.delete":     "{}",
	"lxd.docker_run": `{image: "everywhere/debian:bookworm", cmd: [uname, -m]}`,
	"net.matrix":     "{engine: docker, tests: [ping, short, long, throughput]}",
	// Podman is the docker driver and Incus the lxd driver under other names.
	"podman.version":   "{}",
	"podman.images":    `{reference: "debian*"}`,
	"podman.run":       `{image: "everywhere/debian:bookworm", cmd: [uname, -m]}`,
	"podman.exec":      "{container: c1, cmd: [cat, /etc/os-release]}",
	"podman.rm":        "{container: c1}",
	"incus.launch":     `{image: "images:debian/bookworm", profiles: [default]}`,
	"incus.list":       "{}",
	"incus.exec":       "{cmd: [uname, -a]}",
	"incus.delete":     "{}",
	"incus.docker_run": `{image: "everywhere/debian:bookworm", cmd: [uname, -m]}`,
}

// kindsPage lists every driver's step kinds with an example and the fields
// of the YAML they take, their types and doc comments.
func kindsPage(drivers []*driver.Driver, src *source) ([]byte, error) {
	var w bytes.Buffer
	generated(&w, "Step kinds")
	fmt.Fprintf(&w, "A plan's step is `{name: NAME, KIND: VALUE}` with the options every step has (`expect:`, `timeout:`, `critical:`: see [plans](plans.md)). These are the kinds of the drivers this build has, driver by driver.\n\n")
	for _, d := range drivers {
		fmt.Fprintf(&w, "## Driver %s\n\n", d.Name)
		var notes []string
		if d.Probe != nil {
			notes = append(notes, "probes hosts for `everywhere hosts`")
		}
		if d.Clean != nil {
			notes = append(notes, "removes what killed runs left for `everywhere clean`")
		}
		if d.Containers != nil {
			notes = append(notes, "starts containers for other steps (an `engine:` of `net.matrix`)")
		}
		if len(notes) > 0 {
			fmt.Fprintf(&w, "It %s.\n\n", strings.Join(notes, "; "))
		}
		for _, k := range d.Kinds {
			example, ok := Examples[k.Name]
			if !ok {
				return nil, fmt.Errorf("step kind %s (driver %s) has no example: add one to docsgen.Examples (internal/docsgen/kinds.go)", k.Name, d.Name)
			}
			var node yaml.Node
			if err := yaml.Unmarshal([]byte(example), &node); err != nil {
				return nil, fmt.Errorf("example of %s: %w", k.Name, err)
			}
			action, err := k.Parse(k.Name, "docsgen.Examples", node.Content[0])
			if err != nil {
				return nil, fmt.Errorf("example of %s no longer parses: %w", k.Name, err)
			}
			t := reflect.TypeOf(action)
			for t.Kind() == reflect.Pointer {
				t = t.Elem()
			}
			fmt.Fprintf(&w, "### %s\n\n", k.Name)
			if doc := src.docs[t.PkgPath()+"."+t.Name()]; doc != "" {
				fmt.Fprintf(&w, "%s\n\n", doc)
			}
			fmt.Fprintf(&w, "```yaml\n- {name: example, %s: %s}\n```\n\n", k.Name, example)
			fmt.Fprintf(&w, "Runs as: `%s`\n\n", action.Command())
			if t.Kind() == reflect.Struct {
				if rows := fieldRows(t, reflect.Value{}, "", src); len(rows) > 0 {
					w.WriteString(table([]string{"field", "type", "what it is"}, rows) + "\n")
				} else {
					w.WriteString("No fields: write `{}`.\n\n")
				}
			} else {
				fmt.Fprintf(&w, "The value is %s.\n\n", yamlType(t))
			}
		}
	}
	return w.Bytes(), nil
}

// blocksPage lists every inventory block with its fields and defaults.
func blocksPage(blocks []Block, src *source) []byte {
	var w bytes.Buffer
	generated(&w, "Inventory blocks")
	fmt.Fprintf(&w, "Besides its connection fields (see [inventory](inventory.md)), a host's entry, or the inventory's `defaults:`, may hold a block per driver and the runner's own (`emulated:`, `timeout_scale:`); a host's own block replaces the defaults' whole. These are the blocks of this build.\n\n")
	for _, b := range blocks {
		t, v := reflect.TypeOf(b.Defaults), reflect.ValueOf(b.Defaults)
		if t.Kind() == reflect.Pointer { // a block that is nil when absent
			t, v = t.Elem(), reflect.Value{}
		}
		fmt.Fprintf(&w, "## %s:\n\n", b.Name)
		if doc := src.docs[t.PkgPath()+"."+t.Name()]; doc != "" {
			fmt.Fprintf(&w, "%s\n\n", doc)
		}
		if t.Kind() != reflect.Struct {
			fmt.Fprintf(&w, "The value is %s; without the block, nothing is said.\n\n", yamlType(t))
			continue
		}
		rows := fieldRows(t, v, "", src)
		w.WriteString(table([]string{"field", "type", "what it is", "without the block"}, rows) + "\n")
	}
	return w.Bytes()
}

// fieldRows are a struct's YAML fields: name (nested ones dotted), type,
// doc, and when v is a value of t (a block's defaults), the field's value.
func fieldRows(t reflect.Type, v reflect.Value, prefix string, src *source) [][]string {
	var rows [][]string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		var fv reflect.Value
		if v.IsValid() {
			fv = v.Field(i)
		}
		if opts == "inline" {
			rows = append(rows, fieldRows(f.Type, fv, prefix, src)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		doc := src.docs[t.PkgPath()+"."+t.Name()+"."+f.Name]
		ft := f.Type
		if ft.Kind() == reflect.Struct && ft != durationType {
			if tdoc := src.docs[ft.PkgPath()+"."+ft.Name()]; doc == "" {
				doc = tdoc
			}
			rows = append(rows, row(fv, "`"+prefix+name+"`", "mapping", doc))
			rows = append(rows, fieldRows(ft, fv, prefix+name+".", src)...)
			continue
		}
		rows = append(rows, row(fv, "`"+prefix+name+"`", yamlType(ft), doc))
	}
	return rows
}

// row is a field's row, with its value's cell when it has a value: empty
// for a zero value or a mapping (its fields have rows of their own).
func row(v reflect.Value, cells ...string) []string {
	switch {
	case !v.IsValid():
		return cells
	case v.IsZero() || v.Kind() == reflect.Struct && v.Type() != durationType:
		return append(cells, "")
	}
	return append(cells, fmt.Sprintf("`%v`", v.Interface()))
}

var durationType = reflect.TypeOf(time.Duration(0))

// yamlType names a Go type as a plan or inventory writes it.
func yamlType(t reflect.Type) string {
	switch {
	case t == durationType:
		return "duration (`30s`, `2m`)"
	case t.Kind() == reflect.String:
		return "string"
	case t.Kind() == reflect.Bool:
		return "boolean"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "integer"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "number"
	case t.Kind() == reflect.Slice:
		return "list of " + yamlType(t.Elem())
	case t.Kind() == reflect.Map:
		return "mapping of " + yamlType(t.Key()) + " to " + yamlType(t.Elem())
	case t.Kind() == reflect.Pointer:
		return yamlType(t.Elem())
	}
	return t.String()
}
