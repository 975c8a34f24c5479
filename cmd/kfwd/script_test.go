package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/kfwd/kfwd/internal/minisshd"
	"github.com/kfwd/kfwd/internal/testprog/browserstub"
	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"golang.org/x/term"
)

// TestMain makes the test binary double as the kfwd command and as a
// recording $BROWSER stub for the scripts in testdata/script.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"kfwd": func() {
			os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
		},
		"kfwd-test-browser": testBrowser,
	})
}

// TestScript runs one script per behaviour from testdata/script.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "1")
			env.Setenv("SSH_AUTH_SOCK", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"minisshd-start": cmdMinisshdStart,
			"minisshd-drop":  cmdMinisshdDrop,
			"free-port":      cmdFreePort,
			"http-get":       cmdHTTPGet,
			"json-events":    cmdJSONEvents,
			"pty-kfwd":       cmdPTYKfwd,
		},
	})
}

// servers holds each script's in-process SSH server.
var servers sync.Map // *testscript.TestScript -> *minisshd.Server

// cmdMinisshdStart starts an in-process SSH server for the rest of the script
// and writes $WORK/ssh/{ssh_config,known_hosts,id_ed25519} with a Host
// "minisshd" (user "tester") that reaches it with StrictHostKeyChecking yes.
//
//	minisshd-start [--no-forwarding] [--path DIR] [--http PORT]
//
// Remote commands run with /bin/sh and PATH=DIR (default $WORK/bin:$PATH).
// --http serves "hello from remote port PORT" on the server's in-memory
// loopback, reachable only through SSH forwards.
func cmdMinisshdStart(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! minisshd-start")
	}
	fs := flag.NewFlagSet("minisshd-start", flag.ContinueOnError)
	noForwarding := fs.Bool("no-forwarding", false, "refuse forwards (AllowTcpForwarding no)")
	path := fs.String("path", "", "PATH for remote commands")
	httpPort := fs.Int("http", 0, "serve HTTP on this remote loopback port")
	ts.Check(fs.Parse(args))
	if *path == "" {
		*path = ts.MkAbs("bin") + string(os.PathListSeparator) + os.Getenv("PATH")
	}

	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	ts.Check(err)
	clientPub, err := ssh.NewPublicKey(pub)
	ts.Check(err)
	remote := minisshd.NewMemNet()
	srv, err := minisshd.New(minisshd.Options{
		Authorized:           []ssh.PublicKey{clientPub},
		Dial:                 remote.Dial,
		ForwardingProhibited: *noForwarding,
		Exec:                 minisshd.Shell("PATH=" + *path),
	})
	ts.Check(err)
	ts.Defer(func() { srv.Close() })
	servers.Store(ts, srv)

	if *httpPort != 0 {
		ln, err := remote.Listen(*httpPort)
		ts.Check(err)
		hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello from remote port %d\n", *httpPort)
		})}
		go hs.Serve(ln)
		ts.Defer(func() { hs.Close() })
	}

	dir := ts.MkAbs("ssh")
	ts.Check(os.MkdirAll(dir, 0o700))
	block, err := ssh.MarshalPrivateKey(priv, "")
	ts.Check(err)
	key := filepath.Join(dir, "id_ed25519")
	ts.Check(os.WriteFile(key, pem.EncodeToMemory(block), 0o600))
	kh := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr)}, srv.HostKey.PublicKey())
	ts.Check(os.WriteFile(kh, []byte(line+"\n"), 0o600))
	cfg := fmt.Sprintf("Host minisshd\n  HostName 127.0.0.1\n  Port %d\n  User tester\n  IdentityFile %s\n  IdentitiesOnly yes\n  IdentityAgent none\n  UserKnownHostsFile %s\n  StrictHostKeyChecking yes\n  ConnectTimeout 5\n",
		srv.Port(), key, kh)
	ts.Check(os.WriteFile(filepath.Join(dir, "ssh_config"), []byte(cfg), 0o600))
	ts.Setenv("MINISSHD_PORT", strconv.Itoa(srv.Port()))
}

// cmdMinisshdDrop closes every client connection of the script's server, as
// a restart of sshd would.
func cmdMinisshdDrop(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := servers.Load(ts)
	if !ok {
		ts.Fatalf("minisshd-drop: no server; run minisshd-start first")
	}
	srv := v.(*minisshd.Server)
	if srv.Conns() == 0 {
		ts.Fatalf("minisshd-drop: no client connected")
	}
	srv.DropConns()
}

// cmdFreePort sets VAR to a port free on 127.0.0.1.
func cmdFreePort(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: free-port VAR")
	}
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	ts.Check(err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ts.Setenv(args[0], strconv.Itoa(port))
}

// cmdHTTPGet fetches URL with a fresh connection each try until it answers
// 200 with a body containing WANT, for up to 20 seconds.
//
//	http-get URL [WANT]
func cmdHTTPGet(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: http-get URL [WANT]")
	}
	want := ""
	if len(args) == 2 {
		want = args[1]
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	var last string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := client.Get(args[0])
		if err != nil {
			last = err.Error()
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		last = fmt.Sprintf("%d %q", resp.StatusCode, body)
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), want) {
			if neg {
				ts.Fatalf("http-get %s: got %s", args[0], last)
			}
			ts.Logf("http-get %s: %s", args[0], last)
			return
		}
		if neg {
			return
		}
	}
	if !neg {
		ts.Fatalf("http-get %s: no good answer within 20s; last: %s", args[0], last)
	}
}

// cmdJSONEvents checks that FILE holds one JSON object with a "type" per
// line, and that the given events appear in that order (others may come
// between). An event is TYPE or TYPE:FIELD=VALUE[,FIELD=VALUE...].
//
//	json-events FILE EVENT...
func cmdJSONEvents(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: json-events FILE EVENT...")
	}
	var events []map[string]any
	sc := bufio.NewScanner(strings.NewReader(ts.ReadFile(args[0])))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		var ev map[string]any
		if err := dec.Decode(&ev); err != nil {
			ts.Fatalf("%s:%d: not a JSON object: %v: %q", args[0], n, err, line)
		}
		if t, ok := ev["type"].(string); !ok || t == "" {
			ts.Fatalf("%s:%d: event without a \"type\": %q", args[0], n, line)
		}
		events = append(events, ev)
	}
	i := 0
	ok := true
	for _, spec := range args[1:] {
		typ, fields, _ := strings.Cut(spec, ":")
		found := false
		for ; i < len(events); i++ {
			if matchEvent(events[i], typ, fields) {
				found = true
				i++
				break
			}
		}
		if !found {
			ok = false
			if !neg {
				ts.Fatalf("json-events: no %s in order in %s", spec, args[0])
			}
			break
		}
	}
	if neg && ok {
		ts.Fatalf("json-events: all events found in %s", args[0])
	}
}

func matchEvent(ev map[string]any, typ, fields string) bool {
	if ev["type"] != typ {
		return false
	}
	if fields == "" {
		return true
	}
	for _, f := range strings.Split(fields, ",") {
		k, v, _ := strings.Cut(f, "=")
		got, ok := ev[k]
		if !ok || fmt.Sprint(got) != v {
			return false
		}
	}
	return true
}

// testBrowser is the $BROWSER stub (browserstub, as testbrowser runs it):
// it records its URL argument in $KFWD_TEST_BROWSER_LOG and loads it as a
// browser whose user is signed in to the identity provider. It exits 0 only
// for a final 200 page that says "signed in".
func testBrowser() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kfwd-test-browser URL")
		os.Exit(2)
	}
	status, body, err := browserstub.Open(os.Args[1], 20*time.Second, nil)
	if err != nil || status != http.StatusOK || !bytes.Contains(body, []byte("signed in")) {
		os.Exit(1)
	}
}

// cmdPTYKfwd runs kfwd in this process with a pseudo-terminal (creack/pty) as
// its stdin, stdout and stderr, as a person's terminal would be: kfwd then
// requests a remote PTY of the terminal's size (100x30), puts the terminal in
// raw mode and follows resizes. When the remote output contains "size:", the
// terminal is resized to 120x40 and SIGWINCH sent, as a window manager does.
// It writes what the terminal showed to $WORK/pty.out and fails unless kfwd
// exited 0 and left the terminal as it found it. No root needed.
//
//	pty-kfwd ARGS...
func cmdPTYKfwd(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! pty-kfwd")
	}
	ptmx, tty, err := pty.Open()
	ts.Check(err)
	defer ptmx.Close()
	ts.Check(pty.Setsize(ptmx, &pty.Winsize{Rows: 30, Cols: 100}))
	before, err := term.GetState(int(tty.Fd()))
	ts.Check(err)

	var mu sync.Mutex
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		resized := false
		for {
			n, err := ptmx.Read(buf)
			mu.Lock()
			out.Write(buf[:n])
			if !resized && bytes.Contains(out.Bytes(), []byte("size:")) {
				resized = true
				pty.Setsize(ptmx, &pty.Winsize{Rows: 40, Cols: 120})
				syscall.Kill(os.Getpid(), syscall.SIGWINCH)
			}
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	status := run(context.Background(), append([]string{"kfwd"}, args...), tty, tty, tty)
	after, err := term.GetState(int(tty.Fd()))
	ts.Check(err)
	tty.Close()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	mu.Lock()
	shown := out.String()
	mu.Unlock()
	ts.Check(os.WriteFile(ts.MkAbs("pty.out"), []byte(shown), 0o644))
	ts.Logf("terminal showed %q", shown)
	if status != 0 {
		ts.Fatalf("kfwd exited %d", status)
	}
	if !reflect.DeepEqual(before, after) {
		ts.Fatalf("the terminal was not restored")
	}
}
