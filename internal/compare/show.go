package compare

import "strings"

// Shown is a group's text as a view shows it: its first host's text,
// where a token's value is not the same on all of the group's hosts its
// placeholder, and for each line holding one what the placeholders stood
// for, host by host. A value all the group's hosts share is shown as it
// is: eight amd64 hosts answer x86_64, not <arch>.
type Shown struct {
	Text   string
	Varied []Varied // the lines of Text that hold a placeholder, in order
}

// Varied is one line of Shown.Text that holds placeholders.
type Varied struct {
	Line     int       // index of the line in Text, counted from 0
	Slots    []Slot    // its placeholders, alike ones once
	Variants []Variant // the line as the hosts have it, each distinct line once
}

// Slot is one placeholder of a line and the values it stood for.
type Slot struct {
	Placeholder string
	// Own says every host's value is its own name (and not also its
	// arch's, as the lab's hosts are named): the placeholder is <host>,
	// and its values are the hosts' names.
	Own    bool
	Values []Variant
}

// Variant is a text and the hosts that had it, in the group's order.
type Variant struct {
	Text  string
	Hosts []int
}

// Show is part of group g's answer as it is shown (see Shown).
func (s *Step) Show(g int, part Part) Shown {
	hosts := s.Groups[g].Hosts
	first := s.answers[hosts[0]].Texts[part]
	same := true
	for _, h := range hosts[1:] {
		if s.answers[h].Texts[part] != first {
			same = false
			break
		}
	}
	if same || s.Groups[g].None {
		return Shown{Text: first}
	}
	texts := make([]string, len(hosts))
	tokens := make([][]Token, len(hosts))
	for i, h := range hosts {
		texts[i] = s.answers[h].Texts[part]
		tokens[i] = s.tokens[h][part]
		if tokens[i] == nil {
			tokens[i] = s.masks[h].Tokens(texts[i])
		}
		if len(tokens[i]) != len(tokens[0]) {
			return Shown{Text: first} // equal keys hold as many tokens; a host's NULs may fool that
		}
	}
	var b strings.Builder
	var varied []Varied
	line, last := 0, 0
	for k, t := range tokens[0] {
		b.WriteString(first[last:t.Start])
		line += strings.Count(first[last:t.Start], "\n")
		last = t.End
		slot := Slot{Placeholder: t.Class.Placeholder(), Own: true}
		values := variants{}
		for i, h := range hosts {
			v := texts[i][tokens[i][k].Start:tokens[i][k].End]
			slot.Own = slot.Own && tokens[i][k].Class == Host && v == s.ids[h].Name
			values.add(v, h)
		}
		slot.Values = values.list
		if len(slot.Values) == 1 {
			b.WriteString(first[t.Start:t.End])
			continue
		}
		b.WriteString(slot.Placeholder)
		if len(varied) == 0 || varied[len(varied)-1].Line != line {
			varied = append(varied, Varied{Line: line})
		}
		v := &varied[len(varied)-1]
		if !hasSlot(v.Slots, slot) {
			v.Slots = append(v.Slots, slot)
		}
	}
	b.WriteString(first[last:])
	if len(varied) > 0 {
		sets := make([]variants, len(varied))
		for i, h := range hosts {
			lines := strings.Split(texts[i], "\n")
			for vi, v := range varied {
				sets[vi].add(lines[min(v.Line, len(lines)-1)], h)
			}
		}
		for vi := range varied {
			varied[vi].Variants = sets[vi].list
		}
	}
	return Shown{Text: b.String(), Varied: varied}
}

// variants gathers texts and their hosts, in order of first appearance.
type variants struct {
	list  []Variant
	index map[string]int
}

func (vs *variants) add(text string, host int) {
	if vs.index == nil {
		vs.index = map[string]int{}
	}
	i, ok := vs.index[text]
	if !ok {
		i = len(vs.list)
		vs.index[text] = i
		vs.list = append(vs.list, Variant{Text: text})
	}
	vs.list[i].Hosts = append(vs.list[i].Hosts, host)
}

func hasSlot(slots []Slot, s Slot) bool {
	for _, o := range slots {
		if o.Placeholder == s.Placeholder && sameVariants(o.Values, s.Values) {
			return true
		}
	}
	return false
}

func sameVariants(a, b []Variant) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Text != b[i].Text || len(a[i].Hosts) != len(b[i].Hosts) {
			return false
		}
		for j := range a[i].Hosts {
			if a[i].Hosts[j] != b[i].Hosts[j] {
				return false
			}
		}
	}
	return true
}
