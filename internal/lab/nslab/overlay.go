package nslab

import (
	"context"
	"fmt"
	"net/netip"

	"everywhere/internal/lab/labkit"
)

// dockerBridgeIP is the address of h's docker0 on its overlay subnet, the
// form dockerd's --bip takes.
func dockerBridgeIP(h labkit.Host) string {
	p := h.OverlaySubnet()
	return netip.PrefixFrom(p.Addr().Next(), p.Bits()).String()
}

// routeOverlay has h forward and route every other host's overlay subnet
// to that host's underlay address.
func routeOverlay(ctx context.Context, h labkit.Host) error {
	if err := labkit.Command(ctx, "ip", "netns", "exec", netns(h), "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"); err != nil {
		return fmt.Errorf("overlay: %w", err)
	}
	for _, other := range h.Lab().Hosts() {
		if other.Name == h.Name {
			continue
		}
		if err := labkit.Command(ctx, "ip", "-n", netns(h), "route", "replace", other.OverlaySubnet().String(), "via", other.Address.String(), "dev", "eth0"); err != nil {
			return fmt.Errorf("overlay route to %s: %w", other.Name, err)
		}
	}
	return nil
}

// openOverlay, once h's dockerd made its rules, lets overlay traffic
// through them: forwarded between hosts' containers (Docker forwards only
// what its containers start or publish) and not masqueraded (Docker
// masquerades everything its bridge sends out).
func openOverlay(ctx context.Context, h labkit.Host) error {
	overlay, own := h.Lab().Overlay.Masked().String(), h.OverlaySubnet().String()
	for _, rule := range [][]string{
		{"-I", "DOCKER-USER", "-s", overlay, "-d", overlay, "-j", "ACCEPT"},
		{"-t", "nat", "-I", "POSTROUTING", "-s", own, "-d", overlay, "-j", "RETURN"},
	} {
		if err := labkit.Command(ctx, "nsenter", append([]string{"--net=/run/netns/" + netns(h), "--", "iptables", "-w"}, rule...)...); err != nil {
			return fmt.Errorf("overlay rule: %w", err)
		}
	}
	return nil
}
