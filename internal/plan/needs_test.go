package plan

import (
	"everywhere/internal/drivers"
	"slices"
	"testing"
	"time"

	"everywhere/internal/inventory"
)

func TestWithNeeds(t *testing.T) {
	p, err := Parse("plan.yaml", []byte(`
steps:
  - {name: launch, lxd.launch: {image: "debian/bookworm/{arch}"}}
  - {name: gate, shell: "true", critical: true}
  - {name: push, shell: "echo > /tmp/x"}
  - {name: kernel, shell: uname -a, retries: 2}
  - {name: use, shell: cat /tmp/x, needs: [push]}
  - {name: inside, lxd.exec: {cmd: [uname, -m]}}
`), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ failed, want []string }{
		{[]string{"kernel"}, []string{"gate", "kernel"}},
		{[]string{"use"}, []string{"gate", "push", "use"}},
		{[]string{"inside"}, []string{"launch", "gate", "inside"}},
		{[]string{"launch"}, []string{"launch"}},
		{nil, nil},
	} {
		if got := p.WithNeeds(tt.failed); !slices.Equal(got, tt.want) {
			t.Errorf("WithNeeds(%v) = %v, want %v", tt.failed, got, tt.want)
		}
	}
	if p.Steps[3].Retries != 2 || p.Steps[0].Retries != -1 {
		t.Errorf("retries: %d, %d; want 2 and -1 (unset)", p.Steps[3].Retries, p.Steps[0].Retries)
	}
}

func TestScaled(t *testing.T) {
	p, err := Parse("plan.yaml", []byte("timeout_scale: {emulated: 4}\nsteps: [{shell: ls}]\n"), drivers.All())
	if err != nil {
		t.Fatal(err)
	}
	inv, err := inventory.Parse("inv.yaml", []byte(`
hosts:
  - {name: a, address: 127.0.0.1, arch: amd64}
  - {name: b, address: 127.0.0.1, arch: s390x, timeout_scale: {emulated: 10}}
`), inventory.Options{Blocks: []inventory.BlockDecoder{TimeoutScaleBlock}})
	if err != nil {
		t.Fatal(err)
	}
	a, b := inv.Hosts[0], inv.Hosts[1]
	for _, tt := range []struct {
		host     inventory.Host
		emulated bool
		want     time.Duration
	}{{a, false, time.Minute}, {a, true, 4 * time.Minute}, {b, true, 10 * time.Minute}, {b, false, time.Minute}} {
		if got, _ := p.Scaled(time.Minute, tt.host, tt.emulated); got != tt.want {
			t.Errorf("host %s emulated %v: %v, want %v", tt.host.Name, tt.emulated, got, tt.want)
		}
	}
	if _, err := inventory.ParseInventory("inv.yaml", []byte("hosts:\n  - {name: c, address: h, timeout_scale: {emulated: -1}}\n")); err == nil {
		t.Error("a negative factor in an inventory was taken")
	}
}
