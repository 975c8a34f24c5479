// Package sshconfig resolves a host alias plus ssh-style flags into connection settings the way OpenSSH's ssh_config(5) does, agreeing with `ssh -G`.
//
// The reader follows OpenSSH 9.2's readconf.c: first value wins, Host
// patterns (case-sensitive, "*", "?", "!"), Match (all, host, originalhost,
// user, localuser, localnetwork, exec, final, canonical, negation, the
// second "final" pass), conditional and relative Include, "=" syntax,
// quoting, and ~, %-tokens and ${VAR} where ssh_config(5) allows them.
// diff_test.go compares Format with the real `ssh -G` on a corpus in
// testdata/configs.
//
// Not implemented: DNS hostname canonicalisation (CanonicalDomains,
// CanonicalizePermittedCNAMEs; CanonicalizeHostname only triggers the
// final pass), validation of keywords Host does not carry, and the
// interleaving of -o with -l/-p/-i/-J (Options applies -o first).
package sshconfig

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Options are the inputs ssh takes from its command line and environment.
type Options struct {
	ConfigFile string   // -F; "" = ~/.ssh/config then the system file; "none" = no user file
	SystemFile string   // default /etc/ssh/ssh_config; tests override. -F disables it.
	Home       string   // default: the passwd home directory (as ssh, which ignores $HOME for ~), else os.UserHomeDir()
	LocalUser  string   // default current user
	User       string   // -l
	Port       int      // -p (0 = unset)
	Identities []string // -i (repeatable)
	ProxyJump  string   // -J
	Overrides  []string // -o Keyword=Value (applied first: command line wins, like ssh)

	// ExecStderr receives the standard error of "Match exec" commands, which
	// ssh leaves on the terminal; nil discards it.
	ExecStderr io.Writer

	// disableExec makes "Match exec" an error instead of running a shell
	// command (the fuzz and resolve tests set it).
	disableExec bool
}

// Host is a resolved destination, with ssh's defaults filled in.
type Host struct {
	Alias, HostName, User string
	Port                  int
	IdentityFiles         []string // ~ and tokens expanded; defaults when none set
	IdentitiesOnly        bool
	IdentityAgent         string // "" = SSH_AUTH_SOCK; "none" disables; "SSH_AUTH_SOCK" or "$VAR" name an environment variable
	CertificateFiles      []string
	ProxyJump             string // "" when none
	ProxyCommand          string // "" when none; %h %n %p %r %% expanded as ssh does before running it
	UserKnownHostsFiles   []string
	GlobalKnownHostsFiles []string
	StrictHostKeyChecking string // "ask" | "yes" | "no" | "accept-new" (off -> "no")
	HashKnownHosts        bool
	HostKeyAlias          string
	HostKeyAlgorithms     []string
	// HostKeyAlgorithmsSet is false when HostKeyAlgorithms is ssh's default
	// list: ssh then offers the types known_hosts records for the host first
	// (sshconnect2.c order_hostkeyalgs), and so must a client of Host.
	HostKeyAlgorithmsSet bool
	ServerAliveInterval  time.Duration // 0 = unset (ssh default); cmd applies kfwd's 15s default
	ServerAliveCountMax  int
	ConnectTimeout       time.Duration // 0 = none
	BatchMode            bool

	// printed holds the values ssh -G prints verbatim where they differ from
	// the usable ones above (IdentityFile and CertificateFile are printed
	// before ~ and token expansion, ProxyCommand before expansion,
	// "ConnectTimeout 0"). nil for a Host built by hand.
	printed *printedForm
}

type printedForm struct {
	identityFiles    []string
	certificateFiles []string
	proxyCommand     string
	connectTimeout   string
}

// Format returns the `ssh -G` lines for Host's keywords, in the order and
// spelling ssh -G uses, one "keyword value" per line.
func (h *Host) Format() string {
	var b strings.Builder
	line := func(k, v string) {
		b.WriteString(k)
		b.WriteByte(' ')
		b.WriteString(v)
		b.WriteByte('\n')
	}
	yn := func(v bool) string {
		if v {
			return "yes"
		}
		return "no"
	}
	p := h.printed
	if p == nil {
		p = &printedForm{identityFiles: h.IdentityFiles, certificateFiles: h.CertificateFiles, proxyCommand: h.ProxyCommand}
	}
	line("user", h.User)
	line("hostname", h.HostName)
	line("port", strconv.Itoa(h.Port))
	line("batchmode", yn(h.BatchMode))
	line("hashknownhosts", yn(h.HashKnownHosts))
	line("identitiesonly", yn(h.IdentitiesOnly))
	shkc := h.StrictHostKeyChecking
	switch shkc {
	case "yes":
		shkc = "true"
	case "no":
		shkc = "false"
	case "":
		shkc = "ask"
	}
	line("stricthostkeychecking", shkc)
	line("serveralivecountmax", strconv.Itoa(h.ServerAliveCountMax))
	line("serveraliveinterval", strconv.Itoa(int(h.ServerAliveInterval/time.Second)))
	if len(h.HostKeyAlgorithms) > 0 {
		line("hostkeyalgorithms", strings.Join(h.HostKeyAlgorithms, ","))
	}
	if h.HostKeyAlias != "" {
		line("hostkeyalias", h.HostKeyAlias)
	}
	if h.IdentityAgent != "" {
		line("identityagent", h.IdentityAgent)
	}
	for _, f := range p.identityFiles {
		line("identityfile", f)
	}
	for _, f := range p.certificateFiles {
		line("certificatefile", f)
	}
	if len(h.GlobalKnownHostsFiles) > 0 {
		line("globalknownhostsfile", strings.Join(h.GlobalKnownHostsFiles, " "))
	}
	if len(h.UserKnownHostsFiles) > 0 {
		line("userknownhostsfile", strings.Join(h.UserKnownHostsFiles, " "))
	}
	switch {
	case p.connectTimeout != "":
		line("connecttimeout", p.connectTimeout)
	case h.ConnectTimeout > 0:
		line("connecttimeout", strconv.Itoa(int(h.ConnectTimeout/time.Second)))
	default:
		line("connecttimeout", "none")
	}
	if h.ProxyJump != "" {
		line("proxyjump", h.ProxyJump)
	} else if p.proxyCommand != "" {
		line("proxycommand", p.proxyCommand)
	}
	return b.String()
}

// lineError reports a problem on one line of a configuration file (or of
// a -o option, File "command-line").
type lineError struct {
	File string
	Line int
	Err  error
}

func (e *lineError) Error() string {
	if e.File == "command-line" {
		return fmt.Sprintf("command-line option: %v", e.Err)
	}
	return fmt.Sprintf("reading %s line %d: %v", e.File, e.Line, e.Err)
}

func (e *lineError) Unwrap() error { return e.Err }
