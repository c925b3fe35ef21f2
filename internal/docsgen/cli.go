package docsgen

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// ManDate is the date man pages carry. It is fixed, not today's (nor
// SOURCE_DATE_EPOCH's, which cobra would read), so that the committed
// pages regenerate byte for byte on any machine; move it with a release.
var ManDate = time.Date(2026, time.December, 7, 0, 0, 0, 0, time.UTC)

// cliFiles adds a Markdown page and a man page for every command that a
// user can run (hidden ones and help left out), with cobra's generator.
func cliFiles(root *cobra.Command, files map[string][]byte) error {
	root.InitDefaultCompletionCmd() // `everywhere completion` exists once the CLI runs
	root.DisableAutoGenTag = true   // its footer carries today's date
	var walk func(c *cobra.Command) error
	walk = func(c *cobra.Command) error {
		if !c.IsAvailableCommand() && c != root || c.IsAdditionalHelpTopicCommand() {
			return nil
		}
		c.DisableAutoGenTag = true
		var md bytes.Buffer
		if err := doc.GenMarkdownCustom(c, &md, func(name string) string { return name }); err != nil {
			return fmt.Errorf("markdown of %s: %w", c.CommandPath(), err)
		}
		files[path.Join(CLIDir, pageName(c)+".md")] = md.Bytes()
		var man bytes.Buffer
		date := ManDate
		header := &doc.GenManHeader{Title: strings.ToUpper(strings.ReplaceAll(c.CommandPath(), " ", "-")), Section: "1", Source: "everywhere", Manual: "everywhere manual", Date: &date}
		if err := doc.GenMan(c, header, &man); err != nil {
			return fmt.Errorf("man page of %s: %w", c.CommandPath(), err)
		}
		files[path.Join(ManDir, strings.ReplaceAll(c.CommandPath(), " ", "-")+".1")] = man.Bytes()
		for _, sub := range c.Commands() {
			if err := walk(sub); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return err
	}
	files[path.Join(CLIDir, "README.md")] = cliIndex(root)
	return nil
}

// cliIndex lists every command's page with its one-line summary.
func cliIndex(root *cobra.Command) []byte {
	var w bytes.Buffer
	generated(&w, "Command line reference")
	fmt.Fprintf(&w, "Every command and flag, as `everywhere COMMAND --help` prints them. Man pages of the same: [docs/man](../../man) (`man -l docs/man/everywhere-run.1`).\n\n")
	var rows [][]string
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c != root && (!c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand()) {
			return
		}
		rows = append(rows, []string{fmt.Sprintf("[%s](%s.md)", c.CommandPath(), pageName(c)), c.Short})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	w.WriteString(table([]string{"command", "what it does"}, rows))
	return w.Bytes()
}
