package report

import (
	"strconv"
	"strings"

	"everywhere/internal/compare"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// hostNamer names a set of res's hosts as foldHosts does, within half a
// legend's budget, without the count: what a value is followed by in a
// legend.
func hostNamer(res *result.Result) func(hosts []int) string {
	list := hostLister(res, legendBudget/2)
	return func(hosts []int) string {
		s := list(hosts)
		return s[:strings.LastIndex(s, " (")]
	}
}

// legendBudget is how many cells of values a legend holds before it says
// how many more there are.
const legendBudget = 600

// expand is a group's text with what its placeholders stood for, so that
// no mask hides an answer: each line holding placeholders either once per
// distinct form, followed by its hosts,
//
//	eth0@if7   UP   10.0.0.1/24 · web1
//
// or, when that takes more rows of width cells and the line has one
// placeholder, or the group more than a few forms of it, or a form longer
// than a row, the line as shown
// and a legend per placeholder, the values in the order of the group's
// hosts:
//
//	<arch>: x86_64 (amd64) · aarch64 (arm64) · armv7l (armhf)
//
// A line that is its placeholder alone is its legend alone. names names a
// set of hosts; width 0 counts lines, not rows (a page that wraps itself).
func expand(sh compare.Shown, names func([]int) string, width int) string {
	if len(sh.Varied) == 0 {
		return sh.Text
	}
	lines := strings.Split(sh.Text, "\n")
	var out []string
	next := 0
	for i, l := range lines {
		if next >= len(sh.Varied) || sh.Varied[next].Line != i {
			out = append(out, l)
			continue
		}
		v := sh.Varied[next]
		next++
		var legend []string
		if len(v.Slots) != 1 || strings.TrimSpace(l) != v.Slots[0].Placeholder {
			legend = append(legend, l)
		}
		for _, s := range v.Slots {
			legend = append(legend, legendOf(s, names))
		}
		variants := make([]string, len(v.Variants))
		for j, vr := range v.Variants {
			variants[j] = vr.Text + " · " + names(vr.Hosts)
		}
		// Legends of several placeholders in one line are hard to read
		// back into it: a few hosts' lines are shown whole, if each fits a row.
		vrows := rows(variants, width)
		if vrows <= rows(legend, width) || len(v.Slots) > 1 && len(variants) <= maxAutoPanes && vrows == len(variants) {
			out = append(out, variants...)
		} else {
			out = append(out, legend...)
		}
	}
	return strings.Join(out, "\n")
}

// legendOf is one placeholder's legend: "<arch>: x86_64 (amd64) · …".
func legendOf(s compare.Slot, names func([]int) string) string {
	if s.Own {
		return s.Placeholder + ": each host's own name"
	}
	var b strings.Builder
	b.WriteString(s.Placeholder + ":")
	for i, v := range s.Values {
		if i > 0 {
			b.WriteString(" ·")
		}
		if b.Len() > legendBudget {
			b.WriteString(" … " + strconv.Itoa(len(s.Values)-i) + " more values")
			break
		}
		b.WriteString(" " + v.Text + " (" + names(v.Hosts) + ")")
	}
	return b.String()
}

// rows is how many rows of width cells lines take.
func rows(lines []string, width int) int {
	if width <= 0 {
		return len(lines)
	}
	n := 0
	for _, l := range lines {
		n += len(text.Wrap(text.Line(l), width))
	}
	return n
}
