// Command stamp is the $BROWSER of kfwd's detection-latency benchmark: it appends the time it
// started (Unix nanoseconds), whether the URL's loopback port already accepted a connection
// ("up" or "down"), and the URL, as one line to $KFWD_STAMP_FILE.
package main

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"time"
)

var port = regexp.MustCompile(`(?:localhost|127\.0\.0\.1)(?:%3A|:)([0-9]+)`)

func main() {
	start := time.Now().UnixNano()
	if len(os.Args) < 2 {
		os.Exit(2)
	}
	u := os.Args[1]
	state := "down"
	dec, _ := url.QueryUnescape(u)
	if m := port.FindStringSubmatch(dec); m != nil {
		if c, err := net.DialTimeout("tcp", "127.0.0.1:"+m[1], time.Second); err == nil {
			c.Close()
			state = "up"
		}
	}
	f, err := os.OpenFile(os.Getenv("KFWD_STAMP_FILE"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		fmt.Fprintln(os.Stderr, "stamp:", err)
		os.Exit(1)
	}
	defer f.Close()
	fmt.Fprintf(f, "%d %s %s\n", start, state, u)
}
