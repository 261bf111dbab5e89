package imagefetch

import (
	"fmt"
	"net/netip"
	"strings"
)

// Policy decides which addresses a fetch may connect to: public unicast
// addresses only, unless an operator allow-list (IMAGEGEN_FETCH_ALLOW)
// names the prefix. It is applied to the address actually dialed, after
// name resolution, so a name that resolves (or re-resolves: DNS rebinding)
// to an internal address is refused as well as a literal one.
type Policy struct {
	// Allow lists prefixes that may be reached although they are not public
	// (a loopback test server, an internal image host). IPv4 prefixes also
	// match the IPv4-mapped IPv6 form of their addresses.
	Allow []netip.Prefix
}

// deniedV4 are the IPv4 ranges of the IANA special-purpose registry that
// are not globally reachable and that netip has no method for (loopback,
// private, link-local, multicast and unspecified are asked of netip).
var deniedV4 = []struct {
	prefix netip.Prefix
	what   string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "a \"this network\" address"},
	{netip.MustParsePrefix("100.64.0.0/10"), "a carrier-grade NAT (shared) address"},
	{netip.MustParsePrefix("192.0.0.0/24"), "an IETF protocol address"},
	{netip.MustParsePrefix("192.0.2.0/24"), "a documentation address"},
	{netip.MustParsePrefix("192.88.99.0/24"), "a 6to4 relay address"},
	{netip.MustParsePrefix("198.18.0.0/15"), "a benchmarking address"},
	{netip.MustParsePrefix("198.51.100.0/24"), "a documentation address"},
	{netip.MustParsePrefix("203.0.113.0/24"), "a documentation address"},
	{netip.MustParsePrefix("240.0.0.0/4"), "a reserved or broadcast address"},
}

// deniedV6 are ranges inside the IPv6 global unicast space (2000::/3) that
// are not ordinary public hosts. Everything outside 2000::/3 is refused
// anyway, except the NAT64 prefixes, whose embedded IPv4 address is judged.
var deniedV6 = []struct {
	prefix netip.Prefix
	what   string
}{
	// IETF protocol assignments: Teredo (2001::/32, which hides an IPv4
	// address), benchmarking, ORCHID, AMT.
	{netip.MustParsePrefix("2001::/23"), "an IETF protocol (Teredo, benchmarking) address"},
	{netip.MustParsePrefix("2001:db8::/32"), "a documentation address"},
	{netip.MustParsePrefix("3fff::/20"), "a documentation address"},
}

var (
	// nat64 are the well-known and local-use NAT64 prefixes (RFC 6052,
	// RFC 8215): the last 32 bits are the IPv4 destination.
	nat64 = []netip.Prefix{netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48")}
	// sixToFour embeds the IPv4 destination in bits 16-47 (RFC 3056).
	sixToFour = netip.MustParsePrefix("2002::/16")
	// globalUnicast is where every public IPv6 host lives (RFC 4291).
	globalUnicast = netip.MustParsePrefix("2000::/3")
	// ipv4Compatible is the deprecated ::a.b.c.d form (RFC 4291 2.5.5.1).
	ipv4Compatible = netip.MustParsePrefix("::/96")
)

// Check returns nil if addr may be dialed, or an error saying what kind of
// address it is ("a loopback address"): words fit for a refusal message,
// without the address itself.
func (p Policy) Check(addr netip.Addr) error {
	// netip.Prefix.Contains never matches an address with a zone.
	addr = addr.WithZone("")
	if !addr.IsValid() {
		return refusal("an invalid address")
	}
	if p.allowed(addr) {
		return nil
	}
	if addr.Is4In6() {
		return p.Check(addr.Unmap())
	}
	if addr.Is4() {
		return checkV4(addr)
	}
	for _, pre := range nat64 {
		if pre.Contains(addr) {
			b := addr.As16()
			return p.embedded(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), "NAT64")
		}
	}
	if sixToFour.Contains(addr) {
		b := addr.As16()
		return p.embedded(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), "6to4")
	}
	switch {
	case addr.IsUnspecified():
		return refusal("the unspecified address")
	case addr.IsLoopback():
		return refusal("a loopback address")
	case ipv4Compatible.Contains(addr):
		return refusal("an IPv4-compatible IPv6 address")
	case addr.IsLinkLocalUnicast():
		return refusal("a link-local address")
	case addr.IsMulticast():
		return refusal("a multicast address")
	case addr.IsPrivate():
		return refusal("a private (unique local) address")
	case !globalUnicast.Contains(addr):
		return refusal("a reserved address")
	}
	for _, d := range deniedV6 {
		if d.prefix.Contains(addr) {
			return refusal(d.what)
		}
	}
	return nil
}

// embedded judges the IPv4 destination a NAT64 or 6to4 address carries.
func (p Policy) embedded(v4 netip.Addr, form string) error {
	if err := p.Check(v4); err != nil {
		return refusal(fmt.Sprintf("a %s form of %s", form, err.(*refused).what))
	}
	return nil
}

func (p Policy) allowed(addr netip.Addr) bool {
	for _, pre := range p.Allow {
		if pre.Contains(addr) {
			return true
		}
	}
	return false
}

func checkV4(addr netip.Addr) error {
	switch {
	case addr.IsUnspecified():
		return refusal("the unspecified address")
	case addr.IsLoopback():
		return refusal("a loopback address")
	case addr.IsPrivate():
		return refusal("a private network address")
	case addr.IsLinkLocalUnicast():
		return refusal("a link-local address (where cloud metadata services live)")
	case addr.IsMulticast():
		return refusal("a multicast address")
	}
	for _, d := range deniedV4 {
		if d.prefix.Contains(addr) {
			return refusal(d.what)
		}
	}
	return nil
}

// refused is the Check error: what kind of address was refused.
type refused struct{ what string }

func (r *refused) Error() string { return "refused destination: " + r.what }

func refusal(what string) error { return &refused{what: what} }

// ParseAllow parses an allow-list: comma-separated CIDR prefixes, or bare
// addresses (a single host). It is the parser of IMAGEGEN_FETCH_ALLOW.
func ParseAllow(entries []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if strings.Contains(e, "/") {
			pre, err := netip.ParsePrefix(e)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR prefix (e.g. 10.0.0.0/8 or fd00::/8)", e)
			}
			if pre.Addr().Zone() != "" {
				return nil, fmt.Errorf("%q: a prefix cannot carry a zone", e)
			}
			// Masked: 10.1.2.3/8 means 10.0.0.0/8, as the operator meant.
			out = append(out, pre.Masked())
			continue
		}
		addr, err := netip.ParseAddr(e)
		if err != nil || addr.Zone() != "" {
			return nil, fmt.Errorf("%q is neither a CIDR prefix nor an IP address", e)
		}
		out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
	}
	return out, nil
}
