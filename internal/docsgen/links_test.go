package docsgen

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	gmtext "github.com/yuin/goldmark/text"
)

// TestDocsLinksResolve checks every relative link and image of README.md
// and docs/**.md: the file exists, and an anchor (#section) names a heading
// of it as GitHub makes them. Links out of the repository are left alone.
func TestDocsLinksResolve(t *testing.T) {
	repo := "../.."
	pages := []string{filepath.Join(repo, "README.md")}
	err := filepath.WalkDir(filepath.Join(repo, "docs"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			pages = append(pages, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]map[string]bool{}
	checked := 0
	for _, page := range pages {
		links, _, err := readPage(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, link := range links {
			u, err := url.Parse(link)
			if err != nil {
				t.Errorf("%s: link %q: %v", page, link, err)
				continue
			}
			if u.Scheme != "" || u.Host != "" || strings.HasPrefix(link, "//") {
				continue
			}
			checked++
			target := page
			if u.Path != "" {
				target = filepath.Join(filepath.Dir(page), filepath.FromSlash(u.Path))
				if _, err := os.Stat(target); err != nil {
					t.Errorf("%s: link %q: %v", rel(repo, page), link, err)
					continue
				}
			}
			if u.Fragment == "" {
				continue
			}
			if !strings.HasSuffix(target, ".md") {
				t.Errorf("%s: link %q: an anchor into a file that is not Markdown", rel(repo, page), link)
				continue
			}
			if anchors[target] == nil {
				_, ids, err := readPage(target)
				if err != nil {
					t.Fatal(err)
				}
				anchors[target] = ids
			}
			if !anchors[target][u.Fragment] {
				t.Errorf("%s: link %q: %s has no heading with that anchor", rel(repo, page), link, rel(repo, target))
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d relative links in %d pages: the walk found too few", checked, len(pages))
	}
}

func rel(repo, p string) string {
	r, err := filepath.Rel(repo, p)
	if err != nil {
		return p
	}
	return r
}

// readPage returns a Markdown page's link and image destinations, and the
// anchors of its headings (and of its explicit <a id|name> tags).
func readPage(page string) (links []string, anchors map[string]bool, err error) {
	src, err := os.ReadFile(page)
	if err != nil {
		return nil, nil, err
	}
	md := goldmark.New(goldmark.WithExtensions(extension.GFM))
	doc := md.Parser().Parse(gmtext.NewReader(src))
	anchors = map[string]bool{}
	for _, m := range anchorTag.FindAllSubmatch(src, -1) {
		anchors[string(m[1])] = true
	}
	seen := map[string]int{}
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Link:
			links = append(links, string(n.Destination))
		case *ast.Image:
			links = append(links, string(n.Destination))
		case *ast.Heading:
			slug := githubSlug(headingText(n, src))
			if k := seen[slug]; k > 0 {
				anchors[fmt.Sprintf("%s-%d", slug, k)] = true
			} else {
				anchors[slug] = true
			}
			seen[slug]++
		}
		return ast.WalkContinue, nil
	})
	return links, anchors, err
}

var anchorTag = regexp.MustCompile(`<a (?:id|name)="([^"]+)"`)

// headingText is a heading's text as GitHub slugs it: code spans' text included.
func headingText(n ast.Node, src []byte) string {
	var b strings.Builder
	_ = ast.Walk(n, func(c ast.Node, entering bool) (ast.WalkStatus, error) {
		if t, ok := c.(*ast.Text); ok && entering {
			b.Write(t.Segment.Value(src))
		}
		if s, ok := c.(*ast.String); ok && entering {
			b.Write(s.Value)
		}
		return ast.WalkContinue, nil
	})
	return b.String()
}

// githubSlug is GitHub's anchor of a heading: lower case, punctuation
// dropped (letters, digits, spaces, - and _ kept), spaces made hyphens.
func githubSlug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
