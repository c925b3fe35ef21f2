package filepush_test

import (
	"strings"
	"testing"

	"everywhere/internal/drivers"
	"everywhere/internal/filepush"
	"everywhere/internal/plan"
)

// TestParse: src is anchored at the plan's folder; what cannot be pushed
// is an error at the step's line.
func TestParse(t *testing.T) {
	p, err := plan.Parse("/plans/smoke.yaml", []byte("steps:\n  - file.push: {src: dist/app.deb, dest: /tmp/}\n  - file.push: {src: /abs/f, dest: f}\n"), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	if a := p.Steps[0].Action.(*filepush.Push); a.Src != "/plans/dist/app.deb" || a.Dest != "/tmp/" || p.Steps[0].Name != "push /plans/dist/app.deb → /tmp/" {
		t.Errorf("step 0: %+v named %q", a, p.Steps[0].Name)
	}
	if a := p.Steps[1].Action.(*filepush.Push); a.Src != "/abs/f" {
		t.Errorf("step 1: %+v", a)
	}
	for src, want := range map[string]string{
		"steps:\n  - file.push: {dest: /tmp/}\n":       "p.yaml:2: file.push: src: missing: the local file or directory to push",
		"steps:\n  - file.push: {src: a}\n":            "p.yaml:2: file.push: dest: missing: where on the host to put it",
		"steps:\n  - file.push: {src: a, dest: ~/a}\n": "p.yaml:2: file.push: dest: ~/a: ~ is not expanded; a relative path is from the login directory already",
		"steps:\n  - file.push: {src: a, dst: /tmp}\n": `p.yaml:2: unknown field "dst"`,
		"steps:\n  - file.push: [a, /tmp]\n":           "p.yaml:2: cannot unmarshal !!seq into filepush.Push",
	} {
		if _, err := plan.Parse("p.yaml", []byte(src), drivers.All()); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: error %v\nwant %s", src, err, want)
		}
	}
}
