package docsgen

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// source is what the Go source says about the types the reference shows:
// the doc comments of types, fields and constants, and the values of
// string-typed constants (the enums of the result's fields). Reflection
// gives the shapes; only the source has the words.
type source struct {
	docs   map[string]string   // "pkgpath.Type", "pkgpath.Type.Field", "pkgpath.Const"
	enums  map[string][]string // "pkgpath.Type": its constants' values, in declaration order
	consts map[string][]constant
}

// constant is a declared constant of a package: its name, literal value and comment.
type constant struct {
	Name, Value, Doc string
}

// readSource parses every non-test Go file under root/internal; module is
// the module path that import paths start with.
func readSource(root, module string) (*source, error) {
	s := &source{docs: map[string]string{}, enums: map[string][]string{}, consts: map[string][]constant{}}
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(root, "internal"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ParseComments)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		s.add(path.Join(module, filepath.ToSlash(rel)), f)
		return nil
	})
	return s, err
}

func (s *source) add(pkg string, f *ast.File) {
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok {
			continue
		}
		for _, spec := range gen.Specs {
			switch spec := spec.(type) {
			case *ast.TypeSpec:
				doc := spec.Doc
				if doc == nil && len(gen.Specs) == 1 {
					doc = gen.Doc
				}
				s.docs[pkg+"."+spec.Name.Name] = text(doc)
				if st, ok := spec.Type.(*ast.StructType); ok {
					for _, field := range st.Fields.List {
						doc := text(field.Doc)
						if doc == "" {
							doc = text(field.Comment)
						}
						for _, n := range field.Names {
							s.docs[pkg+"."+spec.Name.Name+"."+n.Name] = doc
						}
					}
				}
			case *ast.ValueSpec:
				if gen.Tok != token.CONST {
					continue
				}
				doc := text(spec.Comment)
				if doc == "" {
					doc = text(spec.Doc)
				}
				for i, n := range spec.Names {
					if i >= len(spec.Values) {
						continue
					}
					lit, ok := spec.Values[i].(*ast.BasicLit)
					if !ok {
						continue
					}
					value := lit.Value
					if lit.Kind == token.STRING {
						if v, err := strconv.Unquote(lit.Value); err == nil {
							value = v
						}
					}
					s.consts[pkg] = append(s.consts[pkg], constant{Name: n.Name, Value: value, Doc: doc})
					s.docs[pkg+"."+n.Name] = doc
					if id, ok := spec.Type.(*ast.Ident); ok && lit.Kind == token.STRING {
						s.enums[pkg+"."+id.Name] = append(s.enums[pkg+"."+id.Name], value)
					}
				}
			}
		}
	}
}

// text is a comment's text on one line.
func text(c *ast.CommentGroup) string {
	return strings.Join(strings.Fields(c.Text()), " ")
}
