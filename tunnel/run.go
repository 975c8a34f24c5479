package tunnel

import (
	"context"
	"fmt"
)

// Run runs command in its own exec session and returns its combined output. It
// gives up when ctx ends. kfwd uses it for small remote chores, such as stopping
// a login that a signal cannot reach.
func (c *Client) Run(ctx context.Context, command string) ([]byte, error) {
	s, err := c.newSession(ctx)
	if err != nil {
		return nil, fmt.Errorf("running %q: %w", command, err)
	}
	defer s.Close()
	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := s.CombinedOutput(command)
		done <- result{out, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return r.out, fmt.Errorf("running %q: %w", command, r.err)
		}
		return r.out, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
