package tunnel

import "context"

// Target is where a login runs and whose loopback ports the forward reaches:
// the SSH host itself (*Client), or a container on this machine or on the SSH
// host (*Container), reached through its runtime's exec. Everything kfwd runs
// on the remote side (the login, the stop command, probes, relays) goes
// through these methods, so it works the same in a container.
type Target interface {
	// Start starts a command line, run by a POSIX sh or the user's login shell.
	Start(ctx context.Context, o SessionOptions) (*Session, error)
	// Output runs a short command and returns its stdout, stderr and exit
	// status; Run is Output with a non-zero status as an error.
	Output(ctx context.Context, command string) (stdout, stderr []byte, status int, err error)
	Run(ctx context.Context, command string) ([]byte, error)
	// Route finds how to reach the target's loopback ports.
	Route(ctx context.Context) (*Route, error)
}

var (
	_ Target = (*Client)(nil)
	_ Target = (*Container)(nil)
)
