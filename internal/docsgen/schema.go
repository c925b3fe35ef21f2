package docsgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"everywhere/internal/result"
)

// resultSchema is the JSON Schema (draft 2020-12) of result.json, made by
// reflection over result.Result with the words of its doc comments.
//
// Written here rather than with a reflector module: what the schema must
// state is encoding/json's own rules, null where Go writes null (a nil
// slice or map without omitempty, a nil pointer in a slice: the matrices'
// diagonal), a field absent where omitempty leaves it out; a reflector
// models these only through tags on the result's types.
func resultSchema(src *source) ([]byte, error) {
	g := schemaGen{src: src, defs: map[string]any{}}
	root := g.object(reflect.TypeOf(result.Result{}))
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["title"] = "everywhere result (" + result.Schema + ")"
	root["$defs"] = g.defs
	props := root["properties"].(map[string]any)
	// A reader takes any document of the same major version.
	name, version, _ := strings.Cut(result.Schema, "/")
	major, _, _ := strings.Cut(version, ".")
	props["schema"] = map[string]any{"type": "string", "pattern": "^" + regexp.QuoteMeta(name+"/"+major) + `\.`,
		"description": "the document's schema: " + result.Schema + "; a reader accepts the same major version"}
	data, err := json.MarshalIndent(root, "", "  ")
	return append(data, '\n'), err
}

type schemaGen struct {
	src  *source
	defs map[string]any
}

var timeType = reflect.TypeOf(time.Time{})

// of is the schema of a value of type t.
func (g *schemaGen) of(t reflect.Type) map[string]any {
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return g.of(t.Elem())
	case reflect.Struct:
		name := t.Name()
		if _, done := g.defs[name]; !done {
			g.defs[name] = nil // a recursive type refers to itself
			g.defs[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/$defs/" + name}
	case reflect.Slice, reflect.Array:
		items := g.of(t.Elem())
		if t.Elem().Kind() == reflect.Pointer {
			items = orNull(items)
		}
		return map[string]any{"type": "array", "items": items}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.of(t.Elem())}
	case reflect.String:
		s := map[string]any{"type": "string"}
		if values := g.src.enums[t.PkgPath()+"."+t.Name()]; len(values) > 0 && t.Name() != "string" {
			enum := append([]string{}, values...)
			if t == reflect.TypeOf(result.Status("")) {
				enum = append(enum, "") // a group's status for hosts that have no such step
			}
			s["enum"] = enum
		}
		return s
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	}
	panic(fmt.Sprintf("docsgen: result field of type %s has no JSON Schema here: add its kind", t))
}

// object is a struct's schema: its JSON fields, those without omitempty required.
func (g *schemaGen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omitempty := strings.Contains(opts, "omitempty")
		s := g.of(f.Type)
		if !omitempty && (f.Type.Kind() == reflect.Slice || f.Type.Kind() == reflect.Map || f.Type.Kind() == reflect.Pointer) {
			s = orNull(s)
		}
		if doc := g.src.docs[t.PkgPath()+"."+t.Name()+"."+f.Name]; doc != "" {
			s = withDescription(s, doc)
		}
		props[name] = s
		if !omitempty {
			required = append(required, name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	if doc := g.src.docs[t.PkgPath()+"."+t.Name()]; doc != "" {
		s["description"] = doc
	}
	return s
}

func orNull(s map[string]any) map[string]any {
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// withDescription adds a description beside a $ref or anyOf, which 2020-12 allows.
func withDescription(s map[string]any, doc string) map[string]any {
	out := map[string]any{"description": doc}
	for k, v := range s {
		out[k] = v
	}
	return out
}

var (
	compiledOnce sync.Once
	compiled     *jsonschema.Schema
	compileErr   error
)

// ValidateResult checks a result document against the schema generated
// from the code of this build (the same that docs/reference/result.schema.json
// holds while it is not stale), with a maintained validator.
func ValidateResult(root string, doc []byte) error {
	compiledOnce.Do(func() {
		var src *source
		if src, compileErr = readSource(root, module); compileErr != nil {
			return
		}
		var schema []byte
		if schema, compileErr = resultSchema(src); compileErr != nil {
			return
		}
		compiled, compileErr = compileSchema(schema)
	})
	if compileErr != nil {
		return compileErr
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return compiled.Validate(inst)
}

func compileSchema(schema []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("result.schema.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("result.schema.json")
}
