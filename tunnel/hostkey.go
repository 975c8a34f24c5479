package tunnel

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/kfwd/kfwd/sshconfig"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyKind says why a host key was not accepted.
type HostKeyKind int

// The kinds of host key failure.
const (
	// HostKeyUnknown: no key of this type is recorded for the host and it could not
	// be confirmed (StrictHostKeyChecking yes, BatchMode, no terminal, or the user said no).
	HostKeyUnknown HostKeyKind = iota + 1
	// HostKeyChanged: a different key of the same type is recorded for the host.
	HostKeyChanged
	// HostKeyRevoked: the key is listed in a @revoked line.
	HostKeyRevoked
)

func (k HostKeyKind) String() string {
	switch k {
	case HostKeyUnknown:
		return "unknown"
	case HostKeyChanged:
		return "changed"
	case HostKeyRevoked:
		return "revoked"
	}
	return "HostKeyKind(" + strconv.Itoa(int(k)) + ")"
}

// HostKeyError is a host key that was not accepted. File and Line name the
// known_hosts entry that holds the old key (Changed) or revokes it (Revoked), so
// the caller can suggest `ssh-keygen -R Host -f File`.
type HostKeyError struct {
	Host        string // name as looked up in known_hosts: "host", "[host]:port" or the HostKeyAlias
	Kind        HostKeyKind
	KeyType     string // type of the key the server presented, e.g. "ED25519"
	Fingerprint string // SHA256 fingerprint of the key the server presented
	File        string // known_hosts file of the old or revoking entry ("" for unknown keys)
	Line        int
	Reason      string // for unknown keys: why it could not be accepted
}

func (e *HostKeyError) Error() string {
	switch e.Kind {
	case HostKeyChanged:
		return fmt.Sprintf("host key for %s has changed: the server presented %s key %s but %s:%d holds a different key "+
			"(someone could be intercepting the connection, or the host was reinstalled)",
			e.Host, e.KeyType, e.Fingerprint, e.File, e.Line)
	case HostKeyRevoked:
		return fmt.Sprintf("host key for %s (%s %s) is marked @revoked in %s:%d", e.Host, e.KeyType, e.Fingerprint, e.File, e.Line)
	}
	msg := fmt.Sprintf("host key for %s is unknown (%s %s)", e.Host, e.KeyType, e.Fingerprint)
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg
}

// HostKeyInfo is the host key a server presented and kfwd accepted.
type HostKeyInfo struct {
	Host        string // name as looked up in known_hosts: "host", "[host]:port" or the HostKeyAlias
	Type        string // e.g. "ED25519", "ED25519-CERT"
	Fingerprint string // SHA256 fingerprint
	// Added is true for a key that was not in known_hosts and was accepted
	// (StrictHostKeyChecking accept-new or no, or confirmed at the prompt).
	Added bool
	File  string // the known_hosts file an added key was recorded in; "" when recording failed
}

// knownHostsDB is the parsed union of a host's known_hosts files.
type knownHostsDB struct {
	db        *knownhosts.HostKeyDB // nil when no file exists
	names     map[string]string     // filtered copy -> original file name
	certLines map[string]bool       // "orig:line" of @cert-authority entries
}

// loadKnownHosts reads the files that exist. Lines the x/crypto parser would
// reject (and with them the whole file) are skipped with a warning instead, the
// way OpenSSH skips them: the parsers get a copy of each file with those lines
// blanked, so line numbers still match the original.
func loadKnownHosts(files []string, logf func(string, ...any)) (*knownHostsDB, error) {
	kh := &knownHostsDB{names: map[string]string{}, certLines: map[string]bool{}}
	var dir string
	defer func() {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}()
	type copyFile struct {
		path  string
		lines [][]byte
	}
	var copies []*copyFile
	seen := map[string]bool{}
	for _, f := range files {
		if f == "" || seen[f] {
			continue
		}
		seen[f] = true
		data, err := os.ReadFile(f)
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				logf("warning: skipping known hosts file %s: %v", f, err)
			}
			continue
		}
		if dir == "" {
			if dir, err = os.MkdirTemp("", "kfwd-known-hosts-"); err != nil {
				return nil, fmt.Errorf("reading known hosts: %w", err)
			}
		}
		lines := bytes.Split(data, []byte("\n"))
		for i, line := range lines {
			cert, err := checkKnownHostsLine(line)
			if err != nil {
				logf("warning: %s:%d: ignoring unparsable known hosts line: %v", f, i+1, err)
				lines[i] = nil
			} else if cert {
				kh.certLines[fmt.Sprintf("%s:%d", f, i+1)] = true
			}
		}
		c := &copyFile{path: filepath.Join(dir, strconv.Itoa(len(copies))), lines: lines}
		kh.names[c.path] = f
		copies = append(copies, c)
	}
	if len(copies) == 0 {
		return kh, nil
	}
	paths := make([]string, len(copies))
	for i, c := range copies {
		paths[i] = c.path
	}
	// The checks above mirror x/crypto's parser; should it still refuse a line,
	// blank that one too and try again.
	errLine := regexp.MustCompile(`^knownhosts: (.*):(\d+): (.*)$`)
	for attempt := 0; ; attempt++ {
		for _, c := range copies {
			if err := os.WriteFile(c.path, bytes.Join(c.lines, []byte("\n")), 0o600); err != nil {
				return nil, fmt.Errorf("reading known hosts: %w", err)
			}
		}
		db, err := knownhosts.NewDB(paths...)
		if err == nil {
			kh.db = db
			return kh, nil
		}
		m := errLine.FindStringSubmatch(err.Error())
		if m == nil || attempt > 1000 {
			return nil, fmt.Errorf("reading known hosts: %w", kh.rename(err))
		}
		n, _ := strconv.Atoi(m[2])
		i := slices.IndexFunc(copies, func(c *copyFile) bool { return c.path == m[1] })
		if i < 0 || n < 1 || n > len(copies[i].lines) || copies[i].lines[n-1] == nil {
			return nil, fmt.Errorf("reading known hosts: %w", kh.rename(err))
		}
		logf("warning: %s:%d: ignoring unparsable known hosts line: %s", kh.names[m[1]], n, m[3])
		copies[i].lines[n-1] = nil
	}
}

// rename replaces the names of filtered copies in err's text with the originals.
func (kh *knownHostsDB) rename(err error) error {
	s := err.Error()
	for tmp, orig := range kh.names {
		s = strings.ReplaceAll(s, tmp, orig)
	}
	return errors.New(s)
}

func (kh *knownHostsDB) origName(f string) string {
	if o, ok := kh.names[f]; ok {
		return o
	}
	return f
}

// checkKnownHostsLine reports whether x/crypto's known_hosts parser accepts line,
// and whether it is a @cert-authority entry. It mirrors parseLine in
// golang.org/x/crypto/ssh/knownhosts.
func checkKnownHostsLine(line []byte) (cert bool, err error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return false, nil
	}
	word := func() string {
		i := bytes.IndexAny(line, " \t")
		if i < 0 {
			w := string(line)
			line = nil
			return w
		}
		w := string(line[:i])
		line = bytes.TrimLeft(line[i:], " \t")
		return w
	}
	marker := ""
	if len(line) > 0 && line[0] == '@' {
		marker = word()
		if marker != "@cert-authority" && marker != "@revoked" {
			return false, fmt.Errorf("unknown marker %q", marker)
		}
	}
	pattern := word()
	if pattern == "" || pattern[0] == '@' {
		return false, fmt.Errorf("bad host pattern %q", pattern)
	}
	if len(line) == 0 {
		return false, errors.New("missing key type")
	}
	typ := word()
	if len(line) == 0 {
		return false, errors.New("missing key")
	}
	blob, err := base64.StdEncoding.DecodeString(word())
	if err != nil {
		return false, fmt.Errorf("bad key encoding: %w", err)
	}
	key, err := ssh.ParsePublicKey(blob)
	if err != nil {
		return false, err
	}
	if key.Type() != typ {
		return false, fmt.Errorf("key type mismatch: found %q, want %q", key.Type(), typ)
	}
	if marker == "@revoked" {
		return false, nil
	}
	if pattern[0] == '|' {
		parts := strings.Split(pattern, "|")
		if len(parts) != 4 || parts[1] != "1" {
			return false, errors.New("bad hashed host")
		}
		for _, p := range parts[2:] {
			if _, err := base64.StdEncoding.DecodeString(p); err != nil {
				return false, fmt.Errorf("bad hashed host: %w", err)
			}
		}
		return marker == "@cert-authority", nil
	}
	for _, p := range strings.Split(pattern, ",") {
		if p == "" {
			continue
		}
		if p[0] == '!' {
			if p = p[1:]; p == "" {
				return false, errors.New("negation without following hostname")
			}
		}
		if p[0] == '[' {
			if _, _, err := net.SplitHostPort(p); err != nil {
				return false, err
			}
		}
	}
	return marker == "@cert-authority", nil
}

// hostKeyCheck verifies one host's key against its known_hosts files and applies
// StrictHostKeyChecking to keys it does not find there.
type hostKeyCheck struct {
	host   *sshconfig.Host
	name   string // "host:port" (or "alias:22") as looked up in known_hosts
	remote string // address shown in the confirmation prompt
	db     *knownHostsDB
	prompt Prompter // nil: cannot ask
	logf   func(string, ...any)
	err    error // the last refusal, kept because the handshake error flattens it
	info   HostKeyInfo
}

func newHostKeyCheck(h *sshconfig.Host, remote string, prompt Prompter, logf func(string, ...any)) (*hostKeyCheck, error) {
	files := append(slices.Clip(h.UserKnownHostsFiles), h.GlobalKnownHostsFiles...)
	db, err := loadKnownHosts(files, logf)
	if err != nil {
		return nil, err
	}
	name := net.JoinHostPort(h.HostName, strconv.Itoa(port(h)))
	if h.HostKeyAlias != "" {
		// Like ssh, the alias replaces both the name and the port.
		name = net.JoinHostPort(h.HostKeyAlias, strconv.Itoa(sshconfig.DefaultPort))
	}
	if h.BatchMode {
		prompt = nil
	}
	return &hostKeyCheck{host: h, name: name, remote: remote, db: db, prompt: prompt, logf: logf}, nil
}

// displayName is the host as known_hosts writes it: "host" or "[host]:port".
func (c *hostKeyCheck) displayName() string { return knownhosts.Normalize(c.name) }

// algorithms returns the host key algorithms to offer. A configured
// HostKeyAlgorithms is used as it is; ssh's default list (or x/crypto's, for
// a Host built by hand) is reordered like OpenSSH's order_hostkeyalgs: the
// types known_hosts records for the host first, so a host known by its ECDSA
// key is verified with that key instead of being reported unknown because it
// also has (and would by default be asked for) an ed25519 key.
func (c *hostKeyCheck) algorithms() []string {
	if c.host.HostKeyAlgorithmsSet {
		return c.host.HostKeyAlgorithms
	}
	base := c.host.HostKeyAlgorithms
	if len(base) == 0 {
		base = ssh.SupportedAlgorithms().HostKeys
	}
	if c.db.db == nil {
		return base
	}
	known := c.db.db.HostKeyAlgorithms(c.name)
	if len(known) == 0 {
		return base
	}
	var first, rest []string
	for _, a := range base {
		if slices.Contains(known, a) {
			first = append(first, a)
		} else {
			rest = append(rest, a)
		}
	}
	return append(first, rest...)
}

// callback is the ssh.HostKeyCallback.
func (c *hostKeyCheck) callback(_ string, _ net.Addr, key ssh.PublicKey) error {
	err := c.verify(key)
	if err != nil {
		c.err = err
	}
	return err
}

func (c *hostKeyCheck) verify(key ssh.PublicKey) error {
	if c.db.db == nil {
		return c.unknown(key)
	}
	check := c.db.db.HostKeyCallback()
	// The address argument wins over the remote one; it only has to parse.
	placeholder := &net.TCPAddr{IP: net.IPv4zero}
	err := check(c.name, placeholder, key)
	if cert, ok := key.(*ssh.Certificate); ok && err != nil && !isKeyError(err) {
		// Like ssh: a host certificate no known CA vouches for falls back to its plain key.
		c.logf("host certificate for %s not accepted (%v); checking its plain key", c.displayName(), err)
		key = cert.Key
		err = check(c.name, placeholder, key)
	}
	if err == nil {
		c.accept(key)
		c.logf("host key for %s found in known hosts: %s %s", c.displayName(), keyType(key), ssh.FingerprintSHA256(key))
		return nil
	}
	var revoked *xknownhosts.RevokedError
	if errors.As(err, &revoked) {
		return c.refuse(key, HostKeyRevoked, c.db.origName(revoked.Revoked.Filename), revoked.Revoked.Line, "")
	}
	var keyErr *xknownhosts.KeyError
	if !errors.As(err, &keyErr) {
		return fmt.Errorf("checking host key: %w", c.db.rename(err))
	}
	plain := key
	if cert, ok := key.(*ssh.Certificate); ok {
		plain = cert.Key
	}
	for _, w := range keyErr.Want {
		file := c.db.origName(w.Filename)
		if c.db.certLines[fmt.Sprintf("%s:%d", file, w.Line)] {
			continue
		}
		if w.Key.Type() == plain.Type() {
			return c.refuse(plain, HostKeyChanged, file, w.Line, "")
		}
	}
	if len(keyErr.Want) > 0 {
		c.logf("host %s is known by keys of other types", c.displayName())
	}
	return c.unknown(plain)
}

func isKeyError(err error) bool {
	var ke *xknownhosts.KeyError
	var re *xknownhosts.RevokedError
	return errors.As(err, &ke) || errors.As(err, &re)
}

func (c *hostKeyCheck) refuse(key ssh.PublicKey, kind HostKeyKind, file string, line int, reason string) error {
	return &HostKeyError{Host: c.displayName(), Kind: kind, KeyType: keyType(key),
		Fingerprint: ssh.FingerprintSHA256(key), File: file, Line: line, Reason: reason}
}

// unknown applies StrictHostKeyChecking to a key not found in known_hosts.
// Changed keys never get here: they are refused whatever the setting. (With
// "no", ssh would connect to a changed host but disable port forwarding, which
// is all kfwd does.)
func (c *hostKeyCheck) unknown(key ssh.PublicKey) error {
	switch c.host.StrictHostKeyChecking {
	case "yes":
		return c.refuse(key, HostKeyUnknown, "", 0, "StrictHostKeyChecking is yes")
	case "no", "off", "accept-new":
		c.record(key)
		return nil
	}
	if c.prompt == nil {
		reason := "no terminal to confirm it"
		if c.host.BatchMode {
			reason = "BatchMode is on"
		}
		return c.refuse(key, HostKeyUnknown, "", 0, reason)
	}
	fp := ssh.FingerprintSHA256(key)
	q := fmt.Sprintf("The authenticity of host '%s (%s)' can't be established.\n%s key fingerprint is %s.\n"+
		"Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
		c.displayName(), c.remote, keyType(key), fp)
	for range 10 {
		answer, err := c.prompt.Ask(q)
		if err != nil {
			return c.refuse(key, HostKeyUnknown, "", 0, fmt.Sprintf("confirmation failed: %v", err))
		}
		answer = strings.TrimSpace(answer)
		switch {
		case strings.EqualFold(answer, "yes") || answer == fp:
			c.record(key)
			return nil
		case strings.EqualFold(answer, "no"):
			return c.refuse(key, HostKeyUnknown, "", 0, "not confirmed")
		}
		q = "Please type 'yes', 'no' or the fingerprint: "
	}
	return c.refuse(key, HostKeyUnknown, "", 0, "not confirmed")
}

// accept notes key as the host's accepted key.
func (c *hostKeyCheck) accept(key ssh.PublicKey) {
	c.info = HostKeyInfo{Host: c.displayName(), Type: keyType(key), Fingerprint: ssh.FingerprintSHA256(key)}
}

// record accepts a key not found in known_hosts and appends it to the first
// user known_hosts file. Failing to record does not fail the connection, as
// with ssh.
func (c *hostKeyCheck) record(key ssh.PublicKey) {
	c.accept(key)
	c.info.Added = true
	if len(c.host.UserKnownHostsFiles) == 0 {
		c.logf("warning: no user known hosts file to record the key for %s in", c.displayName())
		return
	}
	file := c.host.UserKnownHostsFiles[0]
	if err := appendKnownHost(file, c.displayName(), key, c.host.HashKnownHosts); err != nil {
		c.logf("warning: failed to add the host key for %s to %s: %v", c.displayName(), file, err)
		return
	}
	c.info.File = file
	c.logf("permanently added '%s' (%s) to the list of known hosts in %s", c.displayName(), keyType(key), file)
}

func appendKnownHost(file, name string, key ssh.PublicKey, hash bool) error {
	if hash {
		name = xknownhosts.HashHostname(name)
	}
	line := name + " " + key.Type() + " " + base64.StdEncoding.EncodeToString(key.Marshal()) + "\n"
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	// Start on a fresh line if the file does not end with one.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if r, err := os.Open(file); err == nil {
			if _, err := r.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
				line = "\n" + line
			}
			r.Close()
		}
	}
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// keyType names a key type the way ssh prints it: ED25519, RSA, ECDSA, ...
func keyType(key ssh.PublicKey) string {
	suffix := ""
	if cert, ok := key.(*ssh.Certificate); ok {
		key, suffix = cert.Key, "-CERT"
	}
	t := key.Type()
	switch {
	case t == ssh.KeyAlgoED25519:
		t = "ED25519"
	case t == ssh.KeyAlgoRSA:
		t = "RSA"
	case strings.HasPrefix(t, "ecdsa-"):
		t = "ECDSA"
	case t == ssh.KeyAlgoSKED25519:
		t = "ED25519-SK"
	case t == ssh.KeyAlgoSKECDSA256:
		t = "ECDSA-SK"
	case t == "ssh-dss":
		t = "DSA"
	}
	return t + suffix
}

func port(h *sshconfig.Host) int {
	if h.Port == 0 {
		return sshconfig.DefaultPort
	}
	return h.Port
}
