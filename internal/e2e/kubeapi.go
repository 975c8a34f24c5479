package e2e

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// KubeAPI is a stand-in Kubernetes API server on loopback, for testing kfwd with the real kubectl
// client where no cluster exists: discovery, GET of pods, and pods/exec over the websocket
// protocol kubectl speaks (v5.channel.k8s.io), carried out by `podman exec -i` in the podman
// container of the pod's name. Pods are the podman containers the test names in Pods, each with
// phase "Running" unless Phases says otherwise; the pod "forbidden" answers 403.
type KubeAPI struct {
	URL        string
	Kubeconfig string // a kubeconfig whose current context (namespace "tools") points at URL

	mu    sync.Mutex
	pods  map[string]string // name -> phase
	execs int
	srv   *httptest.Server
}

// StartKubeAPI starts the server; t.Cleanup stops it.
func StartKubeAPI(t testing.TB) *KubeAPI {
	t.Helper()
	k := &KubeAPI{pods: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`)
	})
	mux.HandleFunc("/apis", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`)
	})
	mux.HandleFunc("/api/v1", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"]},{"name":"pods/exec","singularName":"","namespaced":true,"kind":"PodExecOptions","verbs":["create","get"]}]}`)
	})
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}", k.getPod)
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}/exec", k.exec)
	k.srv = httptest.NewServer(mux)
	t.Cleanup(k.srv.Close)
	k.URL = k.srv.URL
	k.Kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster: {server: %q}
contexts:
- name: test
  context: {cluster: test, user: dev, namespace: tools}
- name: other
  context: {cluster: test, user: dev, namespace: elsewhere}
current-context: test
users:
- name: dev
  user: {token: not-a-secret}
`, k.URL)
	if err := os.WriteFile(k.Kubeconfig, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// AddPod makes the podman container name a pod in the given phase.
func (k *KubeAPI) AddPod(name, phase string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pods[name] = phase
}

// Execs counts the exec requests served.
func (k *KubeAPI) Execs() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.execs
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, body) //nolint:errcheck // the client sees a short answer
}

func notFound(w http.ResponseWriter, pod string) {
	writeJSON(w, 404, fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods %q not found","reason":"NotFound","details":{"name":%q,"kind":"pods"},"code":404}`, pod, pod))
}

func (k *KubeAPI) getPod(w http.ResponseWriter, r *http.Request) {
	ns, pod := r.PathValue("ns"), r.PathValue("pod")
	if pod == "forbidden" {
		writeJSON(w, 403, fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"forbidden\" is forbidden: User \"dev\" cannot get resource \"pods\" in API group \"\" in the namespace %q","reason":"Forbidden","code":403}`, ns))
		return
	}
	k.mu.Lock()
	phase, ok := k.pods[pod]
	k.mu.Unlock()
	if !ok {
		notFound(w, pod)
		return
	}
	writeJSON(w, 200, fmt.Sprintf(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":%q,"namespace":%q},"spec":{"containers":[{"name":"main","image":"test"}]},"status":{"phase":%q,"containerStatuses":[{"name":"main","ready":true,"started":true,"state":{"running":{}}}]}}`, pod, ns, phase))
}

// Channels of the v5.channel.k8s.io protocol: the first byte of every binary message.
const (
	kubeStdin  = 0
	kubeStdout = 1
	kubeStderr = 2
	kubeError  = 3
	kubeClose  = 255
)

func (k *KubeAPI) exec(w http.ResponseWriter, r *http.Request) {
	pod := r.PathValue("pod")
	k.mu.Lock()
	_, ok := k.pods[pod]
	k.execs++
	k.mu.Unlock()
	if !ok {
		notFound(w, pod)
		return
	}
	q := r.URL.Query()
	if q.Get("tty") == "true" {
		writeJSON(w, 400, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the stand-in API server has no terminals","code":400}`)
		return
	}
	if !strings.Contains(r.Header.Get("Sec-WebSocket-Protocol"), "v5.channel.k8s.io") || r.Header.Get("Sec-WebSocket-Key") == "" {
		writeJSON(w, 400, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"only websockets (v5.channel.k8s.io)","code":400}`)
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	rw.Flush() //nolint:errcheck // the copy below fails too

	ws := &wsConn{r: rw.Reader, w: conn}
	cmd := exec.Command("podman", append([]string{"exec", "-i", pod}, q["command"]...)...)
	stdin, _ := cmd.StdinPipe()
	cmd.Stdout = ws.channel(kubeStdout)
	cmd.Stderr = ws.channel(kubeStderr)
	if err := cmd.Start(); err != nil {
		ws.send(kubeError, []byte(fmt.Sprintf(`{"metadata":{},"status":"Failure","message":%q}`, err.Error())))
		return
	}
	go func() {
		defer stdin.Close()
		for {
			op, msg, err := ws.read()
			if err != nil || op == 0x8 {
				cmd.Process.Kill() //nolint:errcheck // the client is gone
				return
			}
			if op != 0x2 || len(msg) == 0 {
				continue
			}
			switch msg[0] {
			case kubeStdin:
				if _, err := stdin.Write(msg[1:]); err != nil {
					return
				}
			case kubeClose:
				if len(msg) > 1 && msg[1] == kubeStdin {
					stdin.Close()
				}
			}
		}
	}()
	err = cmd.Wait()
	status := `{"metadata":{},"status":"Success"}`
	if ee, ok := err.(*exec.ExitError); ok {
		status = fmt.Sprintf(`{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: %v","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"%d"}]}}`, err, ee.ExitCode())
	}
	ws.send(kubeError, []byte(status))
	ws.writeFrame(0x8, binary.BigEndian.AppendUint16(nil, 1000))
}

// wsConn is the server side of a websocket: masked frames in, unmasked frames out.
type wsConn struct {
	r  *bufio.Reader
	w  net.Conn
	mu sync.Mutex
}

func (c *wsConn) read() (op byte, payload []byte, err error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.r, h[:]); err != nil {
			return 0, nil, err
		}
		fin, opcode, masked, n := h[0]&0x80 != 0, h[0]&0x0f, h[1]&0x80 != 0, uint64(h[1]&0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.r, b[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		var mask [4]byte
		if masked {
			if _, err := io.ReadFull(c.r, mask[:]); err != nil {
				return 0, nil, err
			}
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.r, p); err != nil {
			return 0, nil, err
		}
		if masked {
			for i := range p {
				p[i] ^= mask[i%4]
			}
		}
		switch opcode {
		case 0x9: // ping
			c.writeFrame(0xA, p)
			continue
		case 0xA:
			continue
		case 0x0:
		default:
			op = opcode
		}
		msg = append(msg, p...)
		if fin {
			return op, msg, nil
		}
	}
}

func (c *wsConn) writeFrame(op byte, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	h := []byte{0x80 | op}
	switch n := len(p); {
	case n < 126:
		h = append(h, byte(n))
	case n < 1<<16:
		h = append(h, 126)
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h = append(h, 127)
		h = binary.BigEndian.AppendUint64(h, uint64(n))
	}
	_, err := c.w.Write(append(h, p...))
	return err
}

func (c *wsConn) send(ch byte, p []byte) error {
	return c.writeFrame(0x2, append([]byte{ch}, p...))
}

// channel is an io.Writer sending to one channel.
func (c *wsConn) channel(ch byte) io.Writer { return wsChannel{c, ch} }

type wsChannel struct {
	c  *wsConn
	ch byte
}

func (w wsChannel) Write(p []byte) (int, error) {
	if err := w.c.send(w.ch, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
