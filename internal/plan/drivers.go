package plan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"everywhere/internal/driver"
	"everywhere/internal/host"
)

// probeTimeout bounds each driver's probe of a host.
const probeTimeout = 30 * time.Second

// Probes is the plan of `everywhere hosts`: a step per driver that has a
// probe, named after the driver, whose output carries the facts.
func Probes(drivers *driver.Registry) *Plan {
	p := &Plan{Name: "hosts", Timeout: probeTimeout}
	for _, d := range drivers.Drivers() {
		if d.Probe != nil {
			p.Steps = append(p.Steps, Step{Name: d.Name, Kind: d.Name + ".probe", Action: probeAction{d}})
		}
	}
	return p
}

type probeAction struct{ d *driver.Driver }

func (a probeAction) Command() string { return "probe " + a.d.Name }

func (a probeAction) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	facts := a.d.Probe(ctx, t)
	out := host.NewOutputFor(ctx, limit)
	out.Facts = &facts
	return out, nil
}

// Cleaners is the plan of `everywhere clean`: a step per driver that has a
// cleaner, removing what runs that are not live left behind.
func Cleaners(drivers *driver.Registry, live driver.Live) *Plan {
	p := &Plan{Name: "clean"}
	for _, d := range drivers.Drivers() {
		if d.Clean != nil {
			p.Steps = append(p.Steps, Step{Name: d.Name, Kind: d.Name + ".clean", Action: cleanAction{d, live}})
		}
	}
	return p
}

type cleanAction struct {
	d    *driver.Driver
	live driver.Live
}

func (a cleanAction) Command() string {
	return "clean " + a.d.Name + " (what runs no longer running left)"
}

func (a cleanAction) Run(ctx context.Context, t driver.Target, limit int) (*host.Output, error) {
	out, err := a.d.Clean(ctx, t, a.live, limit)
	if errors.Is(err, driver.ErrAbsent) { // an engine that is not there left nothing
		return out, fmt.Errorf("%w: %v", driver.ErrNotApplicable, err)
	}
	return out, err
}
