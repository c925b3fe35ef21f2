package netprobe

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"

	"everywhere/internal/host"
)

// As ping(8) does by default, but faster: a probe waits for every pair.
const (
	pingInterval = 200 * time.Millisecond
	pingTimeout  = time.Second // for each reply
)

// Ping sends PingCount ICMP echo requests, one every pingInterval, and
// gives each pingTimeout for its reply; the value is the mean round trip
// in ms. It passes when at most MaxLoss percent went unanswered.
func (p Probe) Ping(ctx context.Context) host.Measure {
	m := host.Measure{Test: host.TestPing, Unit: "ms", Emulated: Emulated()}
	count := cmp.Or(p.PingCount, 3)
	dst, err := resolve4(ctx, p.To)
	if err != nil {
		m.Detail = fmt.Sprintf("ping %s: %s", p.To, err)
		return m
	}
	sock, err := openICMP()
	if err != nil {
		m.Detail = fmt.Sprintf("ping %s: %s", dst, err)
		return m
	}
	defer sock.conn.Close()
	stop := context.AfterFunc(ctx, func() { sock.conn.Close() })
	defer stop()

	// A raw socket sees every ICMP packet of its network namespace: the ID
	// and a random payload pick out this probe's replies.
	var id [2]byte
	token := make([]byte, 16)
	rand.Read(id[:])
	rand.Read(token)
	var rtts []time.Duration
	for seq := range count {
		sent := time.Now()
		rtt, answered, err := sock.echo(dst, int(id[0])<<8|int(id[1]), seq&0xffff, token)
		if err != nil {
			m.Detail = fmt.Sprintf("ping %s: %s", dst, reason(ctx, err, pingTimeout))
			return m
		}
		if answered {
			rtts = append(rtts, rtt)
		}
		if seq < count-1 {
			select {
			case <-time.After(time.Until(sent.Add(pingInterval))):
			case <-ctx.Done():
				m.Detail = fmt.Sprintf("ping %s: %s", dst, ctx.Err())
				return m
			}
		}
	}

	loss := float64(count-len(rtts)) * 100 / float64(count)
	m.OK = loss <= p.MaxLoss
	m.Detail = fmt.Sprintf("%d/%d replies, %.0f%% loss", len(rtts), count, loss)
	if !m.OK {
		m.Detail += fmt.Sprintf(", more than the %g%% allowed", p.MaxLoss)
	}
	if len(rtts) > 0 {
		var total time.Duration
		for _, rtt := range rtts {
			total += rtt
		}
		mean := total / time.Duration(len(rtts))
		m.Value = ms(mean)
		m.Detail += fmt.Sprintf(", rtt min/avg/max %.2f/%.2f/%.2f ms", ms(slices.Min(rtts)), m.Value, ms(slices.Max(rtts)))
	}
	if !sock.privileged {
		m.Detail += " (unprivileged ICMP socket)"
	}
	return m
}

// resolve4 returns the IPv4 address of name, which may be one already.
func resolve4(ctx context.Context, name string) (netip.Addr, error) {
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", name)
	if err != nil {
		return netip.Addr{}, err
	}
	return addrs[0].Unmap(), nil
}

// icmpSocket sends echo requests and reads the replies: a raw socket
// (privileged: root with CAP_NET_RAW, as in a Docker container), or
// Linux's unprivileged ping socket, which the kernel gives its own ID.
type icmpSocket struct {
	conn       *icmp.PacketConn
	privileged bool
}

// openICMP opens a raw socket, or else an unprivileged one; failing both,
// it says why each failed.
func openICMP() (icmpSocket, error) {
	conn, rawErr := icmp.ListenPacket("ip4:icmp", "0.0.0.0")
	if rawErr == nil {
		return icmpSocket{conn: conn, privileged: true}, nil
	}
	conn, udpErr := icmp.ListenPacket("udp4", "0.0.0.0")
	if udpErr == nil {
		return icmpSocket{conn: conn}, nil
	}
	// The unprivileged socket is open to the groups in this range.
	groups, err := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	rangeNote := ""
	if err == nil {
		rangeNote = fmt.Sprintf(" (net.ipv4.ping_group_range is %q, this process's group %d)", strings.Join(strings.Fields(string(groups)), " "), os.Getgid())
	}
	return icmpSocket{}, fmt.Errorf("no ICMP socket: raw: %v (needs CAP_NET_RAW); unprivileged: %v%s", syscallCause(rawErr), syscallCause(udpErr), rangeNote)
}

// syscallCause is the system's error inside err ("operation not permitted"), if any.
func syscallCause(err error) error {
	var sysErr *os.SyscallError
	if errors.As(err, &sysErr) {
		return sysErr.Err
	}
	return err
}

// echo sends one echo request and waits pingTimeout for its reply:
// answered false when none came.
func (s icmpSocket) echo(dst netip.Addr, id, seq int, token []byte) (rtt time.Duration, answered bool, err error) {
	request, err := (&icmp.Message{
		Type: ipv4.ICMPTypeEcho,
		Body: &icmp.Echo{ID: id, Seq: seq, Data: token},
	}).Marshal(nil)
	if err != nil {
		return 0, false, err
	}
	var to net.Addr = &net.UDPAddr{IP: dst.AsSlice()}
	if s.privileged {
		to = &net.IPAddr{IP: dst.AsSlice()}
	}
	sent := time.Now()
	if _, err := s.conn.WriteTo(request, to); err != nil {
		return 0, false, err
	}
	if err := s.conn.SetReadDeadline(sent.Add(pingTimeout)); err != nil {
		return 0, false, err
	}
	buf := make([]byte, 1500)
	for {
		n, _, err := s.conn.ReadFrom(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, false, nil
		}
		if err != nil {
			return 0, false, err
		}
		reply, err := icmp.ParseMessage(ipv4.ICMPTypeEcho.Protocol(), buf[:n])
		if err != nil || reply.Type != ipv4.ICMPTypeEchoReply {
			continue
		}
		body, ok := reply.Body.(*icmp.Echo)
		if ok && body.Seq == seq && bytes.Equal(body.Data, token) && (body.ID == id || !s.privileged) {
			return time.Since(sent), true, nil
		}
	}
}
