package report

import (
	"fmt"
	"strconv"
	"strings"

	"everywhere/internal/host"
	"everywhere/internal/result"
	"everywhere/internal/text"
)

// maxMatrixHosts is the most hosts a matrix is drawn for in text; past
// it, only the failing pairs are listed (the JSON has every cell).
const maxMatrixHosts = 16

// emulatedMark follows a figure one end of which ran under emulation.
const emulatedMark = "*"

// matrixFigure is a cell as the matrices show it: ✔ or ✘ with the value,
// or – for a pair not run.
func matrixFigure(c *result.MatrixCell) string {
	switch {
	case c == nil:
		return "·"
	case !c.Ran:
		return "–"
	}
	v := strconv.FormatFloat(c.Value, 'f', 2, 64)
	if c.Value >= 100 {
		v = strconv.FormatFloat(c.Value, 'f', 0, 64)
	} else if c.Value >= 10 {
		v = strconv.FormatFloat(c.Value, 'f', 1, 64)
	}
	if c.Emulated {
		v += emulatedMark
	}
	if !c.OK {
		return "✘ " + v
	}
	return "✔ " + v
}

// matrixTitle names a matrix: its step, test and unit.
func matrixTitle(m result.Matrix) string {
	title := m.Step + " · " + m.Test
	if m.Unit != "" {
		title += " (" + m.Unit + ")"
	}
	return title + " · rows from, columns to"
}

// failedPairLine is one failing pair, for the lists that come first.
func failedPairLine(p result.FailedPair) string {
	return fmt.Sprintf("%s: %s → %s: %s", p.Step, p.From, p.To, p.Why)
}

// anyEmulated says whether a cell of the matrices measured emulation.
func anyEmulated(ms []result.Matrix) bool {
	for _, m := range ms {
		for _, row := range m.Cells {
			for _, c := range row {
				if c != nil && c.Ran && c.Emulated && m.Test != host.TestPing {
					return true
				}
			}
		}
	}
	return false
}

const emulatedFootnote = emulatedMark + " one end ran under emulation (qemu-user): its times and throughput measure the emulation, not the network"

// sideMatrices writes the network matrices of res, the failing pairs first.
func sideMatrices(sh *sheet, res *result.Result) {
	matrices := res.NetMatrices()
	if len(matrices) == 0 {
		return
	}
	sh.b.WriteString("\n")
	failed := res.FailedPairs()
	for _, p := range failed {
		sh.text(statusIcon(result.Failed)+" "+text.Line(failedPairLine(p)), ansiRed, 0, 4)
	}
	for _, m := range matrices {
		sh.b.WriteString("\n")
		sh.text(text.Line(matrixTitle(m)), ansiBold, 0, 2)
		if len(m.Hosts) > maxMatrixHosts {
			sh.text(fmt.Sprintf("(%d hosts: too many to draw here; every cell is in the JSON and Markdown reports)", len(m.Hosts)), ansiDim, 2, 2)
			continue
		}
		names := make([]string, len(m.Hosts))
		width := 0
		for i, h := range m.Hosts {
			names[i] = text.Truncate(text.Line(h), 14)
			width = max(width, text.Width(names[i]))
		}
		cells := make([][]string, len(m.Hosts))
		for i := range m.Cells {
			cells[i] = make([]string, len(m.Hosts))
			for j, c := range m.Cells[i] {
				cells[i][j] = matrixFigure(c)
				width = max(width, text.Width(cells[i][j]))
			}
		}
		var head strings.Builder
		head.WriteString("  " + text.Pad("", width))
		for _, n := range names {
			head.WriteString("  " + text.Pad(n, width))
		}
		sh.b.WriteString(text.Truncate(strings.TrimRight(head.String(), " "), sh.width) + "\n")
		for i, row := range cells {
			var b strings.Builder
			b.WriteString("  " + text.Pad(names[i], width))
			for j, cell := range row {
				color := ansiGreen
				switch {
				case m.Cells[i][j] == nil || !m.Cells[i][j].Ran:
					color = ansiDim
				case !m.Cells[i][j].OK:
					color = ansiRed
				}
				b.WriteString("  " + sh.paint(line{text.Pad(cell, width), color}))
			}
			sh.b.WriteString(strings.TrimRight(b.String(), " ") + "\n")
		}
	}
	if anyEmulated(matrices) {
		sh.b.WriteString("\n")
		sh.text(emulatedFootnote, ansiDim, 0, 2)
	}
}

// mdMatrices writes the network matrices of res as Markdown tables, the
// failing pairs first.
func mdMatrices(b *strings.Builder, res *result.Result) {
	matrices := res.NetMatrices()
	if len(matrices) == 0 {
		return
	}
	b.WriteString("\n## Network matrices\n\n")
	if failed := res.FailedPairs(); len(failed) > 0 {
		b.WriteString("Failing pairs:\n\n")
		for _, p := range failed {
			fmt.Fprintf(b, "- ✘ %s\n", mdText(failedPairLine(p)))
		}
		b.WriteString("\n")
	}
	for _, m := range matrices {
		fmt.Fprintf(b, "### %s\n\n| from \\ to |", mdText(matrixTitle(m)))
		for _, h := range m.Hosts {
			fmt.Fprintf(b, " %s |", mdText(h))
		}
		b.WriteString("\n|---|" + strings.Repeat("---|", len(m.Hosts)) + "\n")
		for i, row := range m.Cells {
			fmt.Fprintf(b, "| **%s** |", mdText(m.Hosts[i]))
			for _, c := range row {
				fmt.Fprintf(b, " %s |", mdText(matrixFigure(c)))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	if anyEmulated(matrices) {
		fmt.Fprintf(b, "%s\n", mdText(emulatedFootnote))
	}
}
