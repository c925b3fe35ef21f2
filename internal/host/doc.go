// Package host is the vocabulary every room of everywhere shares: the
// architectures and their names, what a command leaves behind (Output, with
// capped streams) and shell quoting. It imports nothing of the project, so a
// renderer can name architectures without pulling in a transport.
package host
