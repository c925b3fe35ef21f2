package labkit

import (
	"net/netip"
	"strings"
	"testing"
)

func TestFanSubnet(t *testing.T) {
	for _, tc := range []struct{ overlay, underlay, addr, want, err string }{
		{"250.0.0.0/8", "10.213.0.0/24", "10.213.0.12", "250.12.0.0/16", ""},
		{"250.0.0.0/8", "10.213.0.0/16", "10.213.7.12", "250.7.12.0/24", ""}, // the Fan's own example shape
		{"240.0.0.0/12", "192.168.5.0/24", "192.168.5.200", "240.12.128.0/20", ""},
		{"250.0.0.0/8", "10.0.0.0/8", "10.1.2.3", "", "leaves no room"},
		{"250.0.0.0/8", "10.213.0.0/24", "10.214.0.12", "", "on the underlay"},
	} {
		got, err := FanSubnet(netip.MustParsePrefix(tc.overlay), netip.MustParsePrefix(tc.underlay), netip.MustParseAddr(tc.addr))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s over %s, %s: %v, want an error saying %q", tc.overlay, tc.underlay, tc.addr, err, tc.err)
			}
			continue
		}
		if err != nil || got.String() != tc.want {
			t.Errorf("%s over %s, %s: %v %v, want %s", tc.overlay, tc.underlay, tc.addr, got, err, tc.want)
		}
	}
}
