package tiles

import (
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"everywhere/internal/result"
)

// frames counts what the renderer writes: a frame is one write.
type frames struct{ writes, bytes atomic.Int64 }

func (f *frames) Write(p []byte) (int, error) {
	f.writes.Add(1)
	f.bytes.Add(int64(len(p)))
	return len(p), nil
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLive200 runs the view as `run --tiles` does, on a 200×50
// terminal, while 200 hosts stream output as fast as the runner lets them
// (an Output event per host every 50ms, a line or two each): one op is one
// second of that. It reports the CPU the whole process spent (the view,
// bubbletea's renderer, the feeding and the GC) as a share of one core,
// and the frames drawn a second.
func BenchmarkLive200(b *testing.B) {
	const n = 200
	m := New(hosts(n), Options{Title: "bench", Steps: 3})
	out := &frames{}
	p := tea.NewProgram(m, tea.WithOutput(out), tea.WithInput(nil), tea.WithWindowSize(200, 50), tea.WithoutSignalHandler(), tea.WithFPS(FPS))
	s := &Screen{program: p, done: make(chan struct{})}
	go func() { _, s.err = p.Run(); close(s.done) }()
	events := make(chan result.Event, 1024)
	fed := make(chan struct{})
	go func() { s.Feed(events); close(fed) }()
	for i := range n {
		name := fmt.Sprintf("h%03d", i)
		events <- result.Event{Type: result.Connecting, Host: name, Time: time.Now()}
		events <- result.Event{Type: result.StepStarted, Host: name, Step: "build", Time: time.Now()}
	}
	time.Sleep(200 * time.Millisecond)
	b.ResetTimer()
	startCPU, startWall, startFrames := cpuTime(), time.Now(), out.writes.Load()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	line := 0
	for range b.N {
		for range 20 { // one second
			<-tick.C
			for i := range n {
				line++
				events <- result.Event{Type: result.Output, Host: fmt.Sprintf("h%03d", i), Time: time.Now(),
					Data: fmt.Sprintf("compiling unit %d of the build\tok\n[%d%%] linking\r", line, line%100)}
			}
		}
	}
	wall := time.Since(startWall)
	cpu := cpuTime() - startCPU
	drawn := out.writes.Load() - startFrames
	b.StopTimer()
	close(events)
	<-fed
	p.Quit()
	<-s.done
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
	b.ReportMetric(float64(drawn)/wall.Seconds(), "frames/s")
	b.ReportMetric(float64(n*20), "events/s")
}

// BenchmarkRender is one frame's work without bubbletea: a batch of a
// frame's events (200 hosts, 2/3 of them with a new chunk) and the screen
// drawn, 200×50.
func BenchmarkRender(b *testing.B) {
	const n = 200
	m := New(hosts(n), Options{Title: "bench", Steps: 3})
	sized(m, 200, 50)
	for i := range n {
		at(m, result.Event{Type: result.Connecting, Host: fmt.Sprintf("h%03d", i)}, result.Event{Type: result.StepStarted, Host: fmt.Sprintf("h%03d", i), Step: "build"})
	}
	batch := make(EventsMsg, 0, n)
	for i := range n * 2 / 3 {
		batch = append(batch, result.Event{Type: result.Output, Host: fmt.Sprintf("h%03d", i), Data: "compiling unit 42 of the build\tok\n"})
	}
	b.ResetTimer()
	for range b.N {
		m.Update(batch)
		_ = m.View()
	}
}
