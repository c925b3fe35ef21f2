// Package netprobe is everywhere's own network responder, the one the
// net.matrix step copies into every host's container: a TCP server (Serve)
// and the tests run against it (Probe), modelled on Ubuntu Fan's fanatic
// (ping, short data, long data) plus throughput. It needs nothing inside the
// container: cmd/evnet is static and brings ping along.
//
// The protocol, one test per TCP connection: the client sends a first line
// naming the mode, then data.
//
//	echo     the server echoes every byte until the client half-closes, then closes.
//	sink     the server reads until EOF, then replies "BYTES SHA256HEX\n".
//	discard  the server reads until EOF, then replies "BYTES\n".
//
// discard is sink without the hash, for throughput: SHA-256 runs at 21-83
// MiB/s under qemu-user, which would cap an emulated peer's throughput far
// below its network's.
package netprobe

import "time"

// DefaultPort is where evnet serve listens unless told otherwise.
const DefaultPort = 7171

// The modes of the protocol, each the first line of a connection.
const (
	modeEcho    = "echo"
	modeSink    = "sink"
	modeDiscard = "discard"
)

// maxHeader bounds the first line: the longest mode and its newline fit
// with room to spare, and garbage is cut off there.
const maxHeader = 64

// idleTimeout drops a server connection on which no read or write
// progressed for that long (a variable for the tests).
var idleTimeout = 30 * time.Second
