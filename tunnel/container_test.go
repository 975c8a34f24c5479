package tunnel

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseContainerTarget(t *testing.T) {
	cases := []struct {
		arg  string
		want ContainerSpec
		ok   bool
		err  string
	}{
		{"devbox", ContainerSpec{}, false, ""},
		{"user@devbox", ContainerSpec{}, false, ""},
		{"podman://dev", ContainerSpec{Runtime: Podman, Name: "dev"}, true, ""},
		{"docker://3f2a", ContainerSpec{Runtime: Docker, Name: "3f2a"}, true, ""},
		{"docker://", ContainerSpec{}, true, "want docker://CONTAINER"},
		{"podman://a/b", ContainerSpec{}, true, "want podman://CONTAINER"},
		{"kubectl://web", ContainerSpec{Runtime: Kubectl, Name: "web"}, true, ""},
		{"kubectl://ns/web", ContainerSpec{Runtime: Kubectl, Namespace: "ns", Name: "web"}, true, ""},
		{"kubectl://kind/ns/web", ContainerSpec{Runtime: Kubectl, Context: "kind", Namespace: "ns", Name: "web"}, true, ""},
		{"kubectl://kind/ns/web/app", ContainerSpec{Runtime: Kubectl, Context: "kind", Namespace: "ns", Name: "web", Container: "app"}, true, ""},
		{"kubectl:////web/app", ContainerSpec{Runtime: Kubectl, Name: "web", Container: "app"}, true, ""},
		{"kubectl://a/b/c/d/e", ContainerSpec{}, true, "want kubectl://"},
		{"kubectl://ns/", ContainerSpec{}, true, "want kubectl://"},
		{"lxc://x", ContainerSpec{}, true, `unknown container runtime "lxc"`},
	}
	for _, c := range cases {
		got, ok, err := ParseContainerTarget(c.arg)
		if ok != c.ok || got != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("ParseContainerTarget(%q) = %+v, %v, %v; want %+v, %v, %q", c.arg, got, ok, err, c.want, c.ok, c.err)
		}
		if err == nil && ok {
			if back, _, _ := ParseContainerTarget(got.String()); back != got {
				t.Errorf("%q: String() = %q parses as %+v", c.arg, got.String(), back)
			}
		}
	}
}

func TestExecArgv(t *testing.T) {
	cases := []struct {
		spec ContainerSpec
		tty  bool
		env  map[string]string
		want string
	}{
		{ContainerSpec{Runtime: Podman, Name: "dev"}, false, nil, "podman exec -i dev sh -c CMD"},
		{ContainerSpec{Runtime: Docker, Name: "dev"}, true, map[string]string{"TERM": "xterm", "A": "1"}, "docker exec -i -t -e A=1 -e TERM=xterm dev sh -c CMD"},
		{ContainerSpec{Runtime: Kubectl, Name: "web"}, false, nil, "kubectl exec -i web -- sh -c CMD"},
		{ContainerSpec{Runtime: Kubectl, Context: "kind", Namespace: "ns", Name: "web", Container: "app"}, true, map[string]string{"TERM": "xterm"},
			"kubectl --context kind --namespace ns exec -i -t web -c app -- env TERM=xterm sh -c CMD"},
	}
	for _, c := range cases {
		got := strings.Join((&Container{Spec: c.spec}).execArgv(c.tty, c.env, "CMD"), " ")
		if got != c.want {
			t.Errorf("%v tty=%v: %s, want %s", c.spec, c.tty, got, c.want)
		}
	}
}

// The runtimes' own words (docker 27 client without a daemon, docker with a
// socket owned by another group, podman 4, kubectl 1.31) become problems a
// person can act on.
func TestDecideContainer(t *testing.T) {
	spec := ContainerSpec{Name: "dev"}
	both := []Runtime{Docker, Podman}
	cases := []struct {
		answers []runtimeAnswer
		runtime Runtime
		problem ContainerProblem
		msg     string
	}{
		{[]runtimeAnswer{{rt: Docker, missing: true}, {rt: Podman, out: "true"}}, Podman, 0, ""},
		{[]runtimeAnswer{{rt: Docker, status: 1, out: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"}, {rt: Podman, out: "true"}}, Podman, 0, ""},
		{[]runtimeAnswer{{rt: Docker, missing: true}, {rt: Podman, missing: true}}, "", RuntimeMissing, "neither docker nor podman is installed on the remote host"},
		{[]runtimeAnswer{{rt: Docker, missing: true}, {rt: Podman, status: 125, out: "Error: no such container dev"}}, "", ContainerNotFound, "podman knows no container dev on the remote host: Error: no such container dev"},
		{[]runtimeAnswer{{rt: Docker, status: 1, out: "Error: No such container: dev"}, {rt: Podman, out: "false"}}, "", ContainerNotRunning, "container dev is not running (podman on the remote host)"},
		{[]runtimeAnswer{{rt: Docker, status: 1, out: "permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock/v1.47/containers/dev/json\": dial unix /var/run/docker.sock: connect: permission denied"}, {rt: Podman, missing: true}}, "", RuntimePermission, "permission denied using docker on the remote host"},
		{[]runtimeAnswer{{rt: Docker, status: 1, out: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"}, {rt: Podman, missing: true}}, "", RuntimeUnreachable, "docker cannot reach its daemon or cluster on the remote host"},
	}
	for i, c := range cases {
		rt, err := decide(spec, both, c.answers)
		if rt != c.runtime {
			t.Errorf("%d: runtime %q, want %q", i, rt, c.runtime)
		}
		var got ContainerProblem
		if err != nil {
			err.OnHost = true
			got = err.Problem
			if !strings.HasPrefix(err.Error(), c.msg) {
				t.Errorf("%d: %q, want it to start with %q", i, err.Error(), c.msg)
			}
		}
		if got != c.problem {
			t.Errorf("%d: problem %v, want %v (%v)", i, got, c.problem, err)
		}
	}
	kube := ContainerSpec{Runtime: Kubectl, Name: "web"}
	_, err := decide(kube, []Runtime{Kubectl}, []runtimeAnswer{{rt: Kubectl, status: 1, out: `Error from server (NotFound): pods "web" not found`}})
	if err == nil || err.Problem != ContainerNotFound || !strings.Contains(err.Error(), "pod web") {
		t.Errorf("kubectl not found: %v", err)
	}
	_, err = decide(kube, []Runtime{Kubectl}, []runtimeAnswer{{rt: Kubectl, out: "Pending"}})
	if err == nil || err.Problem != ContainerNotRunning || !strings.Contains(err.Error(), "phase Pending") {
		t.Errorf("kubectl pending: %v", err)
	}
	var target *ContainerError
	if !errors.As(fmt.Errorf("x: %w", err), &target) {
		t.Error("ContainerError does not unwrap")
	}
}

func TestShJoin(t *testing.T) {
	if got := shJoin([]string{"podman", "exec", "it's", "a b"}); got != `podman exec 'it'\''s' 'a b'` {
		t.Errorf("shJoin: %s", got)
	}
}

// standInPodman is a podman for hostLine's tests: `podman exec -i [-t] [-e
// K=V]... NAME ARGV...` runs ARGV with the K=V in its environment, as the
// real one does in the container.
const standInPodman = `#!/bin/sh
[ "$1" = exec ] || exit 99
shift
while :; do case $1 in -i|-t) shift;; -e) export "$2"; shift 2;; *) break;; esac; done
shift
exec "$@"
`

// TestHostLineEveryLoginShell runs the exec line of a container on an SSH
// host the way sshd does, `SHELL -c LINE`, under every login shell kfwd
// supports, with a stand-in podman on PATH: a login in the container (whose
// line needs no trampoline), a command holding the hostile arguments and an
// environment value holding them must arrive unchanged.
func TestHostLineEveryLoginShell(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "podman"), []byte(standInPodman), 0o755)
	want := ""
	for _, a := range hostileArgs {
		want += "<" + a + ">"
	}
	printArgs := "printf '<%s>'"
	for _, a := range hostileArgs {
		printArgs += " " + ShellQuote(a)
	}
	c := &Container{Spec: ContainerSpec{Runtime: Podman, Name: "dev"}}
	login := c.execArgv(false, nil, loginCommand(append([]string{"printf", "<%s>"}, hostileArgs...), newLoginID()))
	if got := hostLine(login); got != shJoin(login) {
		t.Errorf("a login's line goes through the trampoline: %s", got)
	}
	lines := map[string]string{
		"login":   hostLine(login),
		"command": hostLine(c.execArgv(true, map[string]string{"TERM": "xterm"}, printArgs)),
		"env":     hostLine(c.execArgv(false, map[string]string{"A": strings.Join(hostileArgs, "><")}, `printf '<%s>' "$A"`)),
	}
	for _, sh := range []string{"sh", "dash", "bash", "zsh", "fish", "csh", "tcsh", "busybox"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Errorf("%s is not installed (.ci/run installs it)", sh)
			continue
		}
		for what, line := range lines {
			args := []string{"-c", line}
			if sh == "busybox" {
				args = append([]string{"sh"}, args...)
			}
			cmd := exec.Command(path, args...)
			cmd.Env = append(os.Environ(), "HOME="+dir, "PATH="+dir+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != want {
				t.Errorf("%s, %s: %v\n got %q\nwant %q", sh, what, err, out, want)
			}
		}
	}
	for _, f := range []string{"/tmp/kfwd-pwned", "/tmp/kfwd-pwned2"} {
		if _, err := os.Stat(f); err == nil {
			os.Remove(f)
			t.Errorf("an argument ran a command (%s exists)", f)
		}
	}
}

func TestPortableWord(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "plain": true, "it's": true, `a\nb`: true, `\101`: true, "$(id) `id` ~ * {a,b}": true,
		`a\`: false, `a\\b`: false, `a\'b`: false, "!": false, "a\nb": false, "\t": false, "ü": false, "\x7f": false,
	} {
		if got := portableWord(s); got != want {
			t.Errorf("portableWord(%q) = %v, want %v", s, got, want)
		}
	}
}
