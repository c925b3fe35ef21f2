// Package yamlfile decodes YAML documents strictly, with errors that name the
// file, line and field, so users can fix inventories and plans without guessing.
package yamlfile

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is a problem at a position in a YAML file.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Errorf returns an Error located at node.
func Errorf(file string, node *yaml.Node, format string, args ...any) *Error {
	line := 0
	if node != nil {
		line = node.Line
	}
	return &Error{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// ReadFile reads path and parses it into a document node.
func ReadFile(path string) (*yaml.Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse parses data (named file in errors) and returns the top-level node of
// its single document. An empty document is an error: it is always a mistake.
func Parse(file string, data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty document"}
	}
	return doc.Content[0], nil
}

// syntaxError turns yaml.v3's "yaml: line N: msg" into file:N: msg.
func syntaxError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if n, _ := fmt.Sscanf(msg, "line %d:", &line); n == 1 {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		return &Error{File: file, Line: line, Msg: msg}
	}
	return &Error{File: file, Msg: msg}
}

// Decode checks node against v's yaml tags (unknown keys are errors, with the
// list of known ones) and then decodes it into v.
func Decode(file string, node *yaml.Node, v any) error {
	return DecodeKnown(file, node, v, nil)
}

// Extra names keys that mappings decoded into a struct type may hold though
// the type has no field for them: blocks that others read from the node.
type Extra map[reflect.Type][]string

// DecodeKnown is Decode that also accepts the keys in extra.
func DecodeKnown(file string, node *yaml.Node, v any, extra Extra) error {
	if err := checkKnown(file, node, reflect.TypeOf(v), extra); err != nil {
		return err
	}
	if err := node.Decode(v); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) && len(te.Errors) > 0 {
			return syntaxError(file, errors.New(te.Errors[0]))
		}
		return Errorf(file, node, "%v", err)
	}
	return nil
}

// yamlUnmarshaler types decode themselves; their keys are their own business.
var yamlUnmarshaler = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()

// nodeType fields keep raw YAML for the caller to interpret.
var nodeType = reflect.TypeOf(yaml.Node{})

func checkKnown(file string, node *yaml.Node, t reflect.Type, extra Extra) error {
	for t.Kind() == reflect.Pointer {
		if t.Implements(yamlUnmarshaler) {
			return nil
		}
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(yamlUnmarshaler) || t == nodeType || node.Kind == yaml.AliasNode {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if node.Kind != yaml.MappingNode {
			return nil // node.Decode reports the type mismatch with its line
		}
		fields := structFields(t)
		for _, name := range extra[t] {
			fields[name] = nil
		}
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, val := node.Content[i], node.Content[i+1]
			if key.Value == "<<" {
				continue // a merge key: what it merges is decoded and checked as usual
			}
			ft, ok := fields[key.Value]
			if !ok {
				return Errorf(file, key, "unknown field %q (known: %s)", key.Value, strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
			}
			if ft == nil {
				continue // an extra key: its reader checks it
			}
			if err := checkKnown(file, val, ft, extra); err != nil {
				return err
			}
		}
	case reflect.Slice, reflect.Array:
		if node.Kind == yaml.SequenceNode {
			for _, item := range node.Content {
				if err := checkKnown(file, item, t.Elem(), extra); err != nil {
					return err
				}
			}
		}
	case reflect.Map:
		if node.Kind == yaml.MappingNode {
			for i := 1; i < len(node.Content); i += 2 {
				if err := checkKnown(file, node.Content[i], t.Elem(), extra); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func structFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		if strings.Contains(opts, "inline") {
			for k, v := range structFields(f.Type) {
				fields[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}
