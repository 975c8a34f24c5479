package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kfwd/kfwd/callback"
	"github.com/urfave/cli/v3"
)

func scanCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "scan",
		Usage:     "read a login's terminal output on stdin and print what kfwd would act on",
		ArgsUsage: "< transcript",
		Action: func(ctx context.Context, cmd *cli.Command) error {
			return scan(e)
		},
	}
}

// scan feeds stdin through the scanner in the chunks it arrives in, as the login
// path does, and prints what the Decider concludes from it: the same decisions
// kfwd login makes without a listener watch.
func scan(e *env) error {
	u := e.ui
	s := callback.NewScanner()
	d := callback.NewDecider(callback.DecideOptions{})
	show := func(acts []callback.Action) {
		for _, a := range acts {
			if u.JSON() {
				u.EventJSON(a)
				continue
			}
			u.Result(describeAction(a))
		}
	}
	decide := func(evs []callback.Event) {
		for _, ev := range evs {
			show(d.Add(callback.FromEvent(ev), time.Now()))
		}
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := e.stdin.Read(buf)
		if n > 0 {
			_, evs := s.Feed(buf[:n])
			decide(evs)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
	}
	_, evs := s.Close()
	decide(evs)
	show(d.Close())
	if !d.Found() {
		u.Say("kfwd: scan: found no callback port, device code or sign-in URL to act on")
	}
	return nil
}

// describeAction is the one-line human form of a decision.
func describeAction(a callback.Action) string {
	switch a.Type {
	case callback.ActCallback:
		return fmt.Sprintf("forward port %d (%s), from the %s", a.Port, a.Host, a.By)
	case callback.ActOpen:
		return fmt.Sprintf("open %s, from the %s", a.URL, a.By)
	case callback.ActDevice:
		if a.URL == "" {
			return "device code " + a.Code
		}
		return fmt.Sprintf("device code %s at %s", a.Code, a.URL)
	default:
		if a.URL != "" {
			return fmt.Sprintf("ignored %s: %s", a.URL, a.Reason)
		}
		return "ignored: " + a.Reason
	}
}
