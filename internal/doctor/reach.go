package doctor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/kfwd/kfwd/sshconfig"
)

// reachCheck opens a plain TCP connection to the host, bounded by
// ConnectTimeout (10s when unset), and reads the server's SSH banner.
func reachCheck(ctx context.Context, h *sshconfig.Host) Check {
	addr := net.JoinHostPort(h.HostName, strconv.Itoa(h.Port))
	timeout := h.ConnectTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		hint := "check HostName and Port, and that a firewall or security group lets this machine reach port " + strconv.Itoa(h.Port)
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		return Check{Name: "reach", Detail: fmt.Sprintf("cannot connect to %s: %v", addr, err), Hint: hint}
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(min(timeout, 5*time.Second)))
	banner, ok := readBanner(conn)
	if !ok {
		return Check{Name: "reach", Detail: fmt.Sprintf("%s accepts connections but sent no SSH banner", addr),
			Hint: "is this port an SSH server? check Port in the ssh configuration"}
	}
	return Check{Name: "reach", OK: true, Detail: fmt.Sprintf("%s answers (%s)", addr, banner)}
}

// maxBannerBytes bounds what reachCheck reads from the server before its
// identification line; RFC 4253 §4.2 bounds each line to 255 bytes.
const maxBannerBytes = 8 << 10

// readBanner returns the server's "SSH-..." identification line, skipping the
// lines a server may send before it, without reading a line longer than 255
// bytes or more than maxBannerBytes in all.
func readBanner(r io.Reader) (string, bool) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxBannerBytes), 256)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return "", false
		}
		if l := strings.TrimRight(string(line), "\r\n"); strings.HasPrefix(l, "SSH-") {
			return l, true
		}
		if err != nil {
			return "", false
		}
	}
}
