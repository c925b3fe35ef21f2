package main

import (
	"bufio"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"everywhere/internal/host"
)

// simProcess is the simulator running as a process of its own (bench sim),
// so that neither its CPU nor its memory is counted as a tool's (see
// measure).
type simProcess struct {
	cmd     *exec.Cmd
	stdin   io.Closer
	hostKey ssh.PublicKey
}

// startSim starts `self sim n identity` and waits until it serves.
func startSim(self string, n int, identity string) (*simProcess, error) {
	cmd := exec.Command(self, "sim", strconv.Itoa(n), identity)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &simProcess{cmd: cmd, stdin: stdin}
	line, err := bufio.NewReader(stdout).ReadBytes('\n')
	if err == nil {
		s.hostKey, _, _, _, err = ssh.ParseAuthorizedKey(line)
	}
	if err != nil {
		s.stop()
		return nil, fmt.Errorf("simulator did not start: %v", err)
	}
	return s, nil
}

// stop ends the simulator: it serves until its stdin closes.
func (s *simProcess) stop() error {
	s.stdin.Close()
	return s.cmd.Wait()
}

// serveSim is bench sim: n simulated hosts that accept the key of the
// identity file; it prints their host key when they serve, and serves until
// stdin closes.
func serveSim(n int, identity string) error {
	pem, err := os.ReadFile(identity)
	if err != nil {
		return err
	}
	user, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return err
	}
	sim, hostKey, err := newFleetSim(n, 2222, user.PublicKey())
	if err != nil {
		return err
	}
	defer sim.Close()
	if _, err := os.Stdout.Write(ssh.MarshalAuthorizedKey(hostKey)); err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// fleetSim is N virtual SSH hosts of the six architectures, in one
// process, each at its own loopback address, answering a few commands from
// memory, so that the controller is what is measured. One listener on the
// wildcard address serves them all and tells them apart by the address a
// client dialled: a listener per host would take N of the process's open
// files (20,000 here, a hard limit that root in this container cannot raise)
// before any connection.
type fleetSim struct {
	config   *ssh.ServerConfig
	listener net.Listener
	n        int
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
	f.n = n
	if f.listener, err = net.Listen("tcp", fmt.Sprintf(":%d", port)); err != nil {
		return nil, nil, err
	}
	go f.serve()
	return f, signer.PublicKey(), nil
}

// loopback is the i-th address of 127.0.0.0/8 used by the benchmark
// (127.0.1.1 onwards: 127.0.0.1 stays the machine's own).
func loopback(i int) string { return fmt.Sprintf("127.0.%d.%d", 1+i/250, 1+i%250) }

// hostIndex is which host of n was dialled at addr (the inverse of
// loopback), and false for any other address.
func hostIndex(addr net.Addr, n int) (int, bool) {
	ip := addr.(*net.TCPAddr).IP.To4()
	if ip == nil || ip[0] != 127 || ip[1] != 0 || ip[2] < 1 || ip[3] < 1 || ip[3] > 250 {
		return 0, false
	}
	i := (int(ip[2])-1)*250 + int(ip[3]) - 1
	return i, i < n
}

func (f *fleetSim) Close() { f.listener.Close() }

func (f *fleetSim) serve() {
	var wait time.Duration
	for {
		c, err := f.listener.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			// Out of descriptors (a whole fleet connected at once, past the
			// process's limit): wait for some to close, as net/http's
			// server does, rather than stop serving for good.
			wait = min(max(2*wait, 5*time.Millisecond), time.Second)
			time.Sleep(wait)
			continue
		}
		wait = 0
		i, ok := hostIndex(c.LocalAddr(), f.n)
		if !ok { // the wildcard listener answers only the fleet's addresses
			c.Close()
			continue
		}
		go f.handle(c, fmt.Sprintf("sim%d", i), host.AllArchs()[i%6])
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
