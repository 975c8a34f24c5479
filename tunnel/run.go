package tunnel

import (
	"bytes"
	"context"
	"fmt"
)

// Output runs a short command in its own exec session and returns what it
// wrote to stdout and to stderr (kept apart: x/crypto copies the two in
// separate goroutines) and its exit status; a non-zero status is not an
// error. When ctx ends first the session is closed and the error is ctx's.
// It is the one way kfwd runs a remote chore: doctor's checks, the relay
// probe, stopping a login that a signal cannot reach.
func (c *Client) Output(ctx context.Context, command string) (stdout, stderr []byte, status int, err error) {
	s, err := c.newSession(ctx)
	if err != nil {
		return nil, nil, -1, fmt.Errorf("running %q: %w", command, err)
	}
	defer s.Close()
	var o, e bytes.Buffer
	s.Stdout, s.Stderr = &o, &e
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	status, err = waitStatus(s.Run(command))
	if ctx.Err() != nil {
		return o.Bytes(), e.Bytes(), -1, fmt.Errorf("running %q: %w", command, ctx.Err())
	}
	if err != nil {
		return o.Bytes(), e.Bytes(), status, fmt.Errorf("running %q: %w", command, err)
	}
	return o.Bytes(), e.Bytes(), status, nil
}

// Run runs command as Output does and returns its output, stdout then
// stderr; a non-zero exit status is an error.
func (c *Client) Run(ctx context.Context, command string) ([]byte, error) {
	stdout, stderr, status, err := c.Output(ctx, command)
	out := append(stdout, stderr...)
	if err == nil && status != 0 {
		err = fmt.Errorf("running %q: exit status %d", command, status)
	}
	return out, err
}
