package server

import (
	"net/netip"
	"strings"
	"testing"
)

func TestClientAddr(t *testing.T) {
	prefixes := func(s ...string) []netip.Prefix {
		var ps []netip.Prefix
		for _, p := range s {
			ps = append(ps, netip.MustParsePrefix(p))
		}
		return normalPrefixes(ps)
	}
	lb := prefixes("10.0.0.0/8", "2001:db8:1::/48")
	for _, tc := range []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies, no header", "192.0.2.1:4711", nil, nil, "192.0.2.1"},
		{"no proxies, the header ignored", "192.0.2.1:4711", []string{"203.0.113.9"}, nil, "192.0.2.1"},
		{"spoofed by a peer outside the prefixes", "192.0.2.1:4711", []string{"203.0.113.9"}, lb, "192.0.2.1"},
		{"spoofed, mapped peer outside", "[::ffff:192.0.2.1]:4711", []string{"10.0.0.1"}, lb, "192.0.2.1"},
		{"one proxy", "10.0.0.2:4711", []string{"203.0.113.9"}, lb, "203.0.113.9"},
		{"trusted peer, no header", "10.0.0.2:4711", nil, lb, "10.0.0.2"},
		{"trusted peer, empty header", "10.0.0.2:4711", []string{""}, lb, "10.0.0.2"},
		{"forged left of the client", "10.0.0.2:4711", []string{"198.51.100.1, 203.0.113.9"}, lb, "203.0.113.9"},
		{"several trusted hops", "10.0.0.2:4711", []string{"198.51.100.1, 203.0.113.9, 10.1.1.1, 10.2.2.2"}, lb, "203.0.113.9"},
		{"hops over header lines", "10.0.0.2:4711", []string{"198.51.100.1, 203.0.113.9", "10.1.1.1", "10.2.2.2,10.3.3.3"}, lb, "203.0.113.9"},
		{"all trusted: the leftmost", "10.0.0.2:4711", []string{"10.9.9.9, 10.1.1.1", "10.2.2.2"}, lb, "10.9.9.9"},
		{"garbage ends the walk at the last address", "10.0.0.2:4711", []string{"203.0.113.9, unknown, 10.1.1.1"}, lb, "10.1.1.1"},
		{"garbage at the right: the peer", "10.0.0.2:4711", []string{"203.0.113.9, not-an-ip"}, lb, "10.0.0.2"},
		{"garbage left of the client does not matter", "10.0.0.2:4711", []string{"<script>, 203.0.113.9"}, lb, "203.0.113.9"},
		{"an obfuscated identifier", "10.0.0.2:4711", []string{"_hidden"}, lb, "10.0.0.2"},
		{"a CIDR is not an address", "10.0.0.2:4711", []string{"203.0.113.0/24"}, lb, "10.0.0.2"},
		{"empty entries skipped", "10.0.0.2:4711", []string{"203.0.113.9,, ,10.1.1.1,"}, lb, "203.0.113.9"},
		{"ip:port", "10.0.0.2:4711", []string{"203.0.113.9:5555, 10.1.1.1:80"}, lb, "203.0.113.9"},
		{"IPv6 peer and client", "[2001:db8:1::5]:4711", []string{"2001:db8:2::9"}, lb, "2001:db8:2::9"},
		{"bracketed IPv6", "10.0.0.2:4711", []string{"[2001:db8:2::9]"}, lb, "2001:db8:2::9"},
		{"bracketed IPv6 with a port", "10.0.0.2:4711", []string{"[2001:DB8:2::9]:443, [2001:db8:1::7]:80"}, lb, "2001:db8:2::9"},
		{"IPv6 spoofed from outside", "[2001:db8:2::1]:4711", []string{"2001:db8:3::1"}, lb, "2001:db8:2::1"},
		{"mapped IPv4 client", "10.0.0.2:4711", []string{"::ffff:203.0.113.9"}, lb, "203.0.113.9"},
		{"mapped IPv4 proxy skipped", "[::ffff:10.0.0.2]:4711", []string{"203.0.113.9, ::ffff:10.1.1.1"}, lb, "203.0.113.9"},
		{"mapped IPv4 peer, no proxies", "[::ffff:192.0.2.1]:4711", nil, nil, "192.0.2.1"},
		{"a mapped prefix trusts IPv4", "10.0.0.2:4711", []string{"203.0.113.9"}, prefixes("::ffff:10.0.0.0/104"), "203.0.113.9"},
		{"a zone is dropped", "[fe80::1%eth0]:4711", []string{"fe80::2%eth1"}, prefixes("fe80::/10"), "fe80::2"},
		{"zoned peer, no proxies", "[fe80::1%eth0]:4711", nil, nil, "fe80::1%eth0"},
		{"a bare /32", "10.0.0.2:4711", []string{"203.0.113.9"}, prefixes("10.0.0.2/32"), "203.0.113.9"},
		{"outside a bare /32", "10.0.0.3:4711", []string{"203.0.113.9"}, prefixes("10.0.0.2/32"), "10.0.0.3"},
		{"no port", "192.0.2.1", nil, nil, "192.0.2.1"},
		{"not an address", "pipe", []string{"203.0.113.9"}, lb, "pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := clientAddr(tc.peer, tc.xff, tc.trusted); got != tc.want {
				t.Errorf("clientAddr(%q, %q) = %q, want %q", tc.peer, tc.xff, got, tc.want)
			}
		})
	}
}

// Without trusted proxies, or from a peer outside them, the client IP
// costs no allocation.
func TestClientAddrAllocs(t *testing.T) {
	xff := []string{"203.0.113.9"}
	lb := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, peer := range []string{"192.0.2.1:4711", "[2001:db8::1]:4711"} {
		for _, trusted := range [][]netip.Prefix{nil, lb} {
			if n := testing.AllocsPerRun(100, func() { clientAddr(peer, xff, trusted) }); n != 0 {
				t.Errorf("clientAddr(%s, %v): %v allocations", peer, trusted, n)
			}
		}
	}
}

func TestNormalPrefixes(t *testing.T) {
	got := normalPrefixes([]netip.Prefix{
		netip.MustParsePrefix("10.1.2.3/8"),
		netip.MustParsePrefix("::ffff:192.168.0.0/112"),
		netip.MustParsePrefix("2001:db8::1/32"),
		{},
	})
	var s []string
	for _, p := range got {
		s = append(s, p.String())
	}
	if want := "10.0.0.0/8 192.168.0.0/16 2001:db8::/32"; strings.Join(s, " ") != want {
		t.Errorf("normalPrefixes = %v, want %s", s, want)
	}
}
