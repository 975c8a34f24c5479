package main

import (
	"context"
	"fmt"
	"io"

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
// path does, and prints each event.
func scan(e *env) error {
	u := e.ui
	s := callback.NewScanner()
	emit := func(evs []callback.Event) {
		for _, ev := range evs {
			if u.json {
				u.eventJSON(ev)
				continue
			}
			u.result(describeEvent(ev))
		}
	}
	buf := make([]byte, 32*1024)
	for {
		n, err := e.stdin.Read(buf)
		if n > 0 {
			_, evs := s.Feed(buf[:n])
			emit(evs)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading stdin: %w", err)
		}
	}
	_, evs := s.Close()
	emit(evs)
	return nil
}

// describeEvent is the one-line human form of a scanner event.
func describeEvent(ev callback.Event) string {
	switch ev.Type {
	case callback.TypeCallback:
		s := fmt.Sprintf("callback port %d on %s", ev.Port, ev.Host)
		if ev.URL != "" {
			s += ", open " + ev.URL
		}
		return s
	case callback.TypeDevice:
		return fmt.Sprintf("device code %s at %s", ev.Code, ev.URL)
	default:
		return string(ev.Type) + " " + ev.URL
	}
}
