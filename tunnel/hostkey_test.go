package tunnel

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kfwd/kfwd/internal/minisshd"
	"github.com/kfwd/kfwd/sshconfig"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

func hostKeyErr(t *testing.T, err error, kind HostKeyKind) *HostKeyError {
	t.Helper()
	var he *HostKeyError
	if !errors.As(err, &he) || he.Kind != kind {
		t.Fatalf("got %v, want a %s host key error", err, kind)
	}
	return he
}

// unknownHost returns a server and a config whose known_hosts file is empty
// (in a directory that does not exist yet).
func unknownHost(t *testing.T) (*minisshd.Server, *sshconfig.Host) {
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	withKey(t, h)
	h.UserKnownHostsFiles = []string{filepath.Join(t.TempDir(), "new", "known_hosts")}
	return srv, h
}

func TestKnownHostKey(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	withKey(t, h)
	c, err := dialT(t, DialOptions{Host: h})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, c)

	// Known only through the global file.
	h.GlobalKnownHostsFiles, h.UserKnownHostsFiles = h.UserKnownHostsFiles, []string{filepath.Join(t.TempDir(), "empty")}
	if _, err := dialT(t, DialOptions{Host: h}); err != nil {
		t.Fatalf("known in the global file: %v", err)
	}
}

func TestUnknownHostStrict(t *testing.T) {
	srv, h := unknownHost(t)
	_, err := dialT(t, DialOptions{Host: h, Prompt: &fakePrompter{answers: []string{"yes"}}})
	he := hostKeyErr(t, err, HostKeyUnknown)
	if he.Fingerprint != ssh.FingerprintSHA256(srv.HostKey.PublicKey()) || he.KeyType != "ED25519" || he.Host != fmt.Sprintf("[127.0.0.1]:%d", srv.Port()) {
		t.Errorf("error %+v", he)
	}
	if _, err := os.Stat(h.UserKnownHostsFiles[0]); err == nil {
		t.Error("StrictHostKeyChecking yes recorded a key")
	}
}

func TestUnknownHostAsk(t *testing.T) {
	srv, h := unknownHost(t)
	h.StrictHostKeyChecking = "ask"
	fp := ssh.FingerprintSHA256(srv.HostKey.PublicKey())

	p := &fakePrompter{answers: []string{"yes"}}
	if _, err := dialT(t, DialOptions{Host: h, Prompt: p}); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("The authenticity of host '[127.0.0.1]:%d (127.0.0.1)' can't be established.\n"+
		"ED25519 key fingerprint is %s.\nAre you sure you want to continue connecting (yes/no/[fingerprint])? ", srv.Port(), fp)
	if got := p.seen(); len(got) != 1 || got[0] != want {
		t.Fatalf("prompts %q\nwant %q", got, want)
	}
	st, err := os.Stat(h.UserKnownHostsFiles[0])
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("known_hosts not recorded with mode 0600: %v %v", st, err)
	}
	// Now known: no question.
	p = &fakePrompter{}
	if _, err := dialT(t, DialOptions{Host: h, Prompt: p}); err != nil || len(p.seen()) != 0 {
		t.Fatalf("second dial: %v, prompts %q", err, p.seen())
	}

	for _, tc := range []struct {
		name    string
		answers []string
		prompt  bool
		ok      bool
		batch   bool
	}{
		{"fingerprint", []string{"FP"}, true, true, false},
		{"no", []string{"no"}, true, false, false},
		{"other-then-no", []string{"maybe", "no"}, true, false, false},
		{"other-then-yes", []string{"SHA256:wrong", "YES"}, true, true, false},
		{"no-terminal", nil, false, false, false},
		{"batch", []string{"yes"}, true, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, h := unknownHost(t)
			h.StrictHostKeyChecking = "ask"
			h.BatchMode = tc.batch
			o := DialOptions{Host: h}
			answers := slices.Clone(tc.answers)
			if i := slices.Index(answers, "FP"); i >= 0 {
				answers[i] = ssh.FingerprintSHA256(srv.HostKey.PublicKey())
			}
			p := &fakePrompter{answers: answers}
			if tc.prompt {
				o.Prompt = p
			}
			_, err := dialT(t, o)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			hostKeyErr(t, err, HostKeyUnknown)
			if tc.batch && len(p.seen()) != 0 {
				t.Error("asked in BatchMode")
			}
			if len(tc.answers) == 2 {
				if got := p.seen(); len(got) != 2 || got[1] != "Please type 'yes', 'no' or the fingerprint: " {
					t.Errorf("prompts %q", got)
				}
			}
		})
	}
}

func TestUnknownHostRecorded(t *testing.T) {
	for _, tc := range []struct {
		strict string
		hash   bool
	}{{"accept-new", false}, {"accept-new", true}, {"no", false}} {
		t.Run(fmt.Sprintf("%s-hash=%v", tc.strict, tc.hash), func(t *testing.T) {
			srv, h := unknownHost(t)
			h.StrictHostKeyChecking = tc.strict
			h.HashKnownHosts = tc.hash
			if _, err := dialT(t, DialOptions{Host: h}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(h.UserKnownHostsFiles[0])
			if err != nil {
				t.Fatal(err)
			}
			line := string(b)
			name := fmt.Sprintf("[127.0.0.1]:%d ", srv.Port())
			if tc.hash == strings.HasPrefix(line, name) || tc.hash != strings.HasPrefix(line, "|1|") {
				t.Fatalf("recorded %q (hash %v)", line, tc.hash)
			}
			h.StrictHostKeyChecking = "yes"
			if _, err := dialT(t, DialOptions{Host: h}); err != nil {
				t.Fatalf("after recording: %v", err)
			}
		})
	}
}

func TestChangedHostKeyAlwaysRefused(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	_, old := newEd25519(t)
	for _, strict := range []string{"yes", "ask", "accept-new", "no"} {
		t.Run(strict, func(t *testing.T) {
			h := hostFor(t, srv)
			withKey(t, h)
			h.StrictHostKeyChecking = strict
			writeFile(t, h.UserKnownHostsFiles[0], "# comment", knownHostsLine(srv, old.PublicKey()))
			p := &fakePrompter{answers: []string{"yes"}}
			_, err := dialT(t, DialOptions{Host: h, Prompt: p})
			he := hostKeyErr(t, err, HostKeyChanged)
			if he.File != h.UserKnownHostsFiles[0] || he.Line != 2 {
				t.Errorf("old key at %s:%d, want %s:2", he.File, he.Line, h.UserKnownHostsFiles[0])
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("%s:2", he.File)) || !strings.Contains(err.Error(), "has changed") {
				t.Errorf("error %q", err)
			}
			if len(p.seen()) != 0 {
				t.Error("asked about a changed key")
			}
			b, _ := os.ReadFile(h.UserKnownHostsFiles[0])
			if strings.Count(string(b), "\n") != 2 {
				t.Errorf("known_hosts modified:\n%s", b)
			}
		})
	}
}

func TestHashedAndAliasEntries(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey.PublicKey())))
	h := hostFor(t, srv)
	withKey(t, h)

	writeFile(t, h.UserKnownHostsFiles[0], xknownhosts.HashHostname(fmt.Sprintf("[127.0.0.1]:%d", srv.Port()))+" "+key)
	if _, err := dialT(t, DialOptions{Host: h}); err != nil {
		t.Fatalf("hashed entry: %v", err)
	}

	writeFile(t, h.UserKnownHostsFiles[0], "myalias "+key)
	if _, err := dialT(t, DialOptions{Host: h}); err == nil {
		t.Fatal("alias entry matched without HostKeyAlias")
	}
	h.HostKeyAlias = "myalias"
	if _, err := dialT(t, DialOptions{Host: h}); err != nil {
		t.Fatalf("HostKeyAlias: %v", err)
	}

	// Recorded under the alias, without the port.
	h.HostKeyAlias = "other-alias"
	h.StrictHostKeyChecking = "accept-new"
	if _, err := dialT(t, DialOptions{Host: h}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(h.UserKnownHostsFiles[0])
	if !strings.Contains(string(b), "\nother-alias "+key+"\n") {
		t.Errorf("known_hosts:\n%s", b)
	}
}

func TestPortMatters(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	withKey(t, h)
	// An entry for port 22 does not vouch for another port.
	writeFile(t, h.UserKnownHostsFiles[0], "127.0.0.1 "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey.PublicKey()))))
	_, err := dialT(t, DialOptions{Host: h})
	hostKeyErr(t, err, HostKeyUnknown)
}

func TestRevokedHostKey(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	withKey(t, h)
	key := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey.PublicKey())))
	writeFile(t, h.UserKnownHostsFiles[0], knownHostsLine(srv, srv.HostKey.PublicKey()), "@revoked * "+key)
	h.StrictHostKeyChecking = "no"
	_, err := dialT(t, DialOptions{Host: h})
	he := hostKeyErr(t, err, HostKeyRevoked)
	if he.Line != 2 || he.File != h.UserKnownHostsFiles[0] {
		t.Errorf("revoked at %s:%d", he.File, he.Line)
	}
}

func TestCertAuthorityHostKey(t *testing.T) {
	_, ca := newEd25519(t)
	_, hostKey := newEd25519(t)
	cert := &ssh.Certificate{
		Key: hostKey.PublicKey(), CertType: ssh.HostCert, KeyId: "host", ValidPrincipals: []string{"127.0.0.1"},
		ValidBefore: uint64(time.Now().Add(time.Hour).Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	certSigner, err := ssh.NewCertSigner(cert, hostKey)
	if err != nil {
		t.Fatal(err)
	}
	srv := minisshd.Start(t, minisshd.Options{HostKey: certSigner})
	h := hostFor(t, srv)
	withKey(t, h)
	caKey := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))
	for _, pattern := range []string{fmt.Sprintf("[127.0.0.1]:%d", srv.Port()), "*"} {
		writeFile(t, h.UserKnownHostsFiles[0], "@cert-authority "+pattern+" "+caKey)
		l := &logBuf{}
		if _, err := dialT(t, DialOptions{Host: h, Logf: l.logf}); err != nil {
			t.Fatalf("@cert-authority %s: %v", pattern, err)
		}
		if !l.has("ED25519-CERT") {
			t.Errorf("host certificate not used:\n%s", l)
		}
	}

	// A CA nobody trusts: the plain key is checked, and is unknown.
	_, otherCA := newEd25519(t)
	writeFile(t, h.UserKnownHostsFiles[0], "@cert-authority * "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(otherCA.PublicKey()))))
	_, err = dialT(t, DialOptions{Host: h})
	hostKeyErr(t, err, HostKeyUnknown)

	// The CA revoked.
	writeFile(t, h.UserKnownHostsFiles[0], "@cert-authority * "+caKey, "@revoked * "+caKey)
	if _, err = dialT(t, DialOptions{Host: h}); err == nil {
		t.Fatal("host certificate from a revoked CA accepted")
	}
}

func TestBadKnownHostsLinesSkipped(t *testing.T) {
	srv := minisshd.Start(t, minisshd.Options{})
	h := hostFor(t, srv)
	withKey(t, h)
	kh := h.UserKnownHostsFiles[0]
	writeFile(t, kh,
		"garbage",
		"example.com ssh-ed25519 !!!notbase64",
		"@bogus example.com "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey.PublicKey()))),
		"example.org ssh-rsa "+strings.Fields(string(ssh.MarshalAuthorizedKey(srv.HostKey.PublicKey())))[1],
		"|1|bad|hash "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey.PublicKey()))),
		"! "+strings.TrimSpace(string(ssh.MarshalAuthorizedKey(srv.HostKey.PublicKey()))),
		knownHostsLine(srv, srv.HostKey.PublicKey()),
	)
	l := &logBuf{}
	c, err := dialT(t, DialOptions{Host: h, Logf: l.logf})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, c)
	for i := 1; i <= 6; i++ {
		if !l.has(fmt.Sprintf("%s:%d: ignoring", kh, i)) {
			t.Errorf("no warning for line %d:\n%s", i, l)
		}
	}
	if l.has(fmt.Sprintf("%s:7: ignoring", kh)) {
		t.Errorf("the good line was ignored:\n%s", l)
	}
}

// A host known by its ed25519 key is asked for that key even though x/crypto
// would by default prefer the RSA key the server also has.
func TestHostKeyAlgorithmsFromKnownHosts(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := minisshd.Start(t, minisshd.Options{ExtraHostKeys: []ssh.Signer{signerOf(t, rsaKey)}})
	h := hostFor(t, srv) // knows the ed25519 key only
	withKey(t, h)
	if _, err := dialT(t, DialOptions{Host: h}); err != nil {
		t.Fatalf("known by its ed25519 key: %v", err)
	}
	// The configured list wins; the RSA key is then unknown (a key of another
	// type is known, which is not a change).
	h.HostKeyAlgorithms, h.HostKeyAlgorithmsSet = []string{ssh.KeyAlgoRSASHA256}, true
	_, err = dialT(t, DialOptions{Host: h})
	he := hostKeyErr(t, err, HostKeyUnknown)
	if he.KeyType != "RSA" {
		t.Errorf("key type %q", he.KeyType)
	}
}
