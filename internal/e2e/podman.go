package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ContainersConf is the system-wide podman configuration this machine needs (.ci/run writes the
// same): crun fails on the hybrid cgroup v1/v2 setup, so runc; podman's default ulimits are refused
// here, so none; cgroupfs, because there is no systemd to manage cgroups; events in a file, not
// the journal.
const ContainersConf = `# written by kfwd's .ci/run and internal/e2e (see docs/recipes.md "Containers")
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`

// ContainersConfPath is where ContainersConf goes: the system file, because podman run by the
// namespaced sshd (a login session, with none of the test's environment) must read it too.
const ContainersConfPath = "/etc/containers/containers.conf"

// Image kinds for ContainerImage.
const (
	// ImageBusybox holds BusyBox with every applet linked (sh, nc, ps, ...) and testlogin: the
	// only relay program is BusyBox's nc.
	ImageBusybox = "busybox"
	// ImageNoRelay holds dash as /bin/sh and BusyBox linked as the tools the login wrapper needs,
	// but no nc, no busybox name and so no relay program at all.
	ImageNoRelay = "norelay"
)

// TestLoginInImage is where testlogin sits inside the test images.
const TestLoginInImage = "/usr/local/bin/testlogin"

var (
	podmanOnce sync.Once
	podmanErr  error

	imageMu    sync.Mutex
	images     = map[string]string{} // kind -> image name
	imageErrs  = map[string]error{}
	containerN atomic.Int64
)

// RequirePodman makes sure the real podman can run containers here: podman, runc, slirp4netns and
// busybox-static installed (.ci/run installs them), and the system containers.conf written. A
// missing prerequisite fails the test.
func RequirePodman(t testing.TB) {
	t.Helper()
	Require(t)
	podmanOnce.Do(func() { podmanErr = setupPodman() })
	if podmanErr != nil {
		t.Fatalf("podman prerequisite: %v", podmanErr)
	}
}

func setupPodman() error {
	for _, p := range []string{"podman", "runc", "slirp4netns", "busybox"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s not found (apt-get install podman runc uidmap slirp4netns busybox-static; .ci/run does): %w", p, err)
		}
	}
	removeStaleImages()
	if exec.Command("ldd", "/bin/busybox").Run() == nil {
		return fmt.Errorf("/bin/busybox is linked dynamically; the test image has no libc: install busybox-static")
	}
	if b, err := os.ReadFile(ContainersConfPath); err != nil || string(b) != ContainersConf {
		if err := os.MkdirAll(filepath.Dir(ContainersConfPath), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(ContainersConfPath, []byte(ContainersConf), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", ContainersConfPath, err)
		}
	}
	return nil
}

// ContainerImage builds (once per test binary) an image of the given kind with podman import from
// a directory holding BusyBox and a static testlogin, without any registry, and returns its name.
func ContainerImage(t testing.TB, tools *Tools, kind string) string {
	t.Helper()
	RequirePodman(t)
	imageMu.Lock()
	defer imageMu.Unlock()
	if name, ok := images[kind]; ok {
		return name
	}
	if err, ok := imageErrs[kind]; ok {
		t.Fatal(err)
	}
	name, err := buildImage(tools, kind)
	if err != nil {
		imageErrs[kind] = err
		t.Fatal(err)
	}
	images[kind] = name
	return name
}

func buildImage(tools *Tools, kind string) (string, error) {
	dir, err := binDir()
	if err != nil {
		return "", err
	}
	static := filepath.Join(dir, "static")
	if _, err := os.Stat(filepath.Join(static, "testlogin")); err != nil {
		// The image has no libc: testlogin must not need one.
		if err := goBuildEnv(static, []string{"CGO_ENABLED=0"}, "./internal/testprog/testlogin"); err != nil {
			return "", err
		}
	}
	root, err := os.MkdirTemp(dir, "rootfs-"+kind+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(root)
	for _, d := range []string{"bin", "usr/local/bin", "tmp", "etc", "root"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return "", err
	}
	if err := copyFile(filepath.Join(static, "testlogin"), filepath.Join(root, TestLoginInImage)); err != nil {
		return "", err
	}
	bb := "/bin/busybox"
	list, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return "", fmt.Errorf("busybox --list: %w", err)
	}
	applets := strings.Fields(string(list))
	binary := "busybox"
	if kind == ImageNoRelay {
		// BusyBox's sh runs its own applets (nc among them) even without a link, so this image's
		// sh is dash, and BusyBox sits under a name no probe looks for, linked as the tools the
		// login wrapper needs.
		binary = ".applets"
		applets = []string{"mktemp", "chmod", "cp", "rm", "tr", "base64", "od", "cat", "kill", "sleep", "ps", "env", "hostname", "grep", "stty", "netstat", "httpd", "killall", "ls"}
		if err := copyWithLibraries(root, "/bin/dash"); err != nil {
			return "", err
		}
		if err := os.Symlink("dash", filepath.Join(root, "bin", "sh")); err != nil {
			return "", err
		}
	}
	if err := copyFile(bb, filepath.Join(root, "bin", binary)); err != nil {
		return "", err
	}
	for _, a := range applets {
		if a == binary {
			continue
		}
		if err := os.Symlink(binary, filepath.Join(root, "bin", a)); err != nil && !os.IsExist(err) {
			return "", err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644); err != nil {
		return "", err
	}
	name := fmt.Sprintf("localhost/kfwd-e2e-%s:%d", kind, os.Getpid())
	tar := exec.Command("tar", "-C", root, "-c", ".")
	imp := exec.Command("podman", "import", "--change", "ENV PATH=/usr/local/bin:/usr/bin:/bin", "-", name)
	pipe, err := tar.StdoutPipe()
	if err != nil {
		return "", err
	}
	imp.Stdin = pipe
	var out bytes.Buffer
	imp.Stdout, imp.Stderr = &out, &out
	if err := tar.Start(); err != nil {
		return "", err
	}
	if err := imp.Run(); err != nil {
		tar.Wait() //nolint:errcheck // the import error says more
		return "", fmt.Errorf("podman import: %v\n%s", err, out.String())
	}
	if err := tar.Wait(); err != nil {
		return "", fmt.Errorf("tar: %w", err)
	}
	return name, nil
}

// copyWithLibraries copies a dynamically linked program and the libraries ldd lists for it into
// root, at the same paths.
func copyWithLibraries(root, program string) error {
	out, err := exec.Command("ldd", program).Output()
	if err != nil {
		return fmt.Errorf("ldd %s: %w", program, err)
	}
	files := []string{program}
	for _, f := range strings.Fields(string(out)) {
		if strings.HasPrefix(f, "/") {
			files = append(files, f)
		}
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o755); err != nil {
			return err
		}
		if err := copyFile(f, filepath.Join(root, f)); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// removeImages deletes the images this test binary built.
func removeImages() {
	imageMu.Lock()
	defer imageMu.Unlock()
	for _, name := range images {
		exec.Command("podman", "rmi", "-f", name).Run() //nolint:errcheck // best effort
	}
}

// removeStaleImages deletes test images and containers left by test binaries that died (named
// kfwd-e2e-*:PID and kfwd-e2e-PID-N with a PID that no longer runs).
func removeStaleImages() {
	out, _ := exec.Command("podman", "ps", "-a", "--format", "{{.Names}}").Output()
	for _, name := range strings.Fields(string(out)) {
		rest, ok := strings.CutPrefix(name, "kfwd-e2e-")
		pid, _, _ := strings.Cut(rest, "-")
		if n, err := strconv.Atoi(pid); ok && err == nil && n != os.Getpid() && !processAlive(n) {
			exec.Command("podman", "rm", "-f", "-t", "0", name).Run() //nolint:errcheck // best effort
		}
	}
	out, _ = exec.Command("podman", "images", "--format", "{{.Repository}}:{{.Tag}}").Output()
	for _, name := range strings.Fields(string(out)) {
		repo, tag, _ := strings.Cut(name, ":")
		if n, err := strconv.Atoi(tag); strings.HasPrefix(repo, "localhost/kfwd-e2e-") && err == nil && n != os.Getpid() && !processAlive(n) {
			exec.Command("podman", "rmi", "-f", name).Run() //nolint:errcheck // best effort
		}
	}
}

// Container is a running podman container made for one test.
type Container struct {
	Name  string
	Image string
}

// RunContainer starts a container of image (sleep as its main process) with its own network
// namespace: slirp4netns, a user-mode network stack, so that the login inside can reach the
// authorization server (10.78.N.1, or this machine's loopback as 10.0.2.2) while its loopback is
// its own and no interface or port appears on the host. t.Cleanup removes it.
func RunContainer(t testing.TB, image string) *Container {
	t.Helper()
	c := &Container{Name: fmt.Sprintf("kfwd-e2e-%d-%d", os.Getpid(), containerN.Add(1)), Image: image}
	out, err := exec.Command("podman", "run", "-d", "--name", c.Name, "--network", "slirp4netns:allow_host_loopback=true", image, "sleep", "3600").CombinedOutput()
	if err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("podman", "rm", "-f", "-t", "0", c.Name).CombinedOutput(); err != nil {
			t.Logf("podman rm %s: %v\n%s", c.Name, err, out)
		}
	})
	return c
}

// Exec runs a command in the container and returns its output.
func (c *Container) Exec(t testing.TB, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "podman", append([]string{"exec", c.Name}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("podman exec %s %s: %v\n%s", c.Name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Processes lists the container's live processes other than its main process (pid 1) and the ps
// that lists them, as "PID STAT ARGS" lines. Zombies are left out: the test containers' pid 1 is
// sleep, which reaps nothing, so an exec'd process that exits after its parent stays a zombie
// (not running, holding nothing but a pid).
func (c *Container) Processes(t testing.TB) []string {
	t.Helper()
	var procs []string
	for _, l := range strings.Split(c.Exec(t, "ps", "-o", "pid,stat,args"), "\n") {
		f := strings.Fields(l)
		if len(f) < 3 || f[0] == "PID" || f[0] == "1" || strings.HasPrefix(f[1], "Z") || (f[2] == "ps" && strings.Contains(l, "pid,stat,args")) {
			continue
		}
		procs = append(procs, strings.TrimSpace(l))
	}
	return procs
}

// cgroupMountScript mounts this machine's cgroup hierarchies again, for a process started with
// `ip netns exec`: that gives it a fresh /sys without cgroup mounts, and podman (runc exec) joins
// the container's cgroups through them.
func cgroupMountScript() (string, error) {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return "", err
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[1], "/sys/fs/cgroup") {
			continue
		}
		switch {
		case f[1] == "/sys/fs/cgroup" && f[2] == "tmpfs":
			lines = append([]string{"mount -t tmpfs -o " + f[3] + " tmpfs /sys/fs/cgroup"}, lines...)
		case f[2] == "cgroup" || f[2] == "cgroup2":
			lines = append(lines, fmt.Sprintf("mkdir -p %s && mount -t %s -o %s %s %s", f[1], f[2], f[3], f[0], f[1]))
		}
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("no cgroup mounts under /sys/fs/cgroup")
	}
	return strings.Join(lines, " && "), nil
}

func stopContainer(t testing.TB, c *Container) {
	t.Helper()
	if out, err := exec.Command("podman", "stop", "-t", "0", c.Name).CombinedOutput(); err != nil {
		t.Fatalf("podman stop %s: %v\n%s", c.Name, err, out)
	}
}

// DockerAPI serves podman's Docker-compatible API on a unix socket of its own (podman system
// service), so that the real docker client can be tested without a Docker daemon: it returns the
// DOCKER_HOST value. The containers are podman's. t.Cleanup stops the service.
func DockerAPI(t testing.TB) string {
	t.Helper()
	RequirePodman(t)
	if _, err := exec.LookPath("docker"); err != nil {
		t.Fatalf("the docker client is not installed: %v", err)
	}
	sock := filepath.Join(t.TempDir(), "docker.sock")
	cmd := exec.Command("podman", "system", "service", "--time=0", "unix://"+sock)
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("podman system service: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }() //nolint:errcheck // reported through the log
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // may have exited
		<-done
	})
	host := "unix://" + sock
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := exec.Command("docker", "version", "--format", "{{.Server.Version}}")
		c.Env = append(os.Environ(), "DOCKER_HOST="+host)
		if err := c.Run(); err == nil {
			return host
		}
		select {
		case <-done:
			t.Fatalf("podman system service exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the docker API on %s does not answer: %s", sock, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
