package sshconfig

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// SSHCommand is the OpenSSH client ResolveWithSSH runs.
var SSHCommand = "ssh"

// SSHArgs returns the ssh command-line arguments (without "ssh" itself)
// equivalent to opts for destination alias, with -G first.
func SSHArgs(alias string, opts Options) []string {
	args := []string{"-G"}
	if opts.ConfigFile != "" {
		args = append(args, "-F", opts.ConfigFile)
	}
	for _, o := range opts.Overrides {
		args = append(args, "-o", o)
	}
	if opts.User != "" {
		args = append(args, "-l", opts.User)
	}
	if opts.Port != 0 {
		args = append(args, "-p", strconv.Itoa(opts.Port))
	}
	for _, i := range opts.Identities {
		args = append(args, "-i", i)
	}
	if opts.ProxyJump != "" {
		args = append(args, "-J", opts.ProxyJump)
	}
	return append(args, "--", alias)
}

// ResolveWithSSH asks the installed OpenSSH client (`ssh -G`) to resolve
// alias and converts its answer into a Host, expanding IdentityFile,
// CertificateFile and ProxyCommand as ssh does when it connects. ssh reads
// its own system file and the passwd home directory: opts.SystemFile is
// not honoured, opts.Home is only used to expand "~" in identity files.
func ResolveWithSSH(ctx context.Context, alias string, opts Options) (*Host, error) {
	r, err := newResolver(alias, opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, SSHCommand, SSHArgs(alias, opts)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = nil
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg != "" {
			return nil, fmt.Errorf("running %s -G %s: %w: %s", SSHCommand, alias, err, msg)
		}
		return nil, fmt.Errorf("running %s -G %s: %w", SSHCommand, alias, err)
	}
	return r.fromDump(stdout.Bytes())
}

// fromDump converts `ssh -G` output into a Host.
func (r *resolver) fromDump(out []byte) (*Host, error) {
	h := &Host{Alias: r.hostArg, printed: &printedForm{}}
	var jump, proxy string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	bad := func(k, v string) error {
		return fmt.Errorf("parsing ssh -G output for %s: bad %s %q", r.hostArg, k, v)
	}
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), " ")
		var err error
		switch k {
		case "user":
			h.User = v
		case "hostname":
			h.HostName = v
		case "port":
			h.Port, err = strconv.Atoi(v)
		case "batchmode":
			h.BatchMode = v == "yes"
		case "hashknownhosts":
			h.HashKnownHosts = v == "yes"
		case "identitiesonly":
			h.IdentitiesOnly = v == "yes"
		case "stricthostkeychecking":
			switch v {
			case "true":
				v = "yes"
			case "false":
				v = "no"
			}
			h.StrictHostKeyChecking = v
		case "serveralivecountmax":
			h.ServerAliveCountMax, err = strconv.Atoi(v)
		case "serveraliveinterval":
			var n int
			n, err = strconv.Atoi(v)
			h.ServerAliveInterval = time.Duration(n) * time.Second
		case "hostkeyalgorithms":
			h.HostKeyAlgorithms = strings.Split(v, ",")
			// ssh -G prints the list, set or not; a list other than the
			// default was set (the configs never spell out the default).
			h.HostKeyAlgorithmsSet = !slices.Equal(h.HostKeyAlgorithms, defaultHostKeyAlgorithms)
		case "hostkeyalias":
			h.HostKeyAlias = v
		case "identityagent":
			h.IdentityAgent = v
		case "identityfile":
			h.printed.identityFiles = append(h.printed.identityFiles, v)
		case "certificatefile":
			h.printed.certificateFiles = append(h.printed.certificateFiles, v)
		case "globalknownhostsfile":
			h.GlobalKnownHostsFiles = strings.Fields(v)
		case "userknownhostsfile":
			h.UserKnownHostsFiles = strings.Fields(v)
		case "connecttimeout":
			if v != "none" {
				var n int
				n, err = strconv.Atoi(v)
				h.ConnectTimeout = time.Duration(n) * time.Second
				h.printed.connectTimeout = v
			}
		case "proxyjump":
			jump = v
		case "proxycommand":
			proxy = v
		}
		if err != nil {
			return nil, bad(k, v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading ssh -G output: %w", err)
	}
	if h.HostName == "" || h.Port == 0 {
		return nil, errors.New("ssh -G output lacks hostname or port")
	}
	ps := strconv.Itoa(h.Port)
	keyalias := r.hostArg
	if h.HostKeyAlias != "" {
		keyalias = h.HostKeyAlias
	}
	tok := tokens{
		'C': connectionHash(r.thisHost, h.HostName, ps, h.User),
		'L': shortHost(r.thisHost), 'i': strconv.Itoa(r.uid), 'k': keyalias,
		'l': r.thisHost, 'n': r.hostArg, 'p': ps, 'd': r.o.Home, 'h': h.HostName,
		'r': h.User, 'u': r.o.LocalUser,
	}
	expandAll := func(what string, in []string) ([]string, error) {
		var out []string
		for _, f := range in {
			if strings.EqualFold(f, "none") {
				continue
			}
			t, err := expandTilde(f, r.o.Home)
			if err == nil {
				t, err = expandTokens(t, tok, true)
			}
			if err != nil {
				return nil, fmt.Errorf("resolving %s: expanding %s %q: %w", r.hostArg, what, f, err)
			}
			out = append(out, t)
		}
		return out, nil
	}
	var err error
	if h.IdentityFiles, err = expandAll("IdentityFile", h.printed.identityFiles); err != nil {
		return nil, err
	}
	if h.CertificateFiles, err = expandAll("CertificateFile", h.printed.certificateFiles); err != nil {
		return nil, err
	}
	h.ProxyJump = jump
	if jump == "" && proxy != "" {
		h.printed.proxyCommand = proxy
		h.ProxyCommand, err = expandTokens(proxy, tokens{'h': h.HostName, 'n': r.hostArg, 'p': ps, 'r': h.User}, false)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: expanding ProxyCommand: %w", r.hostArg, err)
		}
	}
	return h, nil
}
