package tunnel

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/kfwd/kfwd/sshconfig"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Prompter asks the person at the terminal. Secret must not echo. A nil
// Prompter (or BatchMode) means nobody can be asked.
type Prompter interface {
	Secret(prompt string) ([]byte, error)
	Ask(prompt string) (string, error)
}

// ErrBadPassphrase is wrapped by the error for a key whose passphrase was
// entered wrong three times.
var ErrBadPassphrase = errors.New("incorrect passphrase")

// AuthError is a server that accepted none of the credentials kfwd had.
type AuthError struct {
	User, Host string
	Methods    []string // methods the server allows, e.g. ["publickey"]
	Offered    []string // keys offered, "path TYPE SHA256:..." or "agent: comment TYPE SHA256:..."
	KeyErrors  []error  // keys that could not be used (unreadable, passphrase not given or wrong)
}

func (e *AuthError) Error() string {
	msg := fmt.Sprintf("permission denied for %s@%s (%s)", e.User, e.Host, strings.Join(e.Methods, ","))
	switch n := len(e.Offered); n {
	case 0:
		msg += ": no keys to offer"
	case 1:
		msg += ": offered 1 key, refused"
	default:
		msg += fmt.Sprintf(": offered %d keys, all refused", n)
	}
	for _, err := range e.KeyErrors {
		msg += "; " + err.Error()
	}
	return msg
}

func (e *AuthError) Unwrap() []error { return e.KeyErrors }

// AuthInfo is how the client logged in.
type AuthInfo struct {
	// Method is the method that completed authentication: "publickey",
	// "keyboard-interactive" or "password"; "none" when the server asked for
	// no credentials.
	Method string
	// Key labels the public key that logged in, as AuthError.Offered does:
	// "path TYPE SHA256:..." or "agent: comment TYPE SHA256:...". Empty for
	// other methods.
	Key string
}

// authenticator offers, in order: agent keys (restricted by IdentitiesOnly),
// identity files (decrypted only once the server would accept them), each
// preceded by its certificates; then keyboard-interactive and password when
// someone can be asked. Every key is its own publickey attempt, so a key whose
// passphrase is not given does not end the others' turn.
type authenticator struct {
	host   *sshconfig.Host
	user   string
	prompt Prompter // nil in BatchMode or without a terminal
	logf   func(string, ...any)

	agentConn net.Conn
	keys      []*offer
	next      int
	current   *offer

	offered   []string
	keyErrors []error
	methods   []string
	kbdTries  int
	pwTries   int
	noAsk     bool // an interactive prompt failed: stop asking
	exhausted bool
	info      AuthInfo // the method last tried: the one that succeeded, once the handshake has
}

// offer is one key (or certificate) to try.
type offer struct {
	label  string
	signer func() (ssh.Signer, error) // the key's signer; may prompt for a passphrase when called
	// direct reports whether the signature may be sent without asking the
	// server first whether it would accept the key (one round trip less): true
	// for a key file that needs no passphrase. Agent keys are asked about
	// first, because the agent may ask the person to confirm each signature.
	direct func() bool
	signed bool  // we signed: the server accepted the key, or direct
	err    error // signing failed (e.g. the passphrase was not given)
}

// fileKey is an identity file whose private half is read and decrypted lazily.
type fileKey struct {
	path   string
	pub    ssh.PublicKey // nil for an encrypted PEM key without .pub file
	pem    []byte        // nil when only the .pub file exists
	prompt Prompter
	logf   func(string, ...any)

	once   sync.Once
	signer ssh.Signer
	err    error

	plainOnce sync.Once
	isPlain   bool
}

// plain reports whether the key needs no passphrase. Parsing it here also
// serves the signature that follows.
func (k *fileKey) plain() bool {
	k.plainOnce.Do(func() {
		if k.pem == nil {
			return
		}
		if s, err := ssh.ParsePrivateKey(k.pem); err == nil {
			k.isPlain = true
			k.once.Do(func() { k.signer = s })
		}
	})
	return k.isPlain
}

func (k *fileKey) load() (ssh.Signer, error) {
	k.once.Do(func() { k.signer, k.err = k.decrypt() })
	return k.signer, k.err
}

func (k *fileKey) decrypt() (ssh.Signer, error) {
	if k.pem == nil {
		return nil, fmt.Errorf("key %s: private key file missing", k.path)
	}
	s, err := ssh.ParsePrivateKey(k.pem)
	if err == nil {
		return s, nil
	}
	var missing *ssh.PassphraseMissingError
	if !errors.As(err, &missing) {
		return nil, fmt.Errorf("key %s: %w", k.path, err)
	}
	if k.prompt == nil {
		return nil, fmt.Errorf("key %s is encrypted and there is no terminal to ask for its passphrase", k.path)
	}
	for range 3 {
		pass, err := k.prompt.Secret(fmt.Sprintf("Enter passphrase for key '%s': ", k.path))
		if err != nil {
			return nil, fmt.Errorf("key %s: reading passphrase: %w", k.path, err)
		}
		if len(pass) == 0 {
			// ssh: an empty answer skips the key.
			return nil, fmt.Errorf("key %s: no passphrase given", k.path)
		}
		s, err := ssh.ParsePrivateKeyWithPassphrase(k.pem, pass)
		clear(pass)
		if err == nil {
			return s, nil
		}
		k.logf("bad passphrase for key %s", k.path)
	}
	return nil, fmt.Errorf("key %s: %w (3 attempts)", k.path, ErrBadPassphrase)
}

// lazySigner presents a known public key and decrypts the private key on the
// first signature, which x/crypto only asks for once the server accepted the key.
type lazySigner struct {
	pub ssh.PublicKey
	key *fileKey
}

func (s *lazySigner) PublicKey() ssh.PublicKey { return s.pub }

func (s *lazySigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	inner, err := s.key.load()
	if err != nil {
		return nil, err
	}
	return inner.Sign(rand, data)
}

func (s *lazySigner) SignWithAlgorithm(rand io.Reader, data []byte, algo string) (*ssh.Signature, error) {
	inner, err := s.key.load()
	if err != nil {
		return nil, err
	}
	return signWithAlgorithm(inner, rand, data, algo)
}

func signWithAlgorithm(s ssh.Signer, rand io.Reader, data []byte, algo string) (*ssh.Signature, error) {
	if as, ok := s.(ssh.AlgorithmSigner); ok {
		return as.SignWithAlgorithm(rand, data, algo)
	}
	if algo != "" && algo != s.PublicKey().Type() {
		return nil, fmt.Errorf("signer does not support algorithm %s", algo)
	}
	return s.Sign(rand, data)
}

// trackingSigner notes that the server accepted the key (we were asked to
// sign), and tells x/crypto whether it may sign without asking first.
type trackingSigner struct {
	ssh.Signer
	o      *offer
	direct bool
}

// SignDirectly implements ssh.DirectSigner (a patch in third_party).
func (s *trackingSigner) SignDirectly() bool { return s.direct }

func (s *trackingSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	s.o.signed = true
	sig, err := s.Signer.Sign(rand, data)
	s.o.err = err
	return sig, err
}

func (s *trackingSigner) SignWithAlgorithm(rand io.Reader, data []byte, algo string) (*ssh.Signature, error) {
	s.o.signed = true
	sig, err := signWithAlgorithm(s.Signer, rand, data, algo)
	s.o.err = err
	return sig, err
}

type trackingMultiSigner struct {
	*trackingSigner
	algos []string
}

func (s *trackingMultiSigner) Algorithms() []string { return s.algos }

func track(s ssh.Signer, o *offer) ssh.Signer {
	t := &trackingSigner{Signer: s, o: o, direct: o.direct != nil && o.direct()}
	if m, ok := s.(ssh.MultiAlgorithmSigner); ok {
		return &trackingMultiSigner{trackingSigner: t, algos: m.Algorithms()}
	}
	return t
}

func describeKey(source string, key ssh.PublicKey) string {
	return fmt.Sprintf("%s %s %s", source, keyType(key), ssh.FingerprintSHA256(key))
}

func newAuthenticator(h *sshconfig.Host, prompt Prompter, logf func(string, ...any)) *authenticator {
	if h.BatchMode {
		prompt = nil
	}
	a := &authenticator{host: h, user: h.User, prompt: prompt, logf: logf}
	if a.user == "" {
		if u, err := user.Current(); err == nil {
			a.user = u.Username
		}
	}
	a.collect()
	return a
}

// readPrivateKey reads a private key file unless its permissions are too open.
func readPrivateKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkKeyPermissions(path, fi); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// collect gathers every key to offer, reading files but decrypting nothing.
func (a *authenticator) collect() {
	files := a.readIdentities()
	var certs []*ssh.Certificate
	for _, k := range files {
		certs = append(certs, a.readCertificate(k.path+"-cert.pub", false)...)
	}
	for _, path := range a.host.CertificateFiles {
		certs = append(certs, a.readCertificate(path, true)...)
	}
	q := &offerQueue{a: a, certs: certs, done: map[string]bool{}}
	a.queueAgentKeys(q, files)
	a.queueFileKeys(q, files)
}

// readIdentities reads every IdentityFile that can be offered (a private
// key, or a .pub that picks an agent key), decrypting nothing.
func (a *authenticator) readIdentities() []*fileKey {
	var files []*fileKey
	for _, path := range a.host.IdentityFiles {
		if k := a.readIdentity(path); k != nil {
			files = append(files, k)
		}
	}
	return files
}

// readIdentity reads one identity file and its .pub; nil when it cannot be
// used (logged, except a default identity that does not exist).
func (a *authenticator) readIdentity(path string) *fileKey {
	k := &fileKey{path: path, prompt: a.prompt, logf: a.logf}
	if data, err := os.ReadFile(path + ".pub"); err == nil {
		if pk, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
			k.pub = pk
		}
	}
	pem, err := readPrivateKey(path)
	var unprotected *UnprotectedKeyError
	switch {
	case errors.As(err, &unprotected):
		a.logf("warning: %v", err)
		a.keyErrors = append(a.keyErrors, err)
		return nil
	case err == nil:
		k.pem = pem
		if k.pub == nil {
			s, err := ssh.ParsePrivateKey(pem)
			var missing *ssh.PassphraseMissingError
			switch {
			case err == nil:
				k.pub, k.signer = s.PublicKey(), s
				k.once.Do(func() {})
			case errors.As(err, &missing):
				k.pub = missing.PublicKey // nil for encrypted PEM keys
			default:
				a.logf("warning: identity file %s: %v", path, err)
				return nil
			}
		}
	case k.pub != nil:
		// Only the public half: still useful to pick the agent key (IdentitiesOnly).
	case errors.Is(err, os.ErrNotExist) && sshconfig.IsDefaultIdentity(path):
		return nil
	default:
		a.logf("warning: identity file %s: %v", path, err)
		return nil
	}
	return k
}

// readCertificate reads an SSH certificate; a missing one is worth a warning
// only when it was configured (explicit), not guessed next to a key.
func (a *authenticator) readCertificate(path string, explicit bool) []*ssh.Certificate {
	data, err := os.ReadFile(path)
	if err != nil {
		if explicit || !errors.Is(err, os.ErrNotExist) {
			a.logf("warning: certificate %s: %v", path, err)
		}
		return nil
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(data)
	cert, ok := pk.(*ssh.Certificate)
	if err != nil || !ok {
		a.logf("warning: %s is not an SSH certificate", path)
		return nil
	}
	return []*ssh.Certificate{cert}
}

// offerQueue appends offers to a.keys: each key preceded by its certificates,
// and each public key once.
type offerQueue struct {
	a     *authenticator
	certs []*ssh.Certificate
	done  map[string]bool // public keys already queued
}

func (q *offerQueue) add(source string, pub ssh.PublicKey, signer func() (ssh.Signer, error), direct func() bool) {
	for _, c := range q.certs {
		if !bytes.Equal(c.Key.Marshal(), pub.Marshal()) {
			continue
		}
		q.a.keys = append(q.a.keys, &offer{label: describeKey(source, c), direct: direct, signer: func() (ssh.Signer, error) {
			s, err := signer()
			if err != nil {
				return nil, err
			}
			return ssh.NewCertSigner(c, s)
		}})
	}
	q.a.keys = append(q.a.keys, &offer{label: describeKey(source, pub), signer: signer, direct: direct})
	q.done[string(pub.Marshal())] = true
}

// queueAgentKeys offers the agent's keys first, only those of the identity
// files with IdentitiesOnly.
func (a *authenticator) queueAgentKeys(q *offerQueue, files []*fileKey) {
	for _, s := range a.agentSigners() {
		pub := s.signer.PublicKey()
		plain := pub
		if c, ok := pub.(*ssh.Certificate); ok {
			plain = c.Key
		}
		if a.host.IdentitiesOnly && !slices.ContainsFunc(files, func(k *fileKey) bool {
			return k.pub != nil && bytes.Equal(k.pub.Marshal(), plain.Marshal())
		}) {
			continue
		}
		if _, ok := pub.(*ssh.Certificate); ok {
			a.keys = append(a.keys, &offer{label: describeKey("agent: "+s.comment, pub), signer: fixed(s.signer)})
			continue
		}
		q.add("agent: "+s.comment, pub, fixed(s.signer), nil)
	}
}

// queueFileKeys offers the identity files the agent did not already offer.
func (a *authenticator) queueFileKeys(q *offerQueue, files []*fileKey) {
	for _, k := range files {
		if k.pem == nil {
			continue
		}
		if k.pub == nil {
			// Encrypted PEM without .pub: its public key is known only after decryption.
			a.keys = append(a.keys, &offer{label: k.path, signer: k.load})
			continue
		}
		if q.done[string(k.pub.Marshal())] {
			continue
		}
		ls := &lazySigner{pub: k.pub, key: k}
		q.add(k.path, k.pub, fixed(ls), k.plain)
	}
}

func fixed(s ssh.Signer) func() (ssh.Signer, error) {
	return func() (ssh.Signer, error) { return s, nil }
}

type agentKey struct {
	signer  ssh.Signer
	comment string
}

// agentSigners connects to the agent (IdentityAgent, else SSH_AUTH_SOCK) and
// lists its keys. The connection stays open until close.
func (a *authenticator) agentSigners() []agentKey {
	sock := a.host.IdentityAgent
	switch {
	case sock == "none":
		return nil
	case sock == "" || sock == "SSH_AUTH_SOCK":
		sock = os.Getenv("SSH_AUTH_SOCK")
	case strings.HasPrefix(sock, "$"):
		sock = os.Getenv(strings.Trim(sock[1:], "{}"))
	}
	if sock == "" {
		return nil
	}
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err != nil {
		a.logf("warning: cannot reach the SSH agent at %s: %v", sock, err)
		return nil
	}
	a.agentConn = conn
	ag := agent.NewClient(conn)
	list, err := ag.List()
	if err != nil {
		a.logf("warning: listing SSH agent keys: %v", err)
		return nil
	}
	signers, err := ag.Signers()
	if err != nil {
		a.logf("warning: listing SSH agent keys: %v", err)
		return nil
	}
	comments := map[string]string{}
	for _, k := range list {
		comments[string(k.Marshal())] = k.Comment
	}
	out := make([]agentKey, 0, len(signers))
	for _, s := range signers {
		out = append(out, agentKey{signer: s, comment: comments[string(s.PublicKey().Marshal())]})
	}
	a.logf("SSH agent at %s holds %d keys", sock, len(out))
	return out
}

func (a *authenticator) close() {
	if a.agentConn != nil {
		a.agentConn.Close()
	}
}

// callback is the ssh.ClientAuthCallback: it picks the next method to try.
// With ClientConfig.FewerRoundTrips its first call comes before the server
// has named its methods (AllowedMethods nil): it offers the first key then,
// and returns nil without one, so that "none" asks the server.
func (a *authenticator) callback(ctx *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
	unknown := ctx.AllowedMethods == nil && len(ctx.TriedMethods) == 0 && len(ctx.PartialSuccessMethods) == 0
	if !unknown {
		a.methods = ctx.AllowedMethods
	}
	if o := a.current; o != nil {
		if o.err != nil {
			a.logf("skipping key: %v", o.err)
			a.keyErrors = append(a.keyErrors, o.err)
		} else if o.signed && (o.direct == nil || !o.direct()) {
			a.logf("authentication with %s failed", o.label)
		} else {
			a.logf("server refused key %s", o.label)
		}
		a.current = nil
	}
	if unknown || slices.Contains(ctx.AllowedMethods, "publickey") {
		for a.next < len(a.keys) {
			o := a.keys[a.next]
			a.next++
			s, err := o.signer()
			if err != nil {
				a.logf("skipping key: %v", err)
				a.keyErrors = append(a.keyErrors, err)
				continue
			}
			if o.label == "" || !strings.Contains(o.label, "SHA256:") {
				o.label = describeKey(o.label, s.PublicKey())
			}
			a.current = o
			a.offered = append(a.offered, o.label)
			a.info = AuthInfo{Method: "publickey", Key: o.label}
			a.logf("offering public key %s", o.label)
			// Signing errors (a passphrase not given) surface here as a failed
			// attempt; x/crypto then asks this callback for the next method.
			tracked := track(s, o)
			return ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
				return []ssh.Signer{tracked}, nil
			}), nil
		}
	}
	if unknown {
		return nil, nil
	}
	if a.prompt != nil && !a.noAsk {
		if slices.Contains(ctx.AllowedMethods, "keyboard-interactive") && a.kbdTries < 3 {
			a.kbdTries++
			a.info = AuthInfo{Method: "keyboard-interactive"}
			a.logf("trying keyboard-interactive authentication")
			return ssh.KeyboardInteractive(a.keyboardInteractive), nil
		}
		if slices.Contains(ctx.AllowedMethods, "password") && a.pwTries < 3 {
			a.pwTries++
			a.info = AuthInfo{Method: "password"}
			a.logf("trying password authentication")
			return ssh.PasswordCallback(a.password), nil
		}
	}
	a.exhausted = true
	return nil, nil
}

func (a *authenticator) password() (string, error) {
	pw, err := a.prompt.Secret(fmt.Sprintf("%s@%s's password: ", a.user, a.host.HostName))
	if err != nil {
		a.noAsk = true
		return "", err
	}
	s := string(pw)
	clear(pw)
	return s, nil
}

func (a *authenticator) keyboardInteractive(name, instruction string, questions []string, echos []bool) ([]string, error) {
	header := strings.TrimSpace(strings.Join([]string{name, instruction}, "\n"))
	answers := make([]string, len(questions))
	for i, q := range questions {
		if i == 0 && header != "" {
			q = header + "\n" + q
		}
		if echos[i] {
			ans, err := a.prompt.Ask(q)
			if err != nil {
				a.noAsk = true
				return nil, err
			}
			answers[i] = ans
			continue
		}
		ans, err := a.prompt.Secret(q)
		if err != nil {
			a.noAsk = true
			return nil, err
		}
		answers[i] = string(ans)
		clear(ans)
	}
	return answers, nil
}

// failure returns the AuthError for a handshake that ran out of methods.
func (a *authenticator) failure() *AuthError {
	return &AuthError{User: a.user, Host: a.host.HostName, Methods: a.methods, Offered: a.offered, KeyErrors: a.keyErrors}
}

// askpassPrompter asks through an askpass program (SSH_ASKPASS): the prompt is
// its argument and its standard output, without the trailing newline, the
// answer. When ctx ends (Ctrl-C, --timeout) the program is killed and the
// question ends with ctx's cause, as on the terminal.
type askpassPrompter struct {
	ctx     context.Context
	Program string
}

// Secret runs the askpass program.
func (p askpassPrompter) Secret(prompt string) ([]byte, error) {
	return p.run(prompt)
}

// Ask runs the askpass program for a question answered in text (yes, no or a
// fingerprint), as ssh does for host key confirmation.
func (p askpassPrompter) Ask(prompt string) (string, error) {
	out, err := p.run(prompt)
	return string(out), err
}

func (p askpassPrompter) run(prompt string) ([]byte, error) {
	ctx := p.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	cmd := exec.CommandContext(ctx, p.Program, prompt)
	// A helper the program started may hold its stdout open: do not wait
	// for that once the program itself was killed.
	cmd.WaitDelay = time.Second
	out, err := cmd.Output()
	if err != nil {
		clear(out)
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, fmt.Errorf("running askpass %s: %w", p.Program, err)
	}
	return bytes.TrimRight(out, "\r\n"), nil
}

// ChoosePrompter picks the prompter ssh would use. term is the terminal
// prompter, nil when there is no terminal; an askpass question ends when ctx
// does; getenv reads the environment
// (os.Getenv). Like ssh: SSH_ASKPASS_REQUIRE=force always uses SSH_ASKPASS,
// "prefer" uses it when a display (DISPLAY or WAYLAND_DISPLAY) is set, "never"
// never does, and by default it is used only when there is no terminal and a
// display is set. The result is nil when nobody can be asked.
func ChoosePrompter(ctx context.Context, term Prompter, getenv func(string) string) Prompter {
	program := getenv("SSH_ASKPASS")
	display := getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != ""
	useAskpass := false
	switch strings.ToLower(getenv("SSH_ASKPASS_REQUIRE")) {
	case "force":
		useAskpass = true
	case "prefer":
		useAskpass = display
	case "never":
		useAskpass = false
	default:
		useAskpass = term == nil && display
	}
	if useAskpass && program != "" {
		return askpassPrompter{ctx: ctx, Program: program}
	}
	return term
}
