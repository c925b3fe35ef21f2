package plan

import (
	"fmt"
	"time"

	"everywhere/internal/inventory"
	"everywhere/internal/yamlfile"
)

// MaxRetries bounds a step's retries: more is a loop, not a retry.
const MaxRetries = 10

// TimeoutScale multiplies a step's time limit, and the bound on a host's
// cleanup, on the hosts it matches, so that one plan fits native and
// emulated hosts. Zero factors do not apply.
type TimeoutScale struct {
	// Emulated applies where the host's facts say it runs under emulation
	// (qemu-user, or qemu without KVM).
	Emulated float64 `yaml:"emulated"`
}

func (s TimeoutScale) check() error {
	if s.Emulated < 0 {
		return fmt.Errorf("emulated: %v is not a factor (such as 4)", s.Emulated)
	}
	return nil
}

// TimeoutScaleBlock is a host's `timeout_scale:` in an inventory (or its
// defaults), which overrides the plan's.
var TimeoutScaleBlock = inventory.NewBlock("timeout_scale", func(src inventory.BlockSource) (*TimeoutScale, error) {
	if src.Node == nil {
		return nil, nil
	}
	var s TimeoutScale
	if err := src.Decode(&s); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, yamlfile.Errorf(src.File, src.Node, "%s: %v", src.Where, err)
	}
	return &s, nil
})

// Scaled is a step's time limit on host h: limit, times the factor of the
// host's inventory timeout_scale, else the plan's, that applies to a host
// emulated or not; and that factor (1 when none applies).
func (p *Plan) Scaled(limit time.Duration, h inventory.Host, emulated bool) (time.Duration, float64) {
	scale := p.TimeoutScale
	if s := TimeoutScaleBlock.Of(h); s != nil {
		scale = *s
	}
	if emulated && scale.Emulated > 0 {
		return time.Duration(float64(limit) * scale.Emulated), scale.Emulated
	}
	return limit, 1
}
