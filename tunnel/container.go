package tunnel

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Runtime is a container runtime whose exec command runs programs inside a
// container: podman, docker or kubectl.
type Runtime string

// The runtimes kfwd knows. They share one exec transport; only the command
// lines differ.
const (
	Podman  Runtime = "podman"
	Docker  Runtime = "docker"
	Kubectl Runtime = "kubectl"
)

// hostRuntimes are the runtimes looked for on an SSH host when none is named,
// in order of preference (docker first: where both exist, dev containers are
// usually docker's).
var hostRuntimes = []Runtime{Docker, Podman}

// ContainerSpec names a container: a docker or podman container by name or id,
// or a Kubernetes pod with its context, namespace and container ("" for
// kubectl's defaults).
type ContainerSpec struct {
	// Runtime is "" on an SSH host for whichever of docker and podman runs Name.
	Runtime Runtime
	Name    string // the container, or the pod for kubectl

	Context, Namespace, Container string // kubectl only
}

// ParseContainerTarget recognises the container forms of kfwd's destination
// argument: docker://NAME, podman://NAME and
// kubectl://[CONTEXT/][NAMESPACE/]POD[/CONTAINER]. With one part it is the
// pod, two are NAMESPACE/POD, three CONTEXT/NAMESPACE/POD and four add the
// container; empty parts take kubectl's defaults (kubectl:///web/app: current
// context, namespace web). ok is false for anything else (an SSH host).
func ParseContainerTarget(arg string) (spec ContainerSpec, ok bool, err error) {
	scheme, rest, found := strings.Cut(arg, "://")
	if !found {
		return ContainerSpec{}, false, nil
	}
	switch rt := Runtime(scheme); rt {
	case Podman, Docker:
		if rest == "" || strings.Contains(rest, "/") {
			return ContainerSpec{}, true, fmt.Errorf("%s: want %s://CONTAINER", arg, rt)
		}
		return ContainerSpec{Runtime: rt, Name: rest}, true, nil
	case Kubectl:
		parts := strings.Split(rest, "/")
		s := ContainerSpec{Runtime: Kubectl}
		switch len(parts) {
		case 1:
			s.Name = parts[0]
		case 2:
			s.Namespace, s.Name = parts[0], parts[1]
		case 3:
			s.Context, s.Namespace, s.Name = parts[0], parts[1], parts[2]
		case 4:
			s.Context, s.Namespace, s.Name, s.Container = parts[0], parts[1], parts[2], parts[3]
		}
		if s.Name == "" || len(parts) > 4 {
			return ContainerSpec{}, true, fmt.Errorf("%s: want kubectl://[CONTEXT/][NAMESPACE/]POD[/CONTAINER]", arg)
		}
		return s, true, nil
	}
	return ContainerSpec{}, true, fmt.Errorf("%s: unknown container runtime %q (known: docker, podman, kubectl)", arg, scheme)
}

// String returns the spec as a destination argument (podman://dev).
func (s ContainerSpec) String() string {
	if s.Runtime != Kubectl {
		if s.Runtime == "" {
			return s.Name
		}
		return string(s.Runtime) + "://" + s.Name
	}
	switch {
	case s.Container != "":
		return "kubectl://" + s.Context + "/" + s.Namespace + "/" + s.Name + "/" + s.Container
	case s.Context != "":
		return "kubectl://" + s.Context + "/" + s.Namespace + "/" + s.Name
	case s.Namespace != "":
		return "kubectl://" + s.Namespace + "/" + s.Name
	}
	return "kubectl://" + s.Name
}

// ContainerProblem says why a container cannot be used.
type ContainerProblem int

const (
	RuntimeMissing       ContainerProblem = iota + 1 // the runtime's command is not installed
	ContainerNotFound                                // the runtime knows no such container
	ContainerNotRunning                              // it exists but is stopped
	RuntimePermission                                // permission denied on the runtime's socket (or RBAC)
	RuntimeUnreachable                               // the runtime's daemon or cluster does not answer
	ContainerCheckFailed                             // anything else; Detail has the runtime's words
)

// ContainerError is a container kfwd cannot exec into, with the reason.
type ContainerError struct {
	Spec    ContainerSpec
	Problem ContainerProblem
	// Runtimes are the runtimes that were looked for (Spec.Runtime, or
	// docker and podman on an SSH host).
	Runtimes []Runtime
	// OnHost is true when the container was looked for on the SSH host.
	OnHost bool
	// Detail is the runtime's own message.
	Detail string
}

func (e *ContainerError) Error() string {
	where := "on this machine"
	if e.OnHost {
		where = "on the remote host"
	}
	rt := string(e.Spec.Runtime)
	what := "container " + e.Spec.Name
	if e.Spec.Runtime == Kubectl {
		what = "pod " + e.Spec.Name
	}
	var msg string
	switch e.Problem {
	case RuntimeMissing:
		names := make([]string, len(e.Runtimes))
		for i, r := range e.Runtimes {
			names[i] = string(r)
		}
		if len(names) > 1 {
			return fmt.Sprintf("neither %s is installed %s", strings.Join(names, " nor "), where)
		}
		return fmt.Sprintf("%s is not installed %s", strings.Join(names, ""), where)
	case ContainerNotFound:
		msg = fmt.Sprintf("%s knows no %s %s", rt, what, where)
		if rt == "" {
			msg = fmt.Sprintf("no %s %s", what, where)
		}
	case ContainerNotRunning:
		msg = fmt.Sprintf("%s is not running (%s %s)", what, rt, where)
	case RuntimePermission:
		msg = fmt.Sprintf("permission denied using %s %s", rt, where)
	case RuntimeUnreachable:
		msg = fmt.Sprintf("%s cannot reach its daemon or cluster %s", rt, where)
	default:
		msg = fmt.Sprintf("checking %s with %s %s failed", what, rt, where)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Container runs commands inside a container through its runtime's exec:
// `podman exec -i[t] NAME sh -c COMMAND` (docker alike), `kubectl exec`, run on
// this machine or, with a Host, over the SSH connection. Its loopback is the
// container's own (its network namespace), which only a relay program run the
// same way reaches, so Route always relays.
type Container struct {
	Spec ContainerSpec
	host *Client
	logf func(string, ...any)
}

// ContainerOptions configure OpenContainer.
type ContainerOptions struct {
	// Host runs the runtime on the SSH host; nil runs it on this machine.
	Host *Client
	Logf func(format string, args ...any)
}

// OpenContainer checks, with one runtime command, that the container exists and
// runs, and picks the runtime on an SSH host when spec names none. Problems
// come back as *ContainerError.
func OpenContainer(ctx context.Context, spec ContainerSpec, o ContainerOptions) (*Container, error) {
	c := &Container{Spec: spec, host: o.Host, logf: o.Logf}
	if c.logf == nil {
		c.logf = func(string, ...any) {}
	}
	if spec.Runtime == Kubectl && o.Host != nil {
		return nil, errors.New("kubectl targets run kubectl on this machine, not on an SSH host")
	}
	runtimes := []Runtime{spec.Runtime}
	if spec.Runtime == "" {
		if o.Host == nil {
			return nil, errors.New("a local container needs a runtime (docker://, podman://, kubectl://)")
		}
		runtimes = hostRuntimes
	}
	var answers []runtimeAnswer
	var err error
	if o.Host == nil {
		answers = []runtimeAnswer{c.checkLocal(ctx)}
	} else {
		answers, err = c.checkOnHost(ctx, runtimes)
		if err != nil {
			return nil, err
		}
	}
	rt, cerr := decide(spec, runtimes, answers)
	if cerr != nil {
		cerr.OnHost = o.Host != nil
		return nil, cerr
	}
	c.Spec.Runtime = rt
	c.logf("container: %s runs %s", rt, spec.Name)
	return c, nil
}

// runtimeAnswer is what one runtime said about the container.
type runtimeAnswer struct {
	rt      Runtime
	missing bool
	status  int
	out     string // the state ("true", "Running") or the error message
}

// inspectArgv asks the runtime whether the container runs: "true"/"false" from
// docker and podman, the pod's phase from kubectl.
func (s ContainerSpec) inspectArgv(rt Runtime) []string {
	if rt == Kubectl {
		return append(s.kubectlGlobal(), "get", "pod", s.Name, "-o", "jsonpath={.status.phase}")
	}
	return []string{string(rt), "container", "inspect", "--format", "{{.State.Running}}", s.Name}
}

func (s ContainerSpec) kubectlGlobal() []string {
	argv := []string{"kubectl"}
	if s.Context != "" {
		argv = append(argv, "--context", s.Context)
	}
	if s.Namespace != "" {
		argv = append(argv, "--namespace", s.Namespace)
	}
	return argv
}

func (c *Container) checkLocal(ctx context.Context) runtimeAnswer {
	rt := c.Spec.Runtime
	argv := c.Spec.inspectArgv(rt)
	if _, err := exec.LookPath(argv[0]); err != nil {
		return runtimeAnswer{rt: rt, missing: true}
	}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	a := runtimeAnswer{rt: rt, out: oneLine(string(out))}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		a.status = ee.ExitCode()
	case err != nil:
		a.status, a.out = -1, err.Error()
	}
	return a
}

// hostCheckScript asks every runtime in "$@" (after the container name, $1)
// about the container, in one session: "kfwd-rt RUNTIME missing" or
// "kfwd-rt RUNTIME STATUS OUTPUT".
const hostCheckScript = `n=$1; shift; for r in "$@"; do if command -v "$r" >/dev/null 2>&1; then o=$("$r" container inspect --format '{{.State.Running}}' "$n" 2>&1); s=$?; printf 'kfwd-rt %s %s %s\n' "$r" "$s" "$(printf '%s' "$o" | tr '\n' ' ')"; else printf 'kfwd-rt %s missing\n' "$r"; fi; done; exit 0`

func (c *Container) checkOnHost(ctx context.Context, runtimes []Runtime) ([]runtimeAnswer, error) {
	argv := []string{"sh", "-c", hostCheckScript, "kfwd", c.Spec.Name}
	for _, r := range runtimes {
		argv = append(argv, string(r))
	}
	out, err := c.host.Run(ctx, hostLine(argv))
	if err != nil {
		return nil, fmt.Errorf("looking for container %s: %w", c.Spec.Name, err)
	}
	var answers []runtimeAnswer
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "kfwd-rt ")
		if !ok {
			continue
		}
		f := strings.SplitN(rest, " ", 3)
		a := runtimeAnswer{rt: Runtime(f[0])}
		if len(f) < 2 || f[1] == "missing" {
			a.missing = true
		} else {
			a.status, _ = strconv.Atoi(f[1])
			if len(f) == 3 {
				a.out = strings.TrimSpace(f[2])
			}
		}
		answers = append(answers, a)
	}
	return answers, nil
}

// decide picks the runtime whose container runs, or explains the most useful
// problem: a stopped container before a permission or daemon problem, those
// before "not found", and "not installed" only when no runtime is.
func decide(spec ContainerSpec, runtimes []Runtime, answers []runtimeAnswer) (Runtime, *ContainerError) {
	var best *ContainerError
	rank := map[ContainerProblem]int{ContainerNotRunning: 5, RuntimePermission: 4, RuntimeUnreachable: 3, ContainerCheckFailed: 2, ContainerNotFound: 1}
	for _, a := range answers {
		if a.missing {
			continue
		}
		if a.status == 0 && (a.out == "true" || a.out == "Running") {
			return a.rt, nil
		}
		e := &ContainerError{Spec: spec, Runtimes: runtimes, Problem: classify(a)}
		e.Spec.Runtime = a.rt
		if e.Problem != ContainerNotRunning {
			e.Detail = a.out
		} else if a.rt == Kubectl {
			e.Detail = "phase " + a.out
		}
		if best == nil || rank[e.Problem] > rank[best.Problem] {
			best = e
		}
	}
	if best == nil {
		return "", &ContainerError{Spec: spec, Runtimes: runtimes, Problem: RuntimeMissing}
	}
	return "", best
}

func classify(a runtimeAnswer) ContainerProblem {
	o := strings.ToLower(a.out)
	switch {
	case a.status == 0:
		return ContainerNotRunning // "false", or a pod phase other than Running
	case strings.Contains(o, "permission denied"), strings.Contains(o, "forbidden"):
		return RuntimePermission
	case strings.Contains(o, "cannot connect"), strings.Contains(o, "daemon running"),
		strings.Contains(o, "connection refused"), strings.Contains(o, "was refused"), strings.Contains(o, "unable to connect"):
		return RuntimeUnreachable
	case strings.Contains(o, "no such container"), strings.Contains(o, "no such object"),
		strings.Contains(o, "notfound"), strings.Contains(o, "not found"):
		return ContainerNotFound
	}
	return ContainerCheckFailed
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// execArgv returns the runtime command that runs command (a sh command line)
// in the container: with -t when tty, -i always (stdin carries keystrokes or
// a relay's bytes), env set inside.
func (c *Container) execArgv(tty bool, env map[string]string, command string) []string {
	s := c.Spec
	var argv []string
	names := slices.Sorted(maps.Keys(env))
	if s.Runtime == Kubectl {
		argv = append(s.kubectlGlobal(), "exec", "-i")
		if tty {
			argv = append(argv, "-t")
		}
		argv = append(argv, s.Name)
		if s.Container != "" {
			argv = append(argv, "-c", s.Container)
		}
		argv = append(argv, "--")
		if len(names) > 0 {
			argv = append(argv, "env") // kubectl exec has no -e
			for _, k := range names {
				argv = append(argv, k+"="+env[k])
			}
		}
	} else {
		argv = []string{string(s.Runtime), "exec", "-i"}
		if tty {
			argv = append(argv, "-t")
		}
		for _, k := range names {
			argv = append(argv, "-e", k+"="+env[k])
		}
		argv = append(argv, s.Name)
	}
	return append(argv, "sh", "-c", command)
}

// Start runs o.Command with sh inside the container. With o.PTY the runtime
// gets -t and a terminal: the SSH session's PTY, or a local pseudo-terminal
// for a local runtime. o.Env and the terminal type are set inside the
// container.
func (c *Container) Start(ctx context.Context, o SessionOptions) (*Session, error) {
	env := maps.Clone(o.Env)
	if o.PTY {
		if env == nil {
			env = map[string]string{}
		}
		env["TERM"] = o.Term
		if o.Term == "" {
			env["TERM"] = "xterm-256color"
		}
	}
	command := o.Command
	if command == "" {
		command = "exec sh"
	}
	argv := c.execArgv(o.PTY, env, command)
	c.logf("container: running %s", strings.Join(argv[:len(argv)-1], " "))
	if c.host != nil {
		o.Command, o.Env = hostLine(argv), nil
		return c.host.Start(ctx, o)
	}
	s, err := startLocal(ctx, argv, o)
	if err != nil {
		return nil, fmt.Errorf("running %s exec: %w", c.Spec.Runtime, err)
	}
	return s, nil
}

// Output runs a short command in the container as Client.Output does on the
// SSH host: stdout, stderr and the exit status (non-zero is not an error);
// when ctx ends first the error is ctx's.
func (c *Container) Output(ctx context.Context, command string) (stdout, stderr []byte, status int, err error) {
	var o, e lockedBuffer
	s, err := c.Start(ctx, SessionOptions{Command: command, Stdout: &o, Stderr: &e})
	if err != nil {
		return nil, nil, -1, fmt.Errorf("running %q: %w", command, err)
	}
	defer s.Close()
	select {
	case <-s.done():
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		return o.Bytes(), e.Bytes(), -1, fmt.Errorf("running %q: %w", command, ctx.Err())
	}
	status, err = s.Wait()
	if err != nil {
		return o.Bytes(), e.Bytes(), status, fmt.Errorf("running %q: %w", command, err)
	}
	return o.Bytes(), e.Bytes(), status, nil
}

// Run runs command as Output does and returns its output, stdout then
// stderr; a non-zero exit status is an error.
func (c *Container) Run(ctx context.Context, command string) ([]byte, error) {
	stdout, stderr, status, err := c.Output(ctx, command)
	out := append(stdout, stderr...)
	if err == nil && status != 0 {
		err = fmt.Errorf("running %q: exit status %d", command, status)
	}
	return out, err
}

// Route finds a relay program in the container: its loopback is reached only
// by running one there (no published port, no change to the container).
// Without any, the error is a *NoRelayError naming the container.
func (c *Container) Route(ctx context.Context) (*Route, error) {
	r, err := findRelay(ctx, c, "in container "+c.Spec.Name)
	if err != nil {
		return nil, err
	}
	return &Route{relay: &r}, nil
}

// RunningContainers lists the names of the containers the runtime runs on this
// machine (pods for kubectl), for shell completion.
func RunningContainers(ctx context.Context, rt Runtime) ([]string, error) {
	argv := []string{string(rt), "ps", "--format", "{{.Names}}"}
	if rt == Kubectl {
		argv = []string{"kubectl", "get", "pods", "--field-selector=status.phase=Running", "-o", "name"}
	}
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output()
	if err != nil {
		return nil, fmt.Errorf("listing %s containers: %w", rt, err)
	}
	var names []string
	for _, l := range strings.Fields(string(out)) {
		names = append(names, strings.TrimPrefix(l, "pod/"))
	}
	return names, nil
}

// hostLine returns the command line that runs argv on the SSH host through
// the user's login shell, meaning the same under sh, dash, bash, zsh, fish,
// csh and tcsh. Those agree on ShellQuote's words when each holds only
// printable ASCII without ! (csh and tcsh expand it even inside single
// quotes) and without a backslash before a backslash, before a quote or at
// its end (fish reads \\ and \' inside single quotes): then the line is
// shJoin's, and costs nothing on the host. A login's line always is (the
// wrapper's words are octal-escaped, see remoteLine). Any other argv, such as
// a script with newlines or nested quotes, goes through remoteLine's /bin/sh
// trampoline, which execs the runtime in its place.
func hostLine(argv []string) string {
	line := shJoin(argv)
	for _, a := range argv {
		if !portableWord(a) {
			return remoteLine("", "", "exec "+line, nil)
		}
	}
	return line
}

// portableWord reports whether every login shell reads ShellQuote(s) as s
// (see hostLine).
func portableWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '!' {
			return false
		}
		if c == '\\' && (i+1 == len(s) || s[i+1] == '\\' || s[i+1] == '\'') {
			return false
		}
	}
	return true
}

// shJoin quotes argv as one command line for a POSIX shell.
func shJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = ShellQuote(a)
	}
	return strings.Join(q, " ")
}

// lockedBuffer is a bytes.Buffer for stdout and stderr written at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}
