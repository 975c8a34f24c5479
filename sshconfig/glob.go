package sshconfig

import (
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
)

// glob expands an Include pattern like glob(3) with GLOB_TILDE, as ssh
// does: "~" is $HOME (not the passwd entry), wildcards do not match a
// leading "." and results are sorted bytewise. No match is not an error.
func glob(pattern string) ([]string, error) {
	if strings.HasPrefix(pattern, "~") {
		rest := pattern[1:]
		name, tail, hasSlash := strings.Cut(rest, "/")
		var dir string
		if name == "" {
			dir = os.Getenv("HOME")
			if dir == "" {
				if u, err := user.Current(); err == nil {
					dir = u.HomeDir
				}
			}
		} else if u, err := user.Lookup(name); err == nil {
			dir = u.HomeDir
		} else {
			dir = "" // glibc leaves an unknown ~user alone
		}
		if dir != "" {
			pattern = dir
			if hasSlash {
				pattern = strings.TrimSuffix(dir, "/") + "/" + tail
			}
		}
	}
	if !hasMeta(pattern) {
		if _, err := os.Lstat(unescape(pattern)); err != nil {
			return nil, nil
		}
		return []string{unescape(pattern)}, nil
	}
	abs := strings.HasPrefix(pattern, "/")
	parts := strings.Split(strings.TrimPrefix(pattern, "/"), "/")
	cur := []string{""}
	if abs {
		cur = []string{"/"}
	}
	for i, part := range parts {
		last := i == len(parts)-1
		var next []string
		for _, base := range cur {
			if part == "" {
				next = append(next, base)
				continue
			}
			if !hasMeta(part) {
				p := join(base, unescape(part))
				if _, err := os.Lstat(p); err == nil {
					next = append(next, p)
				}
				continue
			}
			dir := base
			if dir == "" {
				dir = "."
			}
			ents, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range ents {
				n := e.Name()
				if strings.HasPrefix(n, ".") && !strings.HasPrefix(part, ".") {
					continue
				}
				ok, err := filepath.Match(part, n)
				if errors.Is(err, filepath.ErrBadPattern) {
					ok = part == n
				}
				if !ok {
					continue
				}
				p := join(base, n)
				if !last {
					if st, err := os.Stat(p); err != nil || !st.IsDir() {
						continue
					}
				}
				next = append(next, p)
			}
		}
		cur = next
	}
	sort.Strings(cur)
	return cur, nil
}

func join(base, name string) string {
	switch base {
	case "":
		return name
	case "/":
		return "/" + name
	}
	return base + "/" + name
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
