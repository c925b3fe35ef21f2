package result

import (
	"slices"

	"everywhere/internal/host"
)

// Matrix is one measure of a network matrix step: a row for each host it
// was measured from, a column for each host it was measured to.
type Matrix struct {
	Step  string          `json:"step"`
	Test  string          `json:"test"`  // one of host.NetTests
	Unit  string          `json:"unit"`  // of the cells' values
	Hosts []string        `json:"hosts"` // the rows and the columns, in inventory order
	Cells [][]*MatrixCell `json:"cells"` // [from][to]; null on the diagonal
}

// MatrixCell is one ordered pair's measure, or why it was not taken.
type MatrixCell struct {
	Ran      bool    `json:"ran"`
	OK       bool    `json:"ok"`
	Value    float64 `json:"value,omitempty"`
	Detail   string  `json:"detail,omitempty"` // the measure's, or why it was not taken
	Emulated bool    `json:"emulated,omitempty"`
}

// FailedPair is an ordered pair of a matrix step that did not pass every test.
type FailedPair struct {
	Step, From, To string
	Why            string // the failed tests' details, or why the pair did not run
}

// NetMatrices lists, for each step whose hosts carry network pairs, a matrix
// per test, in the order of host.NetTests.
func (r *Result) NetMatrices() []Matrix {
	var out []Matrix
	for i, step := range r.Steps {
		var tests []string // a step without pairs has none: no matrix
		for _, h := range r.Hosts {
			if i < len(h.Steps) {
				for _, p := range h.Steps[i].Pairs {
					for _, m := range p.Tests {
						if !slices.Contains(tests, m.Test) {
							tests = append(tests, m.Test)
						}
					}
				}
			}
		}
		slices.SortFunc(tests, func(a, b string) int { return slices.Index(host.NetTests, a) - slices.Index(host.NetTests, b) })
		for _, test := range tests {
			out = append(out, r.matrix(i, step, test))
		}
	}
	return out
}

func (r *Result) matrix(step int, name, test string) Matrix {
	m := Matrix{Step: name, Test: test, Cells: make([][]*MatrixCell, len(r.Hosts))}
	column := map[string]int{}
	for i, h := range r.Hosts {
		m.Hosts = append(m.Hosts, h.Name)
		column[h.Name] = i
	}
	for i, h := range r.Hosts {
		m.Cells[i] = make([]*MatrixCell, len(r.Hosts))
		for j := range r.Hosts {
			if i != j {
				m.Cells[i][j] = &MatrixCell{Detail: "not run: " + h.Name + " did not reach this step"}
			}
		}
		if step >= len(h.Steps) {
			continue
		}
		if len(h.Steps[step].Pairs) == 0 && h.Steps[step].Error != "" {
			for j := range m.Cells[i] {
				if m.Cells[i][j] != nil {
					m.Cells[i][j].Detail = "not run: " + h.Steps[step].Error
				}
			}
		}
		for _, p := range h.Steps[step].Pairs {
			j, ok := column[p.To]
			if !ok || j == i {
				continue
			}
			cell := &MatrixCell{Detail: p.Error}
			if meas, ok := p.Test(test); ok {
				cell = &MatrixCell{Ran: true, OK: meas.OK, Value: meas.Value, Detail: meas.Detail, Emulated: meas.Emulated}
				m.Unit = meas.Unit
			}
			m.Cells[i][j] = cell
		}
	}
	return m
}

// FailedPairs lists the ordered pairs of matrix steps that did not pass
// every test they were to run, in step and inventory order: skipped pairs
// (the step did not apply at one end) are not among them.
func (r *Result) FailedPairs() []FailedPair {
	var out []FailedPair
	for i, step := range r.Steps {
		for _, h := range r.Hosts {
			if i >= len(h.Steps) {
				continue
			}
			for _, p := range h.Steps[i].Pairs {
				if p.OK() || p.Skipped {
					continue
				}
				why := p.Error
				for _, m := range p.Tests {
					if !m.OK {
						if why != "" {
							why += "; "
						}
						why += m.Test + " FAIL: " + m.Detail
					}
				}
				out = append(out, FailedPair{Step: step, From: h.Name, To: p.To, Why: why})
			}
		}
	}
	return out
}
