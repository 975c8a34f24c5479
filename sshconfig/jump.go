package sshconfig

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Jump is one ProxyJump hop.
type Jump struct {
	User string // "" = the hop's configured user
	Host string // alias to resolve (no brackets)
	Port int    // 0 = the hop's configured port
}

// String formats the hop like ssh -G: [user@]host[:port], IPv6 in brackets.
func (j Jump) String() string {
	var b strings.Builder
	if j.User != "" {
		b.WriteString(j.User)
		b.WriteByte('@')
	}
	if strings.Contains(j.Host, ":") {
		b.WriteString("[" + j.Host + "]")
	} else {
		b.WriteString(j.Host)
	}
	if j.Port > 0 {
		b.WriteString(":" + strconv.Itoa(j.Port))
	}
	return b.String()
}

// ParseJump splits a ProxyJump value ("[user@]host[:port]" or
// "ssh://[user@]host[:port]" hops separated by commas) into hops, first hop
// first. "none" yields no hops and no error.
func ParseJump(s string) ([]Jump, error) {
	if strings.EqualFold(s, "none") {
		return nil, nil
	}
	var hops []Jump
	for _, part := range strings.Split(s, ",") {
		j, err := parseHop(part)
		if err == nil {
			err = j.check()
		}
		if err != nil {
			return nil, fmt.Errorf("parsing jump host %q: %w", part, err)
		}
		hops = append(hops, j)
	}
	return hops, nil
}

// check refuses a hop whose user or host a shell would interpret: a hop's
// user and host reach its own Match exec and ProxyCommand (OpenSSH checks
// them in parse_jump since 9.8, and 9.6's ssh for the hop refuses them).
func (j Jump) check() error {
	if j.User != "" && !validRemoteUser(j.User) {
		return errInvalidUser
	}
	if !validHostname(j.Host) {
		return errors.New("hostname contains invalid characters")
	}
	return nil
}

func parseHop(s string) (Jump, error) {
	var j Jump
	if strings.ContainsAny(s, whitespace) {
		return j, errors.New("whitespace in jump host")
	}
	if rest, ok := strings.CutPrefix(s, "ssh://"); ok {
		rest = strings.TrimSuffix(rest, "/")
		if strings.Contains(rest, "/") {
			return j, errors.New("ssh:// URI with a path")
		}
		if i := strings.LastIndexByte(rest, '@'); i >= 0 {
			j.User = rest[:i]
			if j.User == "" || strings.Contains(j.User, ";") {
				return j, errors.New("bad user")
			}
			rest = rest[i+1:]
		}
		return hostPort(j, rest, ":")
	}
	rest := s
	if i := strings.LastIndexByte(rest, '@'); i >= 0 {
		if i == 0 {
			return j, errors.New("empty user")
		}
		j.User = rest[:i]
		rest = rest[i+1:]
	}
	return hostPort(j, rest, ":/")
}

// hostPort parses host[:port] or [host]:port like OpenSSH's hpdelim2.
func hostPort(j Jump, s, delims string) (Jump, error) {
	var host, port string
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return j, errors.New("missing ]")
		}
		host = s[1:end]
		rest := s[end+1:]
		switch {
		case rest == "":
		case strings.IndexByte(delims, rest[0]) >= 0:
			port = rest[1:]
		default:
			return j, errors.New("garbage after ]")
		}
	} else if i := strings.IndexAny(s, delims); i >= 0 {
		host, port = s[:i], s[i+1:]
	} else {
		host = s
	}
	if host == "" {
		return j, errors.New("missing host")
	}
	j.Host = host
	if port != "" {
		p := a2port(port)
		if p <= 0 {
			return j, fmt.Errorf("bad port %q", port)
		}
		j.Port = p
	}
	return j, nil
}
