package labkit

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"everywhere/internal/host"
)

func TestHostsAddresses(t *testing.T) {
	c := Config{Archs: []host.Arch{host.S390X, host.ArmHF}}.WithDefaults()
	got := c.Hosts()
	if len(got) != 2 || got[0].Name != "armhf" || got[0].Address.String() != "10.213.0.11" || got[1].Address.String() != "10.213.0.16" {
		t.Errorf("got %+v", got)
	}
	if err := (Config{Subnet: netip.MustParsePrefix("8.8.8.0/24"), Prefix: "ew"}).WithDefaults().Validate(); err == nil {
		t.Error("a public subnet was accepted")
	}
}

func TestLockFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "x.lock")
	unlock, err := lockFile(context.Background(), file, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lockFile(context.Background(), file, false); err != errLocked {
		t.Errorf("second lock without waiting: %v, want errLocked", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if _, err := lockFile(ctx, file, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting lock while held: %v", err)
	}
	unlock()
	again, err := lockFile(context.Background(), file, true)
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	again()
}

func TestValidateSuites(t *testing.T) {
	tests := []struct {
		suites []string
		prefix string
		err    string
	}{
		{[]string{"bookworm", "trixie", "sid"}, "ew", ""},
		{[]string{"bookworm", "trixie"}, "abcde", ""},
		{[]string{"bookworm", ""}, "ew", `suite ""`},
		{[]string{"bookworm", "../etc"}, "ew", `suite "../etc"`},
		{[]string{"Trixie"}, "ew", `suite "Trixie"`},
		{[]string{"trixie", "trixie"}, "ew", "twice"},
		{strings.Fields("a b c d e f g h i j"), "ew", "at most 9"},
		// Interface names are cut to 15 characters: these two would collide.
		{[]string{"bookworm", "bookwormy"}, "ew", "use a shorter prefix"},
	}
	for _, tt := range tests {
		err := Config{Suites: tt.suites, Prefix: tt.prefix}.WithDefaults().Validate()
		if tt.err == "" && err != nil || tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("suites %q prefix %s: %v, want %q", tt.suites, tt.prefix, err, tt.err)
		}
	}
}

// A lab brought up before several suites existed saved only "suite": lab
// down and status must still find its hosts by their old names; a lab of
// several suites saves them all and is read back as it was.
func TestLoadSavedSuites(t *testing.T) {
	dir := t.TempDir()
	old := `{"dir": "` + dir + `", "archs": ["amd64"], "subnet": "10.213.20.0/24", "prefix": "es", "suite": "trixie", "machines": "ns"}`
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h := c.Hosts(); len(h) != 1 || h[0].Name != "amd64" || h[0].Suite != "trixie" || h[0].Address.String() != "10.213.20.14" {
		t.Errorf("old lab: %+v", h)
	}

	c.Suites = []string{"bookworm", "trixie"}
	c.Suite = ""
	if err := c.WithDefaults().Save(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	var saved struct {
		Suite  string   `json:"suite"`
		Suites []string `json:"suites"`
	}
	if err := json.Unmarshal(data, &saved); err != nil || saved.Suite != "bookworm" || strings.Join(saved.Suites, ",") != "bookworm,trixie" {
		t.Errorf("saved %s: %+v %v", data, saved, err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, h := range back.Hosts() {
		names = append(names, h.Name)
	}
	if strings.Join(names, " ") != "amd64-bookworm amd64-trixie" {
		t.Errorf("read back: hosts %q", names)
	}
}
