package host

import "io"

// ExecOptions are what a command may need besides its text.
type ExecOptions struct {
	// Stdin is read to its end and sent as the command's standard
	// input, then end of file; nil: no input (end of file at once).
	Stdin io.Reader
	// TTY asks for a pseudo-terminal, for commands that need one; its
	// output arrives as stdout alone (a terminal has one stream).
	TTY bool
}
