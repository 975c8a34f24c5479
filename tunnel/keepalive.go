package tunnel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/kfwd/kfwd/sshconfig"
)

// defaultAliveInterval is kfwd's ServerAliveInterval when the configuration
// sets none (ssh's default is off): a login waits on a person, and a silently
// dead network must end it rather than hang.
const defaultAliveInterval = 15 * time.Second

// KeepaliveSettings returns the interval and count for Keepalive from h,
// with kfwd's defaults where h leaves them unset.
func KeepaliveSettings(h *sshconfig.Host) (interval time.Duration, countMax int) {
	interval, countMax = h.ServerAliveInterval, h.ServerAliveCountMax
	if interval <= 0 {
		interval = defaultAliveInterval
	}
	if countMax <= 0 {
		countMax = sshconfig.DefaultServerAliveCountMax
	}
	return interval, countMax
}

// ErrConnectionLost is wrapped by Keepalive's error when the server stopped
// answering or the connection broke.
var ErrConnectionLost = errors.New("connection lost")

// Keepalive sends keepalive@openssh.com every interval, as ssh does with
// ServerAliveInterval. Any reply, success or failure, proves the server alive.
// A request still unanswered at the next tick counts as missed; after countMax
// missed in a row the connection is closed and an error wrapping
// ErrConnectionLost returned. (The request itself never returns on a silent
// network, so it runs in its own goroutine.) Keepalive returns nil when ctx is
// done or the Client was closed, and blocks until then when interval <= 0.
func (c *Client) Keepalive(ctx context.Context, interval time.Duration, countMax int) error {
	if interval <= 0 {
		<-ctx.Done()
		return nil
	}
	if countMax <= 0 {
		countMax = sshconfig.DefaultServerAliveCountMax
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	replies := make(chan error, 1)
	inFlight, missed := false, 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-replies:
			inFlight = false
			if err != nil {
				if c.wasClosed() {
					return nil
				}
				err = fmt.Errorf("%w: %v", ErrConnectionLost, err)
				c.setLost(err)
				return err
			}
			missed = 0
		case <-ticker.C:
			if inFlight {
				missed++
				if missed >= countMax {
					err := fmt.Errorf("%w: no reply to %d keepalives in %s", ErrConnectionLost, countMax, interval*time.Duration(countMax))
					c.setLost(err) // before the close, so that sessions ending with it report it
					c.conn.Close()
					return err
				}
				continue
			}
			inFlight = true
			go func() {
				_, _, err := c.conn.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		}
	}
}

func (c *Client) wasClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}
