package sshconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
)

// Hosts lists the literal Host names (no patterns with "*" or "?", no
// negations) of the configuration files Resolve would read for opts, in
// file order without repeats, for shell completion. Include lines are
// followed wherever they stand, also inside Host and Match blocks, since
// the conditions depend on the host being completed. Missing files are
// skipped.
func Hosts(opts Options) ([]string, error) {
	if opts.SystemFile == "" {
		opts.SystemFile = defaultSystemFile
	}
	l := hostLister{systemFile: opts.SystemFile, seen: map[string]bool{}}
	switch opts.ConfigFile {
	case "none":
		return nil, nil
	case "":
		if opts.Home == "" {
			if u, err := user.Current(); err == nil && u.HomeDir != "" {
				opts.Home = u.HomeDir
			} else if opts.Home, err = os.UserHomeDir(); err != nil {
				return nil, fmt.Errorf("listing hosts: finding home directory: %w", err)
			}
		}
		if err := l.readFile(filepath.Join(opts.Home, ".ssh", "config"), true, 0); err != nil {
			return nil, err
		}
		if err := l.readFile(opts.SystemFile, false, 0); err != nil {
			return nil, err
		}
	default:
		if err := l.readFile(opts.ConfigFile, true, 0); err != nil {
			return nil, err
		}
	}
	return l.hosts, nil
}

type hostLister struct {
	systemFile string
	hosts      []string
	seen       map[string]bool
}

// readFile collects the Host names of one file and the files it includes;
// user tells a user configuration (SSHCONF_USERCONF) from the system one,
// as in resolver.readFile.
func (l *hostLister) readFile(name string, user bool, depth int) error {
	if depth > maxIncludeDepth {
		return fmt.Errorf("reading %s: too many recursive configuration includes", name)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.EISDIR) {
			return nil
		}
		return fmt.Errorf("reading %s: %w", name, err)
	}
	for i, line := range strings.Split(string(data), "\n") {
		lineErr := func(format string, args ...any) error {
			return &lineError{File: name, Line: i + 1, Err: fmt.Errorf(format, args...)}
		}
		kw, rest, ok, err := splitKeyword(line)
		if err != nil {
			return lineErr("invalid quotes")
		}
		if !ok || (kw != "host" && kw != "include") {
			continue
		}
		args, err := argvSplit(rest)
		if err != nil {
			return lineErr("invalid quotes")
		}
		for _, a := range args {
			if a == "" {
				return lineErr("keyword %s empty argument", kw)
			}
			if kw == "host" {
				if !strings.HasPrefix(a, "!") && !strings.ContainsAny(a, "*?") && !l.seen[a] {
					l.seen[a] = true
					l.hosts = append(l.hosts, a)
				}
				continue
			}
			pattern, err := includePattern(a, user, l.systemFile)
			if err != nil {
				return lineErr("%v", err)
			}
			matches, err := glob(pattern)
			if err != nil {
				return lineErr("glob failed for %s: %v", pattern, err)
			}
			for _, m := range matches {
				if err := l.readFile(m, user, depth+1); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
