package labkit

import (
	"encoding/binary"
	"fmt"
	"net/netip"
)

// The lab's Fan-style overlay: each host's Docker engine puts its
// containers on a subnet of the overlay derived from the host's underlay
// address the way Ubuntu's Fan maps them (the address's host bits follow
// the overlay's prefix: overlay 250.0.0.0/8 over underlay 10.213.0.0/24
// gives 10.213.0.12 the subnet 250.12.0.0/16), and each host routes the
// other hosts' subnets to them over the lab bridge, without NAT: a
// container on one host reaches a container on another at its own
// address. Traffic from the overlay to anything else (the package proxy)
// is masqueraded to the host's address as before, and the isolation table
// still keeps all of it on the machine.

// DefaultOverlay is the Fan's default overlay.
const DefaultOverlay = "250.0.0.0/8"

// FanSubnet is the overlay subnet of the host at addr on underlay.
func FanSubnet(overlay, underlay netip.Prefix, addr netip.Addr) (netip.Prefix, error) {
	hostBits := 32 - underlay.Bits()
	bits := overlay.Bits() + hostBits
	if !overlay.Addr().Is4() || !addr.Is4() || !underlay.Contains(addr) {
		return netip.Prefix{}, fmt.Errorf("overlay %s, underlay %s, host %s: IPv4 only, and the host on the underlay", overlay, underlay, addr)
	}
	if bits > 30 {
		return netip.Prefix{}, fmt.Errorf("overlay %s over underlay %s leaves no room for containers: the overlay's prefix plus the underlay's %d host bits must be /30 or shorter", overlay, underlay, hostBits)
	}
	a4, o4 := addr.As4(), overlay.Masked().Addr().As4()
	hostPart := binary.BigEndian.Uint32(a4[:]) & (1<<hostBits - 1)
	var subnet [4]byte
	binary.BigEndian.PutUint32(subnet[:], binary.BigEndian.Uint32(o4[:])|hostPart<<(32-bits))
	return netip.PrefixFrom(netip.AddrFrom4(subnet), bits), nil
}

// OverlaySubnet is h's subnet of the overlay, for its containers; Validate
// checked that it exists.
func (h Host) OverlaySubnet() netip.Prefix {
	p, _ := FanSubnet(h.lab.Overlay, h.lab.Subnet, h.Address)
	return p
}
