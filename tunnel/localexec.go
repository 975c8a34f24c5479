package tunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// localProcess is a Session's command running on this machine: a container
// runtime's exec client (podman exec, docker exec, kubectl exec).
type localProcess struct {
	cmd *exec.Cmd
	pty *os.File // the terminal's master side; nil without a terminal

	closeOnce sync.Once
}

func (p *localProcess) signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

func (p *localProcess) resize(width, height int) error {
	if p.pty == nil {
		return errors.New("the command has no terminal")
	}
	return resizePTY(p.pty, width, height)
}

// close is what closing an SSH channel does to its command: the terminal hangs
// up, and a command without one loses its client (the runtime's exec client is
// killed; the container's process itself is stopped through the login
// wrapper's stop command, as on an SSH host).
func (p *localProcess) close() error {
	p.closeOnce.Do(func() {
		if p.pty != nil {
			p.pty.Close()
		}
		p.cmd.Process.Kill()
	})
	return nil
}

// startLocal runs argv on this machine as a Session: with o.PTY on a new
// pseudo-terminal of o.Width x o.Height, else with pipes and in its own
// process group (so that a Ctrl-C at kfwd's terminal reaches kfwd, which stops
// the login, and not the exec client, which would leave it running).
func startLocal(ctx context.Context, argv []string, o SessionOptions) (*Session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.WaitDelay = 2 * time.Second
	p := &localProcess{cmd: cmd}
	s := &Session{p: p, stdin: o.Stdin, exited: make(chan struct{})}
	stdout, stderr := o.Stdout, o.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	var stdin io.WriteCloser
	var output chan struct{} // closed when the terminal's output is drained
	if o.PTY {
		w, h := o.Width, o.Height
		if w <= 0 {
			w = 80
		}
		if h <= 0 {
			h = 24
		}
		master, err := startPTY(cmd, w, h)
		if err != nil {
			return nil, err
		}
		p.pty = master
		if o.Stdin != nil {
			stdin = ptyInput{master}
		}
		output = make(chan struct{})
		go func() {
			defer close(output)
			io.Copy(stdout, master) // ends with EIO once the command and its children are gone
		}()
	} else {
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if o.Stdin != nil {
			var err error
			if stdin, err = cmd.StdinPipe(); err != nil {
				return nil, err
			}
		}
		ownProcessGroup(cmd)
		if err := cmd.Start(); err != nil {
			return nil, err
		}
	}
	stop := context.AfterFunc(ctx, func() { p.close() })
	s.run(stdin, func() (int, error) {
		err := cmd.Wait()
		if output != nil {
			select {
			case <-output:
			case <-time.After(time.Second):
			}
		}
		return localStatus(cmd, err)
	}, func() {
		stop()
		if p.pty != nil {
			p.pty.Close()
		}
	})
	return s, nil
}

// localStatus reports an exit status as waitStatus does for SSH: the status,
// or 128+signal.
func localStatus(cmd *exec.Cmd, err error) (int, error) {
	if cmd.ProcessState == nil {
		return -1, fmt.Errorf("waiting for %s: %w", cmd.Path, err)
	}
	if st, ok := signalStatus(cmd.ProcessState); ok {
		return st, nil
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) && !errors.Is(err, exec.ErrWaitDelay) {
		return cmd.ProcessState.ExitCode(), fmt.Errorf("waiting for %s: %w", cmd.Path, err)
	}
	return cmd.ProcessState.ExitCode(), nil
}

// ptyInput writes keystrokes to the terminal; the end of kfwd's stdin does not
// hang it up (with a terminal, EOF is a keystroke of its own).
type ptyInput struct{ f *os.File }

func (p ptyInput) Write(b []byte) (int, error) { return p.f.Write(b) }
func (p ptyInput) Close() error                { return nil }
