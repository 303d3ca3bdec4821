package server

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// The client IP. It is what the request log, the provisioning log
// (clientIp) and the throttle of failed authentications (authfail.go)
// know a client by: the connection's peer, unless the peer is a reverse
// proxy of Config.TrustedProxies, in which case it is the client the
// proxies name in X-Forwarded-For. A peer outside those prefixes is
// never believed: its X-Forwarded-For would let any client choose its
// own address, and so escape the throttle and forge the logs.
//
// logRequests works it out once a request (requestInfo.clientIP).

// clientIP is the client IP of r (see above).
func (s *Server) clientIP(r *http.Request) string {
	var xff []string
	if len(s.cfg.TrustedProxies) > 0 {
		xff = r.Header.Values("X-Forwarded-For")
	}
	return clientAddr(r.RemoteAddr, xff, s.cfg.TrustedProxies)
}

// clientAddr is the client IP of a request from the peer remoteAddr
// (host:port) with the X-Forwarded-For header lines xff, behind the
// proxies of trusted. When the peer is trusted, the list (the lines
// joined, comma-separated, as RFC 7239 §7.1 describes the de facto
// header) is read from the right, the end each proxy appends its own
// peer to, past the addresses that are trusted too: the first that is
// not is the client. When every address is trusted, the leftmost is.
// An entry that is not an address (a forged or obfuscated one, "unknown")
// ends the walk at the last address read, or the peer. IPv4-mapped IPv6
// addresses read as IPv4.
//
// Without trusted proxies it returns remoteAddr's host, and allocates
// nothing.
func clientAddr(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr // not host:port (set by hand): taken as it is
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if peer.Is4In6() {
		host = peer.Unmap().String()
	}
	peer = peer.Unmap().WithZone("")
	if !trustedAddr(peer, trusted) {
		return host
	}
	best := peer
	for i := len(xff) - 1; i >= 0; i-- {
		rest := xff[i]
		for more := true; more; {
			entry := rest
			j := strings.LastIndexByte(rest, ',')
			if j >= 0 {
				entry, rest = rest[j+1:], rest[:j]
			}
			more = j >= 0
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue // "a, , b", an empty line: nothing said
			}
			a, ok := forwardedAddr(entry)
			if !ok {
				return addrString(best, peer, host)
			}
			best = a
			if !trustedAddr(a, trusted) {
				return a.String()
			}
		}
	}
	return addrString(best, peer, host)
}

// addrString is a as a string: host when a is the peer, so that a
// trusted peer with nothing forwarded is told as it connected.
func addrString(a, peer netip.Addr, host string) string {
	if a == peer {
		return host
	}
	return a.String()
}

// forwardedAddr reads one entry of X-Forwarded-For: an IP address, with
// or without a port ("192.0.2.1:4711", "[2001:db8::1]:4711") and
// brackets ("[2001:db8::1]"). An IPv4-mapped address is read as IPv4,
// and a zone is dropped.
func forwardedAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		switch {
		case perr == nil:
			a = ap.Addr()
		case len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']':
			if a, err = netip.ParseAddr(s[1 : len(s)-1]); err != nil {
				return netip.Addr{}, false
			}
		default:
			return netip.Addr{}, false
		}
	}
	return a.Unmap().WithZone(""), true
}

// trustedAddr reports whether a (unmapped, without a zone) is in one of
// trusted.
func trustedAddr(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// normalPrefixes returns ps masked (10.1.2.3/8 is 10.0.0.0/8), with
// IPv4-mapped IPv6 prefixes as the IPv4 ones they are
// (::ffff:10.0.0.0/104 is 10.0.0.0/8), so that they match the unmapped
// addresses clientAddr compares; it drops invalid prefixes.
func normalPrefixes(ps []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(ps))
	for _, p := range ps {
		if !p.IsValid() {
			continue
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, netip.PrefixFrom(p.Addr().WithZone(""), p.Bits()).Masked())
	}
	return out
}
