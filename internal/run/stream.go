package run

import (
	"sync"
	"time"

	"everywhere/internal/result"
)

// A step's output reaches Events while it runs (result.Output), bounded so
// that a live view can never slow a host down: the SSH session's writes
// land in a small per-step buffer (never blocking), a pump sends what is
// there at most every outputEvery without waiting for the viewer, and when
// the viewer falls behind, the buffer keeps the newest outputPending bytes
// and counts the rest as dropped. What a step's result keeps is not
// affected: that is its own capped output.
const (
	outputEvery   = 50 * time.Millisecond
	outputPending = 16 << 10
)

// stream is one running step's output not yet sent: standard output and
// error as they arrived, interleaved as a terminal would show them.
type stream struct {
	mu      sync.Mutex
	event   result.Event // the step's identity, copied into each Output
	pending []byte
	dropped int64 // since the last event sent
	closed  bool
}

// tap is the host.Tap of the step: it only appends, so the writer (the
// session's copy of the remote's output) never waits for the viewer.
func (s *stream) tap(_ bool, p []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return // a killed command's last bytes, after its step ended
	}
	s.pending = append(s.pending, p...)
	if extra := len(s.pending) - outputPending; extra > 0 {
		s.dropped += int64(extra)
		s.pending = append(s.pending[:0], s.pending[extra:]...)
	}
}

// send sends what is pending as one event, with s.mu held: without
// waiting (it stays pending when the viewer is busy) unless wait.
func (s *stream) send(events chan<- result.Event, wait bool) {
	if len(s.pending) == 0 {
		return
	}
	e := s.event
	e.Type, e.Time, e.Data, e.Dropped = result.Output, time.Now(), string(s.pending), s.dropped
	if wait {
		events <- e
	} else {
		select {
		case events <- e:
		default:
			return
		}
	}
	s.pending, s.dropped = s.pending[:0], 0
}

// streams are the running steps' streams of one run, and their pump.
type streams struct {
	events chan<- result.Event
	mu     sync.Mutex
	live   map[*stream]struct{}
	stop   chan struct{}
	done   chan struct{}
}

func startStreams(events chan<- result.Event) *streams {
	ss := &streams{events: events, live: map[*stream]struct{}{}, stop: make(chan struct{}), done: make(chan struct{})}
	go ss.pump()
	return ss
}

func (ss *streams) pump() {
	defer close(ss.done)
	tick := time.NewTicker(outputEvery)
	defer tick.Stop()
	var live []*stream
	for {
		select {
		case <-ss.stop:
			return
		case <-tick.C:
		}
		live = live[:0]
		ss.mu.Lock()
		for s := range ss.live {
			live = append(live, s)
		}
		ss.mu.Unlock()
		for _, s := range live {
			// A step that is ending holds its lock while it hands its
			// last bytes over: skip it rather than wait for its viewer.
			if s.mu.TryLock() {
				s.send(ss.events, false)
				s.mu.Unlock()
			}
		}
	}
}

// open starts the stream of a step that is starting; e names it.
func (ss *streams) open(e result.Event) *stream {
	s := &stream{event: e}
	ss.mu.Lock()
	ss.live[s] = struct{}{}
	ss.mu.Unlock()
	return s
}

// close ends a step's stream and sends what is left, waiting for the
// viewer as StepDone, which follows, does. Late writes are not waited for:
// they are dropped.
func (ss *streams) close(s *stream) {
	ss.mu.Lock()
	delete(ss.live, s)
	ss.mu.Unlock()
	s.mu.Lock()
	s.closed = true
	rest := &stream{event: s.event, pending: s.pending, dropped: s.dropped}
	s.pending = nil
	s.mu.Unlock()
	rest.send(ss.events, true)
}

func (ss *streams) shutdown() {
	close(ss.stop)
	<-ss.done
}
