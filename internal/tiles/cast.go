package tiles

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"
	"unicode/utf8"
)

// Cast records what is written to the terminal as an asciicast v2 file
// (asciinema's format): a header line, then one [seconds, "o", text] line
// per write and [seconds, "r", "WxH"] per resize. `asciinema play` replays
// it.
type Cast struct {
	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	start time.Time
	held  []byte // the start of a character split between two writes
	err   error
}

type castHeader struct {
	Version   int               `json:"version"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	Timestamp int64             `json:"timestamp"`
	Title     string            `json:"title,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
}

// CreateCast starts a recording of a width × height terminal in file.
func CreateCast(file string, width, height int, title string) (*Cast, error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	c := &Cast{f: f, w: bufio.NewWriter(f), start: time.Now()}
	hdr, _ := json.Marshal(castHeader{Version: 2, Width: width, Height: height, Timestamp: c.start.Unix(), Title: title,
		Env: map[string]string{"TERM": os.Getenv("TERM")}})
	c.w.Write(append(hdr, '\n'))
	return c, nil
}

// Output records a write to the terminal.
func (c *Cast) Output(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data := append(c.held, p...)
	// JSON strings are UTF-8: a character cut by the write waits for its end.
	keep := len(data)
	for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				keep = i
			}
			break
		}
	}
	c.held = append([]byte(nil), data[keep:]...)
	if keep > 0 {
		c.event("o", string(data[:keep]))
	}
}

// Resize records the terminal's new size.
func (c *Cast) Resize(width, height int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.event("r", fmt.Sprintf("%dx%d", width, height))
}

func (c *Cast) event(kind, data string) {
	line, _ := json.Marshal([]any{time.Since(c.start).Seconds(), kind, data})
	if _, err := c.w.Write(append(line, '\n')); err != nil && c.err == nil {
		c.err = err
	}
}

// Close ends the recording.
func (c *Cast) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.held) > 0 {
		c.event("o", string(c.held))
	}
	err := c.w.Flush()
	if closeErr := c.f.Close(); err == nil {
		err = closeErr
	}
	if c.err != nil {
		err = c.err
	}
	if err != nil {
		return fmt.Errorf("--record %s: %w", c.f.Name(), err)
	}
	return nil
}
