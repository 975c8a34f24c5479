package tunnel

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// PortInUseError says a local loopback port is taken. PID and Process name the
// listener when the OS tells (Linux /proc, best effort); PID is 0 otherwise.
type PortInUseError struct {
	Port    int
	Addr    string // the address that failed, e.g. "127.0.0.1:49153" or "[::1]:49153"
	Family  string // "IPv4" or "IPv6": the loopback family on which the port is taken
	PID     int
	Process string
	Err     error // the listen error
}

func (e *PortInUseError) Error() string {
	msg := fmt.Sprintf("local port %d is in use", e.Port)
	if e.Family != "" {
		host, _, _ := net.SplitHostPort(e.Addr)
		msg += fmt.Sprintf(" on %s loopback %s", e.Family, host)
	}
	switch {
	case e.PID != 0 && e.Process != "":
		msg += fmt.Sprintf(" by pid %d (%s)", e.PID, e.Process)
	case e.PID != 0:
		msg += fmt.Sprintf(" by pid %d", e.PID)
	}
	return msg
}

func (e *PortInUseError) Unwrap() error { return e.Err }

// PortOwner returns the process listening on TCP port on this host, best effort:
// on Linux it finds the LISTEN socket's inode in /proc/net/tcp{,6} and the
// process whose fd links to it. It returns 0, "" when unknown (other systems,
// another user's process without permission, the socket already gone).
func PortOwner(port int) (pid int, process string) {
	return portOwner(port, "")
}

// portOwner is PortOwner for one family ("IPv4", "IPv6", "" for both): when
// ::1 is taken, kfwd's own 127.0.0.1 listener on the port is not the holder.
func portOwner(port int, family string) (int, string) {
	if runtime.GOOS != "linux" {
		return 0, ""
	}
	files := []string{"net/tcp", "net/tcp6"}
	if family == "IPv6" {
		files = files[1:]
	}
	return portOwnerProc("/proc", port, files...)
}

func portOwnerProc(proc string, port int, files ...string) (int, string) {
	if len(files) == 0 {
		files = []string{"net/tcp", "net/tcp6"}
	}
	inodes := map[string]bool{}
	for _, f := range files {
		listenInodes(filepath.Join(proc, f), port, inodes)
	}
	if len(inodes) == 0 {
		return 0, ""
	}
	dirs, err := os.ReadDir(proc)
	if err != nil {
		return 0, ""
	}
	// Prefer our own process: its listener is the likeliest (and tests rely on it).
	self := strconv.Itoa(os.Getpid())
	order := []string{self}
	for _, d := range dirs {
		if d.Name() != self {
			order = append(order, d.Name())
		}
	}
	for _, name := range order {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		fds, err := os.ReadDir(filepath.Join(proc, name, "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(proc, name, "fd", fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			if inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
				comm, _ := os.ReadFile(filepath.Join(proc, name, "comm"))
				return pid, strings.TrimSpace(string(comm))
			}
		}
	}
	return 0, ""
}

// listenInodes adds the inodes of sockets in LISTEN state (0A) on port, from a
// /proc/net/tcp-format file.
func listenInodes(file string, port int, inodes map[string]bool) {
	f, err := os.Open(file)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		i := strings.LastIndexByte(fields[1], ':')
		if i < 0 {
			continue
		}
		p, err := strconv.ParseUint(fields[1][i+1:], 16, 16)
		if err != nil || int(p) != port || fields[9] == "0" {
			continue
		}
		inodes[fields[9]] = true
	}
}
