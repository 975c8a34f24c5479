package callback

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestWrapStoppable runs a wrapped login without a terminal, as a session
// without a PTY does, and stops it from outside with StopCommand: the wrapper
// and the login end, the pid file goes, and the status says TERM.
func TestWrapStoppable(t *testing.T) {
	tmp := t.TempDir()
	id := "test1234"
	marker := filepath.Join(tmp, "still-running")
	// The "login" touches a file after a while; it must never get there.
	cmd := exec.Command("sh", "-c", WrapStoppable([]string{"sh", "-c", "sleep 1; touch " + marker}, id))
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(tmp, "kfwd-"+id+".pid")
	for i := 0; ; i++ {
		if _, err := os.Stat(pidFile); err == nil {
			break
		}
		if i > 200 {
			t.Fatal("the wrapper wrote no pid file")
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop := exec.Command("sh", "-c", StopCommand(id))
	stop.Env = cmd.Env
	if out, err := stop.CombinedOutput(); err != nil {
		t.Fatalf("stop command: %v: %s", err, out)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 {
		t.Fatalf("wrapper ended with %v, want exit status 143", err)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left behind: %v", err)
	}
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the wrapped login kept running after the stop command")
	}
}

// TestStopCommandNoLogin: stopping a login that already ended is harmless.
func TestStopCommandNoLogin(t *testing.T) {
	cmd := exec.Command("sh", "-c", StopCommand("gone0000"))
	cmd.Env = append(os.Environ(), "TMPDIR="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
}
