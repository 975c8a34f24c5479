// Package inet parses IPv4 addresses in the legacy forms inet_aton(3)
// accepts, which OpenSSH (through getaddrinfo) and browsers (the WHATWG URL
// parser) both resolve: sshconfig canonicalises host names with it and
// callback recognises loopback written as 127.1 or 2130706433.
package inet

import (
	"net/netip"
	"strconv"
	"strings"
)

// ParseAton parses a, a.b, a.b.c or a.b.c.d with decimal, octal (0...) or
// hex (0x...) parts, the last part filling the remaining bytes, as
// inet_aton(3) does (127.1, 0x7f.0.0.1, 2130706433), into an IPv4 address.
func ParseAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var vals [4]uint64
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		switch {
		case strings.HasPrefix(p, "0x") || strings.HasPrefix(p, "0X"):
			base, p = 16, p[2:]
			if p == "" {
				p = "0"
			}
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	n := len(parts)
	var ip uint64
	for i := 0; i < n-1; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
		ip |= vals[i] << (8 * (3 - i))
	}
	if last := vals[n-1]; last < 1<<(8*(5-n)) {
		ip |= last
		return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
	}
	return netip.Addr{}, false
}
