package tunnel

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kfwd/kfwd/internal/e2e"
)

// The real kubectl client checks pods for OpenContainer, against a stand-in
// API server (no cluster exists on the CI machine; e2e signs in through its
// pods/exec).
func TestKubectlContainerCheck(t *testing.T) {
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatalf("kubectl is not installed: %v", err)
	}
	api := e2e.StartKubeAPI(t)
	api.AddPod("web", "Running")
	api.AddPod("pending", "Pending")
	t.Setenv("KUBECONFIG", api.Kubeconfig)
	ctx := context.Background()
	open := func(target string) (*Container, error) {
		spec, ok, err := ParseContainerTarget(target)
		if !ok || err != nil {
			t.Fatalf("%s: %v %v", target, ok, err)
		}
		return OpenContainer(ctx, spec, ContainerOptions{})
	}
	for _, target := range []string{"kubectl://web", "kubectl://tools/web", "kubectl://other/tools/web/app"} {
		c, err := open(target)
		if err != nil {
			t.Errorf("%s: %v", target, err)
			continue
		}
		if target == "kubectl://other/tools/web/app" {
			got := strings.Join(c.execArgv(false, nil, "CMD"), " ")
			if want := "kubectl --context other --namespace tools exec -i web -c app -- sh -c CMD"; got != want {
				t.Errorf("exec: %s, want %s", got, want)
			}
		}
	}
	cases := []struct {
		target  string
		problem ContainerProblem
		msg     string
	}{
		{"kubectl://nope", ContainerNotFound, "kubectl knows no pod nope on this machine: Error from server (NotFound)"},
		{"kubectl://pending", ContainerNotRunning, "pod pending is not running (kubectl on this machine): phase Pending"},
		{"kubectl://forbidden", RuntimePermission, "permission denied using kubectl on this machine"},
	}
	for _, c := range cases {
		_, err := open(c.target)
		var ce *ContainerError
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
	cfg, err := os.ReadFile(api.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	unreachable := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(unreachable, []byte(strings.ReplaceAll(string(cfg), api.URL, closed)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", unreachable)
	_, err = open("kubectl://web")
	var ce *ContainerError
	if !errors.As(err, &ce) || ce.Problem != RuntimeUnreachable {
		t.Errorf("unreachable cluster: %v", err)
	}
}
