package netprobe

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"everywhere/internal/host"
)

// Probe measures the path to one peer's evnet serve. Zero fields take
// their defaults.
type Probe struct {
	To        string        // the peer: an IPv4 address or a name
	Port      int           // its evnet serve port; DefaultPort if 0
	PingCount int           // ICMP echoes; 3 if 0
	MaxLoss   float64       // percent of echoes that may go unanswered for ping to pass
	LongMiB   int           // size of the long test; 32 if 0
	Duration  time.Duration // of the throughput test; 3 s if 0
	MinMbit   float64       // throughput below this FAILs; at 0 any byte arriving passes
	// Slowdown multiplies the tests' budgets (not the throughput test's
	// length): the step's timeout scale on a host whose inventory or facts
	// say it is emulated, e.g. a whole machine under TCG. 1 if 0.
	Slowdown float64
}

// budget is d scaled by p's Slowdown.
func (p Probe) budget(d time.Duration) time.Duration {
	if p.Slowdown > 0 {
		return time.Duration(float64(d) * p.Slowdown)
	}
	return d
}

// Budgets of the TCP tests: a test that has not finished in its budget
// FAILs. They are generous because either end may run under qemu-user,
// where SHA-256 alone runs at 21-83 MiB/s.
const (
	dialTimeout      = 5 * time.Second
	shortBudget      = 10 * time.Second
	longBudgetBase   = 10 * time.Second
	longBudgetPerMiB = time.Second      // the long test may run as slowly as 1 MiB/s
	drainBudget      = 10 * time.Second // after the throughput test's sending, for the reply
)

// shortSize is the message the short test has echoed.
const shortSize = 1024

// Measure runs the named test, one of host.NetTests.
func (p Probe) Measure(ctx context.Context, test string) host.Measure {
	switch test {
	case host.TestPing:
		return p.Ping(ctx)
	case host.TestShort:
		return p.Short(ctx)
	case host.TestLong:
		return p.Long(ctx)
	case host.TestThroughput:
		return p.Throughput(ctx)
	}
	return host.Measure{Test: test, Detail: "unknown test", Emulated: Emulated()}
}

// Short has 1 KiB of random bytes echoed and compares their SHA-256; its
// value is the round trip in ms, from the first byte sent to the last
// echoed.
func (p Probe) Short(ctx context.Context) host.Measure {
	m := host.Measure{Test: host.TestShort, Unit: "ms", Emulated: Emulated()}
	c, err := p.connect(ctx, modeEcho, p.budget(shortBudget))
	if err != nil {
		m.Detail = err.Error()
		return m
	}
	defer c.close()
	msg := make([]byte, shortSize)
	rand.Read(msg)
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		m.Detail = c.failure("send to", err)
		return m
	}
	if err := c.CloseWrite(); err != nil {
		m.Detail = c.failure("half-close", err)
		return m
	}
	// One byte more than sent tells a server that echoes too much.
	echoed, err := io.ReadAll(io.LimitReader(c, shortSize+1))
	if err != nil {
		m.Detail = c.failure("receive from", err)
		return m
	}
	m.Value = ms(time.Since(start))
	if sha256.Sum256(echoed) != sha256.Sum256(msg) {
		m.Detail = fmt.Sprintf("%d bytes sent, %d echoed, sha256 mismatch", len(msg), len(echoed))
		return m
	}
	m.OK = true
	m.Detail = fmt.Sprintf("%d bytes echoed, sha256 ok", len(echoed))
	return m
}

// Long sends LongMiB of pseudo-random bytes to the server's sink and
// compares the count and SHA-256 it replies; its value is the ms from the
// first byte sent to the reply. The bytes are generated as they are sent,
// never all held.
func (p Probe) Long(ctx context.Context) host.Measure {
	m := host.Measure{Test: host.TestLong, Unit: "ms", Emulated: Emulated()}
	mib := cmp.Or(p.LongMiB, 32)
	c, err := p.connect(ctx, modeSink, p.budget(longBudgetBase+time.Duration(mib)*longBudgetPerMiB))
	if err != nil {
		m.Detail = err.Error()
		return m
	}
	defer c.close()
	var seed [32]byte
	rand.Read(seed[:])
	random := mathrand.NewChaCha8(seed)
	sum := sha256.New()
	buf := make([]byte, 256<<10)
	start := time.Now()
	for left := int64(mib) << 20; left > 0; left -= int64(len(buf)) {
		chunk := buf[:min(left, int64(len(buf)))]
		random.Read(chunk)
		sum.Write(chunk)
		if _, err := c.Write(chunk); err != nil {
			m.Detail = c.failure("send to", err)
			return m
		}
	}
	count, digest, err := c.reply(true)
	if err != nil {
		m.Detail = err.Error()
		return m
	}
	took := time.Since(start)
	m.Value = ms(took)
	rate := fmt.Sprintf("%.1f MiB/s", float64(mib)/took.Seconds())
	if sent := int64(mib) << 20; count != sent {
		m.Detail = fmt.Sprintf("%d MiB sent, %d bytes received, %s", mib, count, rate)
		return m
	}
	if !bytes.Equal(digest, sum.Sum(nil)) {
		m.Detail = fmt.Sprintf("%d MiB, sha256 mismatch, %s", mib, rate)
		return m
	}
	m.OK = true
	m.Detail = fmt.Sprintf("%d MiB, sha256 ok, %s", mib, rate)
	return m
}

// Throughput sends as fast as it can for Duration and divides the bytes
// the server counted by the time until its reply; the value is Mbit/s.
func (p Probe) Throughput(ctx context.Context) host.Measure {
	m := host.Measure{Test: host.TestThroughput, Unit: "Mbit/s", Emulated: Emulated()}
	duration := cmp.Or(p.Duration, 3*time.Second)
	c, err := p.connect(ctx, modeDiscard, duration+p.budget(drainBudget))
	if err != nil {
		m.Detail = err.Error()
		return m
	}
	defer c.close()
	buf := make([]byte, 256<<10)
	rand.Read(buf)
	start := time.Now()
	// The write deadline ends the sending, even in the middle of a write.
	if err := c.SetWriteDeadline(start.Add(duration)); err != nil {
		m.Detail = c.failure("send to", err)
		return m
	}
	for {
		if _, err := c.Write(buf); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && ctx.Err() == nil {
				break
			}
			m.Detail = c.failure("send to", err)
			return m
		}
	}
	count, _, err := c.reply(false)
	if err != nil {
		m.Detail = err.Error()
		return m
	}
	took := time.Since(start)
	m.Value = float64(count) * 8 / took.Seconds() / 1e6
	m.Detail = fmt.Sprintf("%.1f MiB in %.2f s", float64(count)/(1<<20), took.Seconds())
	switch {
	case count == 0:
		m.Detail += ", nothing arrived"
	case m.Value < p.MinMbit:
		m.Detail += fmt.Sprintf(", below the minimum of %g Mbit/s", p.MinMbit)
	default:
		m.OK = true
	}
	return m
}

// testConn is one TCP test's connection, with the test's budget as its
// deadline; the end of the test's context closes it, so that a blocked
// read or write returns at once.
type testConn struct {
	*net.TCPConn
	ctx    context.Context
	addr   string
	budget time.Duration
	stop   func() bool
}

// connect dials the peer and names the mode.
func (p Probe) connect(ctx context.Context, mode string, budget time.Duration) (*testConn, error) {
	addr := net.JoinHostPort(p.To, strconv.Itoa(cmp.Or(p.Port, DefaultPort)))
	dialer := net.Dialer{Timeout: p.budget(dialTimeout)}
	conn, err := dialer.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %s", addr, reason(ctx, err, p.budget(dialTimeout)))
	}
	c := &testConn{TCPConn: conn.(*net.TCPConn), ctx: ctx, addr: addr, budget: budget}
	c.stop = context.AfterFunc(ctx, func() { c.TCPConn.Close() })
	if err := c.SetDeadline(time.Now().Add(budget)); err != nil {
		c.close()
		return nil, errors.New(c.failure("connect", err))
	}
	if _, err := c.Write([]byte(mode + "\n")); err != nil {
		c.close()
		return nil, errors.New(c.failure("send to", err))
	}
	return c, nil
}

func (c *testConn) close() {
	c.stop()
	c.TCPConn.Close()
}

// reply half-closes the connection and reads the server's line: the
// count, and the SHA-256 if withSum.
func (c *testConn) reply(withSum bool) (count int64, sum []byte, err error) {
	if err := c.CloseWrite(); err != nil {
		return 0, nil, errors.New(c.failure("half-close", err))
	}
	line, err := bufio.NewReaderSize(c, maxHeader+64).ReadSlice('\n')
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return 0, nil, errors.New(c.failure("receive from", err))
	}
	fields := strings.Fields(string(line))
	want := 1
	if withSum {
		want = 2
	}
	if len(fields) != want || fields[0] == "ERR" {
		return 0, nil, fmt.Errorf("%s replied %.80q", c.addr, line)
	}
	count, err = strconv.ParseInt(fields[0], 10, 64)
	if err == nil && withSum {
		sum, err = hex.DecodeString(fields[1])
	}
	if err != nil {
		return 0, nil, fmt.Errorf("%s replied %.80q", c.addr, line)
	}
	return count, sum, nil
}

// failure says what went wrong doing what (e.g. "send to") with the peer.
func (c *testConn) failure(doing string, err error) string {
	return fmt.Sprintf("%s %s: %s", doing, c.addr, reason(c.ctx, err, c.budget))
}

// reason is why err happened, in words: the context's end, the time limit
// that passed, or the system's error ("connection refused") without the
// layers of Go's net errors.
func reason(ctx context.Context, err error, limit time.Duration) string {
	if ctx.Err() != nil {
		return ctx.Err().Error()
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fmt.Sprintf("timed out after %s", limit)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "closed by the peer"
	}
	return err.Error()
}

// ms is d in milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
