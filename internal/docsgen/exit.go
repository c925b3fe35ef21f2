package docsgen

import (
	"bytes"
	"fmt"
	"strings"
)

// exitPage lists the exit codes from their one home, internal/result's
// Exit constants, with their comments.
func exitPage(src *source) []byte {
	var w bytes.Buffer
	generated(&w, "Exit codes")
	fmt.Fprintf(&w, "What `everywhere` exits with, every command alike (`diff`: 1 is a regression; `report merge`: the merged run's code). Scripts and CI can branch on them.\n\n")
	var rows [][]string
	for _, c := range src.consts[module+"/internal/result"] {
		if strings.HasPrefix(c.Name, "Exit") {
			rows = append(rows, []string{c.Value, "`" + c.Name + "`", c.Doc})
		}
	}
	w.WriteString(table([]string{"code", "constant", "meaning"}, rows))
	return w.Bytes()
}
