package tunnel_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kfwd/kfwd/tunnel"
)

// kubeAPI is a stand-in Kubernetes API server on loopback, enough for
// `kubectl get pod`: discovery, and pods that run, wait, are missing or are
// forbidden.
func kubeAPI(t *testing.T) string {
	t.Helper()
	mux := http.NewServeMux()
	js := func(w http.ResponseWriter, code int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
	mux.HandleFunc("/api", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1"}]}`)
	})
	mux.HandleFunc("/apis", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`)
	})
	mux.HandleFunc("/api/v1", func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list"],"shortNames":["po"]}]}`)
	})
	mux.HandleFunc("/api/v1/namespaces/{ns}/pods/{pod}", func(w http.ResponseWriter, r *http.Request) {
		ns, pod := r.PathValue("ns"), r.PathValue("pod")
		switch pod {
		case "web", "pending":
			phase := "Running"
			if pod == "pending" {
				phase = "Pending"
			}
			js(w, 200, fmt.Sprintf(`{"kind":"Pod","apiVersion":"v1","metadata":{"name":%q,"namespace":%q},"status":{"phase":%q}}`, pod, ns, phase))
		case "secret":
			js(w, 403, fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"secret\" is forbidden: User \"dev\" cannot get resource \"pods\" in API group \"\" in the namespace %q","reason":"Forbidden","code":403}`, ns))
		default:
			js(w, 404, fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"pods \"%s\" not found","reason":"NotFound","details":{"name":%q,"kind":"pods"},"code":404}`, pod, pod))
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

func kubeconfig(t *testing.T, server string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config")
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
`, server)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The real kubectl client checks pods for OpenContainer (no cluster exists
// on the CI machine, so exec itself is not run: see docs/recipes.md).
func TestKubectlContainerCheck(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatalf("kubectl is not installed: %v", err)
	}
	t.Setenv("KUBECONFIG", kubeconfig(t, kubeAPI(t)))
	ctx := context.Background()
	open := func(target string) (*tunnel.Container, error) {
		spec, ok, err := tunnel.ParseContainerTarget(target)
		if !ok || err != nil {
			t.Fatalf("%s: %v %v", target, ok, err)
		}
		return tunnel.OpenContainer(ctx, spec, tunnel.ContainerOptions{})
	}
	for _, target := range []string{"kubectl://web", "kubectl://tools/web", "kubectl://other/tools/web/app"} {
		c, err := open(target)
		if err != nil {
			t.Errorf("%s: %v", target, err)
			continue
		}
		if target == "kubectl://other/tools/web/app" {
			got := strings.Join(c.ExecArgv(false, nil, "CMD"), " ")
			if want := "kubectl --context other --namespace tools exec -i web -c app -- sh -c CMD"; got != want {
				t.Errorf("exec: %s, want %s", got, want)
			}
		}
	}
	cases := []struct {
		target  string
		problem tunnel.ContainerProblem
		msg     string
	}{
		{"kubectl://nope", tunnel.ContainerNotFound, "kubectl knows no pod nope on this machine: Error from server (NotFound)"},
		{"kubectl://pending", tunnel.ContainerNotRunning, "pod pending is not running (kubectl on this machine): phase Pending"},
		{"kubectl://secret", tunnel.RuntimePermission, "permission denied using kubectl on this machine"},
	}
	for _, c := range cases {
		_, err := open(c.target)
		var ce *tunnel.ContainerError
		if !errors.As(err, &ce) || ce.Problem != c.problem || !strings.HasPrefix(err.Error(), c.msg) {
			t.Errorf("%s: %v, want problem %v %q", c.target, err, c.problem, c.msg)
		}
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	t.Setenv("KUBECONFIG", kubeconfig(t, closed))
	_, err = open("kubectl://web")
	var ce *tunnel.ContainerError
	if !errors.As(err, &ce) || ce.Problem != tunnel.RuntimeUnreachable {
		t.Errorf("unreachable cluster: %v", err)
	}
}
