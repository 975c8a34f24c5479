package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Netns is a network namespace created for one test, joined to the host by a veth pair:
// the host side has HostIP (10.78.N.1/24), the namespace side NSIP (10.78.N.2/24). Its loopback is up
// and separate from the host's, like a remote machine's.
type Netns struct {
	Name   string // kfwd-e2e-<pid>-<n>
	Index  int    // N in 10.78.N.0/24
	HostIP string // 10.78.N.1
	NSIP   string // 10.78.N.2
	HostIf string // host side of the veth pair
}

const nsPrefix = "kfwd-e2e-"

var (
	nsCounter    atomic.Int64
	staleCleanup sync.Once
)

// NewNetns creates a namespace and its veth pair; t.Cleanup kills every process in it and deletes it.
func NewNetns(t testing.TB) *Netns {
	t.Helper()
	Require(t)
	staleCleanup.Do(removeStaleNamespaces)
	n := nsCounter.Add(1)
	ns := &Netns{Name: fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), n)}
	if out, err := ipCmd("netns", "add", ns.Name); err != nil {
		t.Fatalf("creating namespace %s: %v: %s", ns.Name, err, out)
	}
	t.Cleanup(func() { ns.destroy(t) })

	// Claim a subnet index by creating its veth pair: link names are unique on the host, so two
	// test processes cannot take the same N.
	start := (os.Getpid()*7 + int(n)*13) % 250
	for i := range 250 {
		idx := (start+i)%250 + 1
		hostIf, nsIf := fmt.Sprintf("kfwd%dh", idx), fmt.Sprintf("kfwd%dn", idx)
		if _, err := ipCmd("link", "add", hostIf, "type", "veth", "peer", "name", nsIf); err != nil {
			continue
		}
		if out, _ := ipCmd("-o", "addr", "show", "to", fmt.Sprintf("10.78.%d.0/24", idx)); strings.TrimSpace(out) != "" {
			ipCmd("link", "del", hostIf) //nolint:errcheck // the subnet is used by something else
			continue
		}
		ns.Index, ns.HostIf = idx, hostIf
		ns.HostIP, ns.NSIP = fmt.Sprintf("10.78.%d.1", idx), fmt.Sprintf("10.78.%d.2", idx)
		steps := [][]string{
			{"link", "set", nsIf, "netns", ns.Name},
			{"addr", "add", ns.HostIP + "/24", "dev", hostIf},
			{"link", "set", hostIf, "up"},
			{"-n", ns.Name, "addr", "add", ns.NSIP + "/24", "dev", nsIf},
			{"-n", ns.Name, "link", "set", nsIf, "up"},
			{"-n", ns.Name, "link", "set", "lo", "up"},
		}
		for _, s := range steps {
			if out, err := ipCmd(s...); err != nil {
				t.Fatalf("ip %s: %v: %s", strings.Join(s, " "), err, out)
			}
		}
		return ns
	}
	t.Fatal("no free 10.78.N.0/24 subnet for a test namespace")
	return nil
}

func ipCmd(args ...string) (string, error) {
	out, err := exec.Command("ip", args...).CombinedOutput()
	return string(out), err
}

// Command returns a command that runs inside the namespace (ip netns exec).
func (ns *Netns) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Pids lists the processes running in the namespace.
func (ns *Netns) Pids() ([]int, error) {
	return namespacePids(ns.Name)
}

// ProcessesMatching lists the processes in the namespace whose command line contains substr.
func (ns *Netns) ProcessesMatching(substr string) []int {
	pids, _ := ns.Pids()
	var out []int
	for _, p := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), substr) {
			out = append(out, p)
		}
	}
	return out
}

func namespacePids(name string) ([]int, error) {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err != nil {
		return nil, fmt.Errorf("listing processes in %s: %w", name, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids, nil
}

func (ns *Netns) destroy(t testing.TB) {
	if err := killNamespace(ns.Name); err != nil {
		t.Errorf("%v", err)
	}
	if ns.HostIf != "" {
		ipCmd("link", "del", ns.HostIf) //nolint:errcheck // usually gone with the namespace
	}
}

// killNamespace kills every process in the namespace, then deletes it.
func killNamespace(name string) error {
	for range 50 {
		pids, err := namespacePids(name)
		if err != nil || len(pids) == 0 {
			break
		}
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL) //nolint:errcheck // may have exited already
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, err := ipCmd("netns", "del", name); err != nil {
		return fmt.Errorf("deleting namespace %s: %v: %s", name, err, out)
	}
	return nil
}

// removeStaleNamespaces deletes namespaces left behind by harness processes that died (killed
// test binaries), recognised by their kfwd-e2e-<pid>- prefix with a pid that no longer runs.
func removeStaleNamespaces() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest, ok := strings.CutPrefix(name, nsPrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		killNamespace(name) //nolint:errcheck // best effort
	}
}

func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
