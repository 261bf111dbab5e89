package imagefetch

import (
	"net/netip"
	"strings"
	"testing"
)

func TestPolicyRefusesEveryNonPublicRange(t *testing.T) {
	for _, tc := range []struct {
		addr string
		want string // "" = allowed; else a word of the refusal
	}{
		{"93.184.215.14", ""},
		{"8.8.8.8", ""},
		{"1.1.1.1", ""},
		{"2606:4700:4700::1111", ""},
		{"2a00:1450:4001:82b::200e", ""},
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"172.32.0.1", ""},
		{"192.168.1.1", "private"},
		{"169.254.169.254", "link-local"}, // cloud metadata
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "this network"},
		{"::", "unspecified"},
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff05::2", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.255", "carrier-grade NAT"},
		{"100.128.0.1", ""},
		{"fc00::1", "unique local"},
		{"fd12:3456:789a::1", "unique local"},
		{"192.0.2.1", "documentation"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.9", "documentation"},
		{"2001:db8::1", "documentation"},
		{"198.18.0.1", "benchmarking"},
		{"192.0.0.8", "IETF"},
		{"192.88.99.1", "6to4 relay"},
		// IPv4-mapped IPv6 forms are judged as the IPv4 address they carry.
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:169.254.169.254", "link-local"},
		{"::ffff:8.8.8.8", ""},
		// The deprecated IPv4-compatible form.
		{"::127.0.0.1", "IPv4-compatible"},
		{"::8.8.8.8", "IPv4-compatible"},
		// NAT64 (well-known and local-use prefixes) and 6to4 carry an IPv4
		// destination: judged by it, so a DNS64 network can still fetch.
		{"64:ff9b::7f00:1", "NAT64 form of a loopback"},
		{"64:ff9b::a9fe:a9fe", "NAT64 form of a link-local"},
		{"64:ff9b::808:808", ""},
		{"64:ff9b:1::a00:1", "NAT64 form of a private"},
		{"2002:7f00:1::1", "6to4 form of a loopback"},
		{"2002:0808:0808::1", ""},
		{"2001::1", "Teredo"},
		{"100::1", "reserved"},       // discard-only
		{"5f00::1", "reserved"},      // SRv6 SIDs
		{"3fff::1", "documentation"}, // RFC 9637
	} {
		t.Run(tc.addr, func(t *testing.T) {
			err := Policy{}.Check(netip.MustParseAddr(tc.addr))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Check(%s) = %v, want allowed", tc.addr, err)
			case tc.want != "" && err == nil:
				t.Fatalf("Check(%s) allowed it, want refused as %q", tc.addr, tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Check(%s) = %v, want it to say %q", tc.addr, err, tc.want)
			}
		})
	}
}

func TestPolicyAllowListOpensOnlyItsPrefixes(t *testing.T) {
	allow, err := ParseAllow([]string{"127.0.0.1", "10.1.0.0/16", "fd00::/8"})
	if err != nil {
		t.Fatal(err)
	}
	p := Policy{Allow: allow}
	for _, tc := range []struct {
		addr    string
		allowed bool
	}{
		{"127.0.0.1", true},
		{"::ffff:127.0.0.1", true}, // the mapped form of an allowed IPv4 address
		{"127.0.0.2", false},
		{"::1", false},
		{"10.1.200.3", true},
		{"10.2.0.1", false},
		{"169.254.169.254", false},
		{"fd12::1", true},
		{"fc00::1", false},
		{"64:ff9b::a01:1", true}, // NAT64 of 10.1.0.1
	} {
		err := p.Check(netip.MustParseAddr(tc.addr))
		if (err == nil) != tc.allowed {
			t.Errorf("Check(%s) = %v, want allowed=%v", tc.addr, err, tc.allowed)
		}
	}
}

func TestParseAllowAcceptsPrefixesAndAddressesOnly(t *testing.T) {
	got, err := ParseAllow([]string{" 10.1.2.3/8 ", "", "::1", "192.168.0.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "::1/128", "192.168.0.0/24"}
	if len(got) != len(want) {
		t.Fatalf("ParseAllow = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("entry %d = %s, want %s", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "10.0.0", "fe80::1%eth0", "fe80::%eth0/10", "*"} {
		if _, err := ParseAllow([]string{bad}); err == nil {
			t.Errorf("ParseAllow(%q) accepted it", bad)
		}
	}
}
