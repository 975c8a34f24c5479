package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ptyRun starts cmd with a new pty as its controlling terminal (where kfwd
// asks its questions, as ssh does) and collects what it writes there.
type ptyRun struct {
	cmd  *exec.Cmd
	ptmx *os.File
	tty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
	err  error
}

func startPTY(t *testing.T, cmd *exec.Cmd) *ptyRun {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &ptyRun{cmd: cmd, ptmx: ptmx, tty: tty, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := ptmx.Read(buf)
			p.mu.Lock()
			p.out.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		ptmx.Close()
		tty.Close()
	})
	return p
}

func (p *ptyRun) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// waitFor waits until the terminal shows s.
func (p *ptyRun) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.output(), s) {
		select {
		case <-p.done:
			t.Fatalf("kfwd exited (%v) before asking %q:\n%s", p.err, s, p.output())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("kfwd did not ask %q:\n%s", s, p.output())
		}
	}
}

// exitCode waits for kfwd to exit; an unanswered question that never ends
// fails the test after 20 s.
func (p *ptyRun) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("kfwd still waits for an answer:\n%s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestPromptsEndOnInterruptAndTimeout drives kfwd login through a terminal:
// the host-key question (an unknown host with StrictHostKeyChecking ask) and
// the passphrase prompt (an encrypted key) end at once on Ctrl-C (exit 130)
// and at --timeout (exit 124) instead of waiting for an answer, and the
// terminal echoes again afterwards (issue 9).
func TestPromptsEndOnInterruptAndTimeout(t *testing.T) {
	t.Parallel()
	key := filepath.Join(t.TempDir(), "id_encrypted")
	keygenT(t, "-q", "-t", "ed25519", "-N", "correct horse", "-C", "kfwd-e2e", "-f", key)
	tools, env, ctx, _ := setupLogin(t, SSHDOptions{AuthorizedKeys: []string{readFileLine(t, key+".pub")}})
	empty := ""
	unknownCfg := env.SSHConfig(t, "srv", ClientConfig{KnownHosts: &empty, StrictHostKeyChecking: "ask"})
	passCfg := env.SSHConfig(t, "srv", ClientConfig{IdentityFile: key, IdentitiesOnly: true})

	for _, tc := range []struct {
		name, cfg, question string
		timeout             string
		want                int
	}{
		{"host key ctrl-c", unknownCfg, "Are you sure you want to continue connecting", "60s", 130},
		{"host key timeout", unknownCfg, "Are you sure you want to continue connecting", "3s", 124},
		{"passphrase ctrl-c", passCfg, "Enter passphrase for key", "60s", 130},
		{"passphrase timeout", passCfg, "Enter passphrase for key", "3s", 124},
		{"doctor host key ctrl-c", unknownCfg, "Are you sure you want to continue connecting", "", 130},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := env.KfwdCommand(ctx, tools, "login", "-F", tc.cfg, "-o", "BatchMode=no", "--timeout", tc.timeout, "srv", "--", "true")
			if tc.timeout == "" {
				cmd = env.KfwdCommand(ctx, tools, "doctor", "-F", tc.cfg, "-o", "BatchMode=no", "srv")
			}
			p := startPTY(t, cmd)
			p.waitFor(t, tc.question)
			if tc.want == 130 {
				p.ptmx.Write([]byte{3}) // Ctrl-C on the terminal: SIGINT to kfwd
			}
			if got := p.exitCode(t); got != tc.want {
				t.Errorf("exit %d, want %d:\n%s", got, tc.want, p.output())
			}
			tio, err := unix.IoctlGetTermios(int(p.tty.Fd()), unix.TCGETS)
			if err != nil {
				t.Fatal(err)
			}
			if tio.Lflag&unix.ECHO == 0 || tio.Lflag&unix.ICANON == 0 {
				t.Errorf("the terminal was left without echo or line mode (lflag %#x):\n%s", tio.Lflag, p.output())
			}
		})
	}
}
