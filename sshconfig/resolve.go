package sshconfig

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// defaultSystemFile is OpenSSH's system-wide client configuration.
const defaultSystemFile = "/etc/ssh/ssh_config"

// maxIncludeDepth is OpenSSH's READCONF_MAX_DEPTH.
const maxIncludeDepth = 16

// maxIdentityFiles is OpenSSH's SSH_MAX_IDENTITY_FILES (and certificates).
const maxIdentityFiles = 100

var (
	defaultUserKnownHosts   = []string{"~/.ssh/known_hosts", "~/.ssh/known_hosts2"}
	defaultGlobalKnownHosts = []string{"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"}
)

// Origin of an identity or certificate file; OpenSSH only de-duplicates
// entries of the same origin.
const (
	fromSystem  = 0
	fromCmdline = 1 // -i
	fromUser    = 2 // user file, -F or -o
)

type fileEntry struct {
	path   string
	origin int
}

type readFlags struct {
	user       bool // SSHCONF_USERCONF
	checkPerm  bool // SSHCONF_CHECKPERM
	neverMatch bool // SSHCONF_NEVERMATCH
	cmdline    bool
}

// values are the settings collected so far; nil means unset, and the first
// value obtained for each parameter wins.
type values struct {
	user, hostName, identityAgent, hostKeyAlias   *string
	proxyCommand, jumpHost, hostKeyAlgorithms     *string
	ignoreUnknown, canonicalize, strict           *string
	port, connectTimeout, aliveInterval, aliveMax *int
	identitiesOnly, batchMode, hashKnownHosts     *bool
	identityFiles, certificateFiles               []fileEntry
	userKnownHosts, globalKnownHosts              []string
}

type resolver struct {
	o         Options
	uid       int
	thisHost  string
	hostArg   string // the alias as given; Host lines match it
	final     bool   // second pass ("Match final", canonicalisation)
	wantFinal bool
	v         values
	runExec   func(cmd string) (int, error)
	noInclude bool   // fuzzing: never touch the file system
	inline    []byte // fuzzing: configuration text used instead of files
}

// Resolve resolves alias like `ssh [opts] alias` would: it reads the
// configuration files, applies Host and Match blocks (including the final
// pass), fills ssh's defaults and expands ~, %-tokens and ${VAR} where
// ssh_config(5) allows them.
func Resolve(alias string, opts Options) (*Host, error) {
	r, err := newResolver(alias, opts)
	if err != nil {
		return nil, err
	}
	return r.resolve()
}

func newResolver(alias string, opts Options) (*resolver, error) {
	if opts.SystemFile == "" {
		opts.SystemFile = defaultSystemFile
	}
	if opts.Home == "" || opts.LocalUser == "" {
		u, err := user.Current()
		if opts.Home == "" {
			if err == nil && u.HomeDir != "" {
				opts.Home = u.HomeDir
			} else if opts.Home, err = os.UserHomeDir(); err != nil {
				return nil, fmt.Errorf("resolving %s: finding home directory: %w", alias, err)
			}
		}
		if opts.LocalUser == "" {
			if err != nil {
				return nil, fmt.Errorf("resolving %s: finding local user: %w", alias, err)
			}
			opts.LocalUser = u.Username
		}
	}
	host, err := os.Hostname()
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", alias, err)
	}
	r := &resolver{o: opts, uid: os.Getuid(), thisHost: host, hostArg: alias}
	r.runExec = r.shellExec
	return r, nil
}

func (r *resolver) resolve() (*Host, error) {
	alias := r.hostArg
	if !validHostname(alias) {
		return nil, fmt.Errorf("resolving %q: hostname contains invalid characters", alias)
	}
	if err := r.applyCommandLine(); err != nil {
		return nil, fmt.Errorf("resolving %s: %w", alias, err)
	}
	if err := r.readConfigs(); err != nil {
		return nil, fmt.Errorf("resolving %s: %w", alias, err)
	}
	host := alias
	if r.v.hostName != nil {
		h, err := expandTokens(*r.v.hostName, tokens{'h': alias}, false)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: expanding HostName: %w", alias, err)
		}
		host = h
	}
	if c, ok := canonicalAddr(host); ok {
		if !strings.EqualFold(c, host) {
			host = c
		}
	} else {
		host = asciiLower(host)
	}
	if r.v.canonicalize != nil && *r.v.canonicalize != "no" {
		r.wantFinal = true
	}
	if r.wantFinal {
		r.v.hostName = &host
		r.final = true
		if err := r.readConfigs(); err != nil {
			return nil, fmt.Errorf("resolving %s: %w", alias, err)
		}
	}
	return r.finish(host)
}

// applyCommandLine applies -o (in order), then -l, -p, -i and -J. ssh
// handles them in command-line order before reading any file, the first
// value winning.
func (r *resolver) applyCommandLine() error {
	active := true
	for _, o := range r.o.Overrides {
		if err := r.processLine(o, "command-line", 0, &active, readFlags{user: true, cmdline: true}, 0); err != nil {
			return err
		}
	}
	// ssh checks the user from -o User, -l or user@host before reading any
	// file; a User from a configuration file is the user's own text.
	if r.v.user != nil && !validRemoteUser(*r.v.user) {
		return errInvalidUser
	}
	if r.o.User != "" && r.v.user == nil {
		if !validRemoteUser(r.o.User) {
			return errInvalidUser
		}
		u := r.o.User
		r.v.user = &u
	}
	if r.o.Port != 0 {
		if r.o.Port < 0 || r.o.Port > 65535 {
			return fmt.Errorf("bad port %d", r.o.Port)
		}
		if r.v.port == nil {
			p := r.o.Port
			r.v.port = &p
		}
	}
	for _, id := range r.o.Identities {
		p, err := expandTilde(id, r.o.Home)
		if err != nil {
			return fmt.Errorf("identity file %s: %w", id, err)
		}
		// ssh warns and skips an -i file it cannot stat.
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := addFile(&r.v.identityFiles, p, fromCmdline, "identity"); err != nil {
			return err
		}
	}
	if r.o.ProxyJump != "" {
		if r.v.proxyCommand != nil {
			return errors.New("cannot specify -J with ProxyCommand")
		}
		if err := r.parseJump(r.o.ProxyJump, true); err != nil {
			return fmt.Errorf("invalid -J argument %q: %w", r.o.ProxyJump, err)
		}
		none := "none"
		r.v.proxyCommand = &none
	}
	return nil
}

func (r *resolver) readConfigs() error {
	if r.inline != nil {
		active := true
		return r.processData("inline", r.inline, readFlags{user: true}, &active, 0)
	}
	if r.o.ConfigFile != "" {
		if r.o.ConfigFile == "none" {
			return nil
		}
		active := true
		found, err := r.readFile(r.o.ConfigFile, readFlags{user: true}, &active, 0)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("can't open user config file %s: %w", r.o.ConfigFile, fs.ErrNotExist)
		}
		return nil
	}
	active := true
	userFile := filepath.Join(r.o.Home, ".ssh", "config")
	if _, err := r.readFile(userFile, readFlags{user: true, checkPerm: true}, &active, 0); err != nil {
		return err
	}
	active = true
	_, err := r.readFile(r.o.SystemFile, readFlags{}, &active, 0)
	return err
}

// readFile processes one configuration file. A missing file reports
// found=false and no error.
func (r *resolver) readFile(name string, fl readFlags, active *bool, depth int) (found bool, err error) {
	if depth > maxIncludeDepth {
		return false, fmt.Errorf("reading %s: too many recursive configuration includes", name)
	}
	data, err := os.ReadFile(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		var pe *fs.PathError
		if errors.As(err, &pe) && errors.Is(pe.Err, syscall.EISDIR) {
			return true, nil // getline fails at once on a directory: nothing read
		}
		return false, fmt.Errorf("reading %s: %w", name, err)
	}
	if fl.checkPerm {
		st, err := os.Stat(name)
		if err != nil {
			return false, fmt.Errorf("reading %s: %w", name, err)
		}
		if uid, ok := fileOwner(st); ok {
			if (uid != 0 && uid != r.uid) || st.Mode().Perm()&0o022 != 0 {
				return false, fmt.Errorf("reading %s: bad owner or permissions", name)
			}
		}
	}
	return true, r.processData(name, data, fl, active, depth)
}

// processData processes the lines of one configuration file.
func (r *resolver) processData(name string, data []byte, fl readFlags, active *bool, depth int) error {
	lines := strings.Split(string(data), "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	for i, line := range lines {
		if err := r.processLine(line, name, i+1, active, fl, depth); err != nil {
			return err
		}
	}
	return nil
}

func (r *resolver) lineErr(file string, line int, format string, args ...any) error {
	return &lineError{File: file, Line: line, Err: fmt.Errorf(format, args...)}
}

// The arguments of multi-valued keywords and what ssh -G prints for them
// (OpenSSH's multistate tables in readconf.c).
var (
	strictHostKeyValues = map[string]string{
		"true": "yes", "yes": "yes", "false": "no", "no": "no", "off": "no",
		"ask": "ask", "accept-new": "accept-new",
	}
	canonicalizeValues = map[string]string{
		"true": "yes", "yes": "yes", "false": "no", "no": "no", "always": "always",
	}
)

func (r *resolver) processLine(line, file string, lineno int, active *bool, fl readFlags, depth int) error {
	kw, rest, ok, err := splitKeyword(line)
	if err != nil {
		return r.lineErr(file, lineno, "invalid quotes")
	}
	if !ok {
		return nil
	}
	errf := func(format string, args ...any) error { return r.lineErr(file, lineno, format, args...) }
	if rest == "" {
		return errf("no argument after keyword %q", kw)
	}
	args, err := argvSplit(rest)
	if err != nil {
		return errf("invalid quotes")
	}
	if canon, ok := keywordAliases[kw]; ok {
		kw = canon
	}
	if !knownKeywords[kw] {
		if r.v.ignoreUnknown != nil && matchPatternList(kw, *r.v.ignoreUnknown, true) == 1 {
			return nil
		}
		return errf("bad configuration option: %s", kw)
	}
	set := *active
	// single returns the only argument of a one-valued keyword.
	single := func() (string, error) {
		if len(args) == 0 || args[0] == "" {
			return "", errf("missing argument")
		}
		if len(args) > 1 {
			return "", errf("keyword %s extra arguments at end of line", kw)
		}
		return args[0], nil
	}
	setStr := func(dst **string) error {
		a, err := single()
		if err != nil {
			return err
		}
		if set && *dst == nil {
			*dst = &a
		}
		return nil
	}
	setFlag := func(dst **bool) error {
		a, err := single()
		if err != nil {
			return err
		}
		var b bool
		switch strings.ToLower(a) {
		case "yes", "true":
			b = true
		case "no", "false":
		default:
			return errf("unsupported option %q", a)
		}
		if set && *dst == nil {
			*dst = &b
		}
		return nil
	}
	// setEnum stores the value that values gives for the argument (any case).
	setEnum := func(dst **string, values map[string]string) error {
		a, err := single()
		if err != nil {
			return err
		}
		v, ok := values[strings.ToLower(a)]
		if !ok {
			return errf("unsupported option %q", a)
		}
		if set && *dst == nil {
			*dst = &v
		}
		return nil
	}
	setTime := func(dst **int) error {
		a, err := single()
		if err != nil {
			return err
		}
		if strings.EqualFold(a, "none") {
			return nil // -1, the same as unset: a later value may still win
		}
		n, ok := convtime(a)
		if !ok {
			return errf("invalid time value")
		}
		if set && *dst == nil {
			*dst = &n
		}
		return nil
	}

	switch kw {
	case "host":
		if fl.cmdline {
			return errors.New("host directive not supported as a command-line option")
		}
		*active = false
		for _, a := range args {
			if a == "" {
				return errf("keyword host empty argument")
			}
			if fl.neverMatch {
				break
			}
			neg := strings.HasPrefix(a, "!")
			if neg {
				a = a[1:]
			}
			// ssh matches Host lines against the name as given on the
			// first pass and the final (lower-cased, HostName-substituted)
			// name on the final pass.
			target := r.hostArg
			if r.final {
				target = *r.v.hostName
			}
			if matchPattern(target, a) {
				if neg {
					*active = false
					break
				}
				*active = true
			}
		}
	case "match":
		if fl.cmdline {
			return errors.New("match directive not supported as a command-line option")
		}
		m, err := r.matchLine(rest, file, lineno)
		if err != nil {
			return err
		}
		*active = m && !fl.neverMatch
	case "include":
		if fl.cmdline {
			return errors.New("include directive not supported as a command-line option")
		}
		if r.noInclude {
			return nil
		}
		return r.include(args, file, lineno, active, fl, depth)
	case "ignoreunknown":
		return setStr(&r.v.ignoreUnknown)
	case "user":
		return setStr(&r.v.user)
	case "hostname":
		return setStr(&r.v.hostName)
	case "hostkeyalias":
		return setStr(&r.v.hostKeyAlias)
	case "port":
		a, err := single()
		if err != nil {
			return err
		}
		p := a2port(a)
		if p <= 0 {
			return errf("badly formatted port number")
		}
		if set && r.v.port == nil {
			r.v.port = &p
		}
	case "identityfile", "certificatefile":
		a, err := single()
		if err != nil {
			return err
		}
		if set {
			origin := fromSystem
			if fl.user {
				origin = fromUser
			}
			dst, what := &r.v.identityFiles, "identity"
			if kw == "certificatefile" {
				dst, what = &r.v.certificateFiles, "certificate"
			}
			if err := addFile(dst, a, origin, what); err != nil {
				return errf("%v", err)
			}
		}
	case "identitiesonly":
		return setFlag(&r.v.identitiesOnly)
	case "batchmode":
		return setFlag(&r.v.batchMode)
	case "hashknownhosts":
		return setFlag(&r.v.hashKnownHosts)
	case "stricthostkeychecking":
		return setEnum(&r.v.strict, strictHostKeyValues)
	case "canonicalizehostname":
		return setEnum(&r.v.canonicalize, canonicalizeValues)
	case "identityagent":
		a, err := single()
		if err != nil {
			return err
		}
		if _, err := expandTokens(a, nil, true); err != nil {
			return errf("invalid environment expansion %s", a)
		}
		if len(a) > 1 && a[0] == '$' && a[1] != '{' && !validEnvName(a[1:]) {
			return errf("invalid environment name %s", a)
		}
		if set && r.v.identityAgent == nil {
			r.v.identityAgent = &a
		}
	case "hostkeyalgorithms":
		a, err := single()
		if err != nil {
			return err
		}
		if a[0] != '-' && !validKeyNames(strings.TrimLeft(a[:1], "+^")+a[1:]) {
			return errf("bad key types '%s'", a)
		}
		if set && r.v.hostKeyAlgorithms == nil {
			r.v.hostKeyAlgorithms = &a
		}
	case "serveraliveinterval":
		return setTime(&r.v.aliveInterval)
	case "connecttimeout":
		return setTime(&r.v.connectTimeout)
	case "serveralivecountmax":
		a, err := single()
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(a)
		if err != nil || n < 0 || strings.HasPrefix(a, "+") {
			return errf("integer value %s", a)
		}
		if set && r.v.aliveMax == nil {
			r.v.aliveMax = &n
		}
	case "proxycommand":
		cmd := strings.TrimLeft(rest, whitespace+"=")
		if set && r.v.proxyCommand == nil {
			r.v.proxyCommand = &cmd
		}
	case "proxyjump":
		if len(args) == 0 || args[0] == "" {
			return errf("proxyjump requires an argument")
		}
		s := strings.TrimLeft(rest, whitespace+"=")
		if err := r.parseJump(s, set); err != nil {
			return errf("invalid ProxyJump %q", s)
		}
	case "userknownhostsfile", "globalknownhostsfile":
		dst := &r.v.userKnownHosts
		if kw == "globalknownhostsfile" {
			dst = &r.v.globalKnownHosts
		}
		empty := *dst == nil
		var list []string
		for i, a := range args {
			if a == "" {
				return errf("keyword %s empty argument", kw)
			}
			if strings.EqualFold(a, "none") && (i > 0 || len(args) > 1) {
				return errf("keyword %s \"none\" argument must appear alone", kw)
			}
			if len(list) < 32 {
				list = append(list, a)
			}
		}
		if set && empty {
			*dst = list
		}
	}
	return nil
}

// parseJump is OpenSSH's parse_jump: it checks every hop and, when active
// and neither ProxyCommand nor ProxyJump is set yet, records the jump (and
// sets ProxyCommand to "none", so a later ProxyCommand loses).
func (r *resolver) parseJump(s string, active bool) error {
	active = active && r.v.proxyCommand == nil && r.v.jumpHost == nil
	clean := s
	if i := strings.IndexByte(clean, '#'); i >= 0 {
		clean = clean[:i]
	}
	clean = strings.TrimRight(clean, whitespace)
	if strings.EqualFold(s, "none") {
		if active {
			none := "none"
			r.v.jumpHost = &none
		}
		return nil
	}
	hops, err := ParseJump(clean)
	if err != nil {
		return err
	}
	if !active {
		return nil
	}
	last := hops[len(hops)-1]
	var b strings.Builder
	if i := strings.LastIndexByte(s, ','); i > 0 {
		b.WriteString(s[:i])
		b.WriteByte(',')
	}
	b.WriteString(last.String())
	j := b.String()
	r.v.jumpHost = &j
	none := "none"
	r.v.proxyCommand = &none
	return nil
}

func addFile(dst *[]fileEntry, path string, origin int, what string) error {
	for _, e := range *dst {
		if e.origin == origin && e.path == path {
			return nil
		}
	}
	if len(*dst) >= maxIdentityFiles {
		return fmt.Errorf("too many %s files specified (max %d)", what, maxIdentityFiles)
	}
	*dst = append(*dst, fileEntry{path, origin})
	return nil
}

// includePattern anchors an Include argument as OpenSSH does: a relative path
// is under ~/.ssh in a user config (-F ones too) and beside the system file in
// the system config, where ~ is not allowed.
func includePattern(arg string, user bool, systemFile string) (string, error) {
	if arg[0] == '~' && !user {
		return "", fmt.Errorf("bad include path %s", arg)
	}
	if arg[0] == '/' || arg[0] == '~' {
		return arg, nil
	}
	if user {
		return "~/.ssh/" + arg, nil
	}
	return filepath.Dir(systemFile) + "/" + arg, nil
}

func (r *resolver) include(args []string, file string, lineno int, active *bool, fl readFlags, depth int) error {
	for _, a := range args {
		if a == "" {
			return r.lineErr(file, lineno, "keyword include empty argument")
		}
		pattern, err := includePattern(a, fl.user, r.o.SystemFile)
		if err != nil {
			return r.lineErr(file, lineno, "%v", err)
		}
		matches, err := glob(pattern)
		if err != nil {
			return r.lineErr(file, lineno, "glob failed for %s: %v", pattern, err)
		}
		outer := *active
		for _, m := range matches {
			sub := fl
			sub.checkPerm = true
			sub.neverMatch = fl.neverMatch || !outer
			if _, err := r.readFile(m, sub, active, depth+1); err != nil {
				return err
			}
			// Match in an included file does not change the includer's state.
			*active = outer
		}
	}
	return nil
}

// matchLine evaluates the criteria of a Match line (OpenSSH match_cfg_line).
func (r *resolver) matchLine(rest, file string, lineno int) (bool, error) {
	errf := func(format string, args ...any) (bool, error) {
		return false, r.lineErr(file, lineno, format, args...)
	}
	port := DefaultPort
	if r.v.port != nil {
		port = *r.v.port
	}
	ruser := r.o.LocalUser
	if r.v.user != nil {
		ruser = *r.v.user
	}
	host := r.hostArg
	switch {
	case r.final:
		host = *r.v.hostName
	case r.v.hostName != nil:
		h, err := expandTokens(*r.v.hostName, tokens{'h': r.hostArg}, false)
		if err != nil {
			return errf("expanding HostName: %v", err)
		}
		host = h
	}
	result := true
	attributes := 0
	cp := rest
	for cp != "" {
		attrib, ok := strdelim(&cp)
		if !ok || attrib == "" {
			break
		}
		if attrib[0] == '#' {
			break
		}
		neg := attrib[0] == '!'
		if neg {
			attrib = attrib[1:]
		}
		if strings.EqualFold(attrib, "all") {
			next := cp
			arg, _ := strdelim(&next)
			if attributes > 1 || (arg != "" && arg[0] != '#') {
				return errf("'all' cannot be combined with other Match attributes")
			}
			if result {
				result = !neg
			}
			return result, nil
		}
		attributes++
		if strings.EqualFold(attrib, "canonical") || strings.EqualFold(attrib, "final") {
			if strings.EqualFold(attrib, "final") && !r.final {
				r.wantFinal = true
			}
			if r.final == neg {
				result = false
			}
			continue
		}
		arg, _ := strdelim(&cp)
		if arg == "" || arg[0] == '#' {
			return errf("missing Match criteria for %s", attrib)
		}
		var m bool
		switch strings.ToLower(attrib) {
		case "host":
			m = matchHostname(host, arg) == 1
		case "originalhost":
			m = matchHostname(r.hostArg, arg) == 1
		case "user":
			m = matchPatternList(ruser, arg, false) == 1
		case "localuser":
			m = matchPatternList(r.o.LocalUser, arg, false) == 1
		case "localnetwork":
			m = matchLocalNetwork(arg)
		case "exec":
			ps := strconv.Itoa(port)
			keyalias := host
			if r.v.hostKeyAlias != nil {
				keyalias = *r.v.hostKeyAlias
			}
			cmd, err := expandTokens(arg, tokens{
				'C': connectionHash(r.thisHost, host, ps, ruser),
				'L': shortHost(r.thisHost), 'd': r.o.Home, 'h': host, 'k': keyalias,
				'l': r.thisHost, 'n': r.hostArg, 'p': ps, 'r': ruser,
				'u': r.o.LocalUser, 'i': strconv.Itoa(r.uid),
			}, false)
			if err != nil {
				return errf("match exec: %v", err)
			}
			if !result {
				continue // ssh skips the command once a criterion failed
			}
			if r.o.disableExec {
				return errf("match exec is disabled")
			}
			status, err := r.runExec(cmd)
			if err != nil {
				return errf("match exec '%s' error: %v", cmd, err)
			}
			m = status == 0
		default:
			return errf("unsupported Match attribute %s", attrib)
		}
		if m == neg {
			result = false
		}
	}
	if attributes == 0 {
		return errf("one or more attributes required for Match")
	}
	return result, nil
}

// shellExec runs a Match exec command like ssh, /bin/sh -c with stdin and
// stdout on /dev/null and stderr on Options.ExecStderr.
func (r *resolver) shellExec(cmd string) (int, error) {
	c := exec.Command("/bin/sh", "-c", cmd)
	c.Stderr = r.o.ExecStderr
	err := c.Run()
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && !ws.Exited() {
			return -1, fmt.Errorf("command exited abnormally")
		}
		return ee.ExitCode(), nil
	}
	return -1, err
}

func matchLocalNetwork(list string) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok {
			continue
		}
		for _, c := range strings.Split(list, ",") {
			_, n, err := net.ParseCIDR(c)
			if err == nil && n.Contains(ipn.IP) {
				return true
			}
		}
	}
	return false
}

func shortHost(h string) string {
	if i := strings.IndexByte(h, '.'); i >= 0 {
		return h[:i]
	}
	return h
}

// finish fills defaults and expands values the way ssh does before it
// prints -G output or connects.
func (r *resolver) finish(host string) (*Host, error) {
	v := &r.v
	h := &Host{Alias: r.hostArg, HostName: host, printed: &printedForm{}}
	h.User = r.o.LocalUser
	if v.user != nil {
		h.User = *v.user
	}
	h.Port = DefaultPort
	if v.port != nil {
		h.Port = *v.port
	}
	if len(v.identityFiles) == 0 {
		for _, f := range defaultIdentityFiles {
			v.identityFiles = append(v.identityFiles, fileEntry{f, fromSystem})
		}
	}
	h.IdentitiesOnly = v.identitiesOnly != nil && *v.identitiesOnly
	h.BatchMode = v.batchMode != nil && *v.batchMode
	h.HashKnownHosts = v.hashKnownHosts != nil && *v.hashKnownHosts
	h.StrictHostKeyChecking = "ask"
	if v.strict != nil {
		h.StrictHostKeyChecking = *v.strict
	}
	switch {
	case v.aliveInterval != nil:
		h.ServerAliveInterval = time.Duration(*v.aliveInterval) * time.Second
	case h.BatchMode:
		h.ServerAliveInterval = 300 * time.Second
	}
	h.ServerAliveCountMax = DefaultServerAliveCountMax
	if v.aliveMax != nil {
		h.ServerAliveCountMax = *v.aliveMax
	}
	if v.connectTimeout != nil {
		h.ConnectTimeout = time.Duration(*v.connectTimeout) * time.Second
		h.printed.connectTimeout = strconv.Itoa(*v.connectTimeout)
	}
	if v.hostKeyAlias != nil {
		h.HostKeyAlias = *v.hostKeyAlias
	}
	algs := ""
	if v.hostKeyAlgorithms != nil {
		algs = *v.hostKeyAlgorithms
	}
	list, err := assembleAlgorithms(algs, defaultHostKeyAlgorithms, allHostKeyAlgorithms)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: HostKeyAlgorithms: %w", r.hostArg, err)
	}
	h.HostKeyAlgorithms = list
	h.HostKeyAlgorithmsSet = v.hostKeyAlgorithms != nil

	jumpHost := ""
	if v.jumpHost != nil && *v.jumpHost != "none" {
		jumpHost = *v.jumpHost
	}
	proxyCommand := ""
	if v.proxyCommand != nil && *v.proxyCommand != "none" {
		proxyCommand = *v.proxyCommand
	}
	if jumpHost != "" {
		hops, err := ParseJump(jumpHost)
		if err == nil {
			last := hops[len(hops)-1]
			jp := last.Port
			if jp <= 0 {
				jp = DefaultPort
			}
			ju := last.User
			if ju == "" {
				ju = h.User
			}
			if last.Host == host && jp == h.Port && ju == h.User {
				return nil, fmt.Errorf("resolving %s: jumphost loop via %s", r.hostArg, last.Host)
			}
		}
		h.ProxyJump = jumpHost
	}

	ps := strconv.Itoa(h.Port)
	keyalias := r.hostArg
	if h.HostKeyAlias != "" {
		keyalias = h.HostKeyAlias
	}
	tok := tokens{
		'C': connectionHash(r.thisHost, host, ps, h.User),
		'L': shortHost(r.thisHost), 'i': strconv.Itoa(r.uid), 'k': keyalias,
		'l': r.thisHost, 'n': r.hostArg, 'p': ps, 'd': r.o.Home, 'h': host,
		'r': h.User, 'u': r.o.LocalUser,
	}
	expand := func(what, s string) (string, error) {
		t, err := expandTilde(s, r.o.Home)
		if err == nil {
			t, err = expandTokens(t, tok, true)
		}
		if err != nil {
			return "", fmt.Errorf("resolving %s: expanding %s %q: %w", r.hostArg, what, s, err)
		}
		return t, nil
	}
	if v.identityAgent != nil {
		h.IdentityAgent = *v.identityAgent
		if h.IdentityAgent != "SSH_AUTH_SOCK" {
			if h.IdentityAgent, err = expand("IdentityAgent", h.IdentityAgent); err != nil {
				return nil, err
			}
		}
	}
	ukh := v.userKnownHosts
	if ukh == nil {
		ukh = defaultUserKnownHosts
	}
	for _, f := range ukh {
		e, err := expand("UserKnownHostsFile", f)
		if err != nil {
			return nil, err
		}
		h.UserKnownHostsFiles = append(h.UserKnownHostsFiles, e)
	}
	h.GlobalKnownHostsFiles = append([]string(nil), defaultGlobalKnownHosts...)
	if v.globalKnownHosts != nil {
		h.GlobalKnownHostsFiles = v.globalKnownHosts
	}
	for _, f := range v.identityFiles {
		h.printed.identityFiles = append(h.printed.identityFiles, f.path)
		if strings.EqualFold(f.path, "none") {
			continue
		}
		e, err := expand("IdentityFile", f.path)
		if err != nil {
			return nil, err
		}
		h.IdentityFiles = append(h.IdentityFiles, e)
	}
	for _, f := range v.certificateFiles {
		h.printed.certificateFiles = append(h.printed.certificateFiles, f.path)
		if strings.EqualFold(f.path, "none") {
			continue
		}
		e, err := expand("CertificateFile", f.path)
		if err != nil {
			return nil, err
		}
		h.CertificateFiles = append(h.CertificateFiles, e)
	}
	if jumpHost == "" && proxyCommand != "" {
		h.printed.proxyCommand = proxyCommand
		h.ProxyCommand, err = expandTokens(proxyCommand, tokens{'h': host, 'n': r.hostArg, 'p': ps, 'r': h.User}, false)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: expanding ProxyCommand: %w", r.hostArg, err)
		}
	}
	return h, nil
}

// errInvalidUser is a remote user name that OpenSSH 9.6 refuses because a
// shell would interpret it: %r reaches Match exec and ProxyCommand, both run by
// /bin/sh (CVE-2023-51385).
var errInvalidUser = errors.New("remote username contains invalid characters")

// validRemoteUser is OpenSSH's valid_ruser: no shell metacharacters, control
// characters, leading "-", "-" after whitespace (an option to a command) or
// trailing "\\" (it would quote what follows).
func validRemoteUser(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c == 0x7f || strings.IndexByte("'`\";&<>|(){}", c) >= 0 {
			return false
		}
		if strings.IndexByte(whitespace, c) >= 0 && i+1 < len(s) && s[i+1] == '-' {
			return false
		}
		if c == '\\' && i+1 == len(s) {
			return false
		}
	}
	return true
}

// validHostname rejects what ssh refuses as a destination.
func validHostname(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte("'`\"$\\;&<>|(){},", c) >= 0 || c <= ' ' || c == 0x7f {
			return false
		}
	}
	return true
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// a2port parses a port number or service name; 0 means invalid.
func a2port(s string) int {
	n, err := strconv.Atoi(s)
	if err == nil {
		if n <= 0 || n > 65535 || strings.HasPrefix(s, "+") {
			return 0
		}
		return n
	}
	if p, err := net.LookupPort("tcp", s); err == nil {
		return p
	}
	return 0
}

// convtime parses an ssh time value ("90", "1m30s", "1h", "2w").
func convtime(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	total := 0
	for s != "" {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == 0 {
			return 0, false
		}
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, false
		}
		mult := 1
		s = s[i:]
		if s != "" {
			switch s[0] {
			case 's', 'S':
			case 'm', 'M':
				mult = 60
			case 'h', 'H':
				mult = 3600
			case 'd', 'D':
				mult = 86400
			case 'w', 'W':
				mult = 604800
			default:
				return 0, false
			}
			s = s[1:]
		}
		if n > (1<<31-1)/mult || total > (1<<31-1)-n*mult {
			return 0, false
		}
		total += n * mult
	}
	return total, true
}
