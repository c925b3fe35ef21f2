package tiles

import (
	"os"
	"time"

	tea "charm.land/bubbletea/v2"
	"golang.org/x/term"

	"everywhere/internal/result"
)

// FPS bounds the redraws: events are handed to the view in batches this
// often, and bubbletea's renderer draws at most this many frames a second.
const FPS = 30

// Screen is the view running on a terminal: bubbletea's program, whose
// goroutine is the one that updates the model and writes the terminal.
type Screen struct {
	program *tea.Program
	cast    *Cast
	done    chan struct{}
	err     error
}

// Usable says whether the view can take f over: a terminal.
func Usable(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// Start shows m full screen on out (a terminal: see Usable), keys read
// from stdin or else the controlling terminal, and records what is drawn
// to record (asciicast v2) unless that is "".
func Start(out *os.File, m *Model, record string) (*Screen, error) {
	s := &Screen{done: make(chan struct{})}
	var output interface {
		Read([]byte) (int, error)
		Write([]byte) (int, error)
		Close() error
		Fd() uintptr
	} = out
	if record != "" {
		w, h, err := term.GetSize(int(out.Fd()))
		if err != nil {
			w, h = 80, 24
		}
		if s.cast, err = CreateCast(record, w, h, "everywhere "+m.title); err != nil {
			return nil, err
		}
		m.record = s.cast.Resize
		output = recorded{out, s.cast}
	}
	// Without bubbletea's signal handler: SIGTERM and SIGHUP stay the
	// command's own (cleanup runs), and Ctrl-C, a key on a raw terminal,
	// is the model's to pass on.
	s.program = tea.NewProgram(m, tea.WithOutput(output), tea.WithoutSignalHandler(), tea.WithFPS(FPS))
	go func() {
		_, s.err = s.program.Run()
		close(s.done)
	}()
	return s, nil
}

// recorded is the terminal, each write also recorded.
type recorded struct {
	*os.File
	cast *Cast
}

func (r recorded) Write(p []byte) (int, error) {
	n, err := r.File.Write(p)
	r.cast.Output(p[:n])
	return n, err
}

// Feed hands the runner's events to the view, FPS batches a second at
// most, until events is closed. It drains events at once whatever the
// view does, so the runner never waits on the terminal.
func (s *Screen) Feed(events <-chan result.Event) {
	tick := time.NewTicker(time.Second / FPS)
	defer tick.Stop()
	var batch EventsMsg
	for {
		select {
		case e, ok := <-events:
			if !ok {
				if len(batch) > 0 {
					s.program.Send(batch)
				}
				return
			}
			batch = append(batch, e)
		case <-tick.C:
			if len(batch) > 0 {
				s.program.Send(batch)
				batch = nil
			}
		}
	}
}

// Release gives the terminal back as it was, for a process about to end
// without the view's say (a third Ctrl-C).
func (s *Screen) Release() error { return s.program.ReleaseTerminal() }

// Send gives the view a message (it is dropped once the view has ended).
func (s *Screen) Send(msg tea.Msg) { s.program.Send(msg) }

// Done is closed when the view has ended (a key after the run, :quit).
func (s *Screen) Done() <-chan struct{} { return s.done }

// Wait waits for the view to end, the terminal restored, and ends the
// recording.
func (s *Screen) Wait() error {
	<-s.done
	err := s.err
	if s.cast != nil {
		if cerr := s.cast.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
