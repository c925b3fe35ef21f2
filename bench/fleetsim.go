package main

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"

	"everywhere/internal/host"
)

// fleetSim is N virtual SSH hosts of the six architectures, in one
// process: one listener per host on its own loopback address, answering a
// few commands from memory, so that the controller is what is measured.
type fleetSim struct {
	config    *ssh.ServerConfig
	listeners []net.Listener
}

func newFleetSim(n, port int, user ssh.PublicKey) (*fleetSim, ssh.PublicKey, error) {
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, err
	}
	f := &fleetSim{config: &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		if string(key.Marshal()) == string(user.Marshal()) {
			return nil, nil
		}
		return nil, fmt.Errorf("unknown key")
	}}}
	f.config.AddHostKey(signer)
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", loopback(i), port))
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		f.listeners = append(f.listeners, l)
		arch := host.AllArchs()[i%6]
		go f.serve(l, fmt.Sprintf("sim%d", i), arch)
	}
	return f, signer.PublicKey(), nil
}

// loopback is the i-th address of 127.0.0.0/8 used by the benchmark
// (127.0.1.1 onwards: 127.0.0.1 stays the machine's own).
func loopback(i int) string { return fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250) }

func (f *fleetSim) Close() {
	for _, l := range f.listeners {
		l.Close()
	}
}

func (f *fleetSim) serve(l net.Listener, name string, arch host.Arch) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go f.handle(c, name, arch)
	}
}

func (f *fleetSim) handle(c net.Conn, name string, arch host.Arch) {
	defer c.Close()
	conn, chans, reqs, err := ssh.NewServerConn(c, f.config)
	if err != nil {
		return
	}
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "sessions only")
			continue
		}
		ch, requests, err := nc.Accept()
		if err != nil {
			continue
		}
		go answer(ch, requests, name, arch)
	}
}

func answer(ch ssh.Channel, requests <-chan *ssh.Request, name string, arch host.Arch) {
	defer ch.Close()
	for req := range requests {
		if req.Type != "exec" {
			if req.WantReply {
				_ = req.Reply(false, nil)
			}
			continue
		}
		_ = req.Reply(true, nil)
		var command string
		if len(req.Payload) > 4 {
			command = string(req.Payload[4:])
		}
		code := 0
		switch strings.TrimSpace(command) {
		case "uname -a":
			fmt.Fprintf(ch, "Linux %s 6.1.0-18 #1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 %s GNU/Linux\n", name, arch.Kernel())
		case "uname -m":
			fmt.Fprintln(ch, arch.Kernel())
		case "dpkg --print-architecture":
			fmt.Fprintln(ch, arch.Debian())
		case "cat /etc/os-release":
			io.WriteString(ch, "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n")
		default:
			fmt.Fprintf(ch.Stderr(), "sh: 1: %s: not found\n", command)
			code = 127
		}
		status := make([]byte, 4)
		binary.BigEndian.PutUint32(status, uint32(code))
		_, _ = ch.SendRequest("exit-status", false, status)
		return
	}
}
