package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchBytes is what each forward benchmark operation carries: 1 GiB, the size the issue's
// RSS bound names.
const benchBytes = 1 << 30

// BenchmarkForward carries 1 GiB each way through a forwarded port to a server on the remote's
// loopback (internal/testprog/bulk in the sshd's namespace), side by side in one run:
//
//   - kfwd: `kfwd forward srv PORT:REMOTEPORT` (x/crypto, AES-128-GCM, which it negotiates);
//   - ssh: `ssh -N -L PORT:127.0.0.1:REMOTEPORT srv`, OpenSSH's default cipher (chacha20-poly1305);
//   - ssh-aesgcm: the same with `-c aes128-gcm@openssh.com`, kfwd's cipher.
//
// It prints MB/s, kfwd's ratio to each ssh (above 1: kfwd is faster) and each client's peak RSS
// (the kernel's maxrss of the process after it exited). No delay relay: on loopback the transfer
// is bound by the CPU (crypto and copies), which is what the client controls.
func BenchmarkForward(b *testing.B) {
	env := Setup(b, SSHDOptions{})
	tools := BuildKfwd(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	remote := startBulk(b, ctx, env, tools)
	cfg := env.SSHConfig(b, "srv", ClientConfig{})

	clients := []struct {
		name string
		cmd  func(local int) *exec.Cmd
	}{
		{"kfwd", func(local int) *exec.Cmd {
			return env.KfwdCommand(ctx, tools, "forward", "-F", cfg, "srv", fmt.Sprintf("%d:%d", local, remote))
		}},
		{"ssh", func(local int) *exec.Cmd {
			return sshForward(ctx, env, tools, cfg, local, remote)
		}},
		{"ssh-aesgcm", func(local int) *exec.Cmd {
			return sshForward(ctx, env, tools, cfg, local, remote, "-c", "aes128-gcm@openssh.com")
		}},
	}
	type result struct{ down, up float64 } // MB/s
	results := map[string]*result{}
	rss := map[string]int64{}
	carried := map[string]int64{}     // bytes through each client, for CPU per GiB
	cpu := map[string]time.Duration{} // user+system time of the client process
	for _, dir := range []string{"download", "upload"} {
		for _, c := range clients {
			b.Run(dir+"/"+c.name, func(b *testing.B) {
				local := FreePort(b)
				cmd := c.cmd(local)
				var stderr syncBuffer
				cmd.Stdout, cmd.Stderr = &stderr, &stderr
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				defer func() {
					cmd.Process.Signal(syscall.SIGTERM)
					cmd.Wait()
					if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
						rss[c.name] = max(rss[c.name], ru.Maxrss)
						cpu[c.name] += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
					}
				}()
				if err := pingBulk(ctx, local); err != nil {
					b.Fatalf("%s: forward not working: %v\n%s", c.name, err, stderr.String())
				}
				b.SetBytes(benchBytes)
				for b.Loop() {
					var err error
					if dir == "download" {
						err = download(local)
					} else {
						err = upload(local)
					}
					if err != nil {
						b.Fatalf("%s %s: %v\n%s", c.name, dir, err, stderr.String())
					}
				}
				carried[c.name] += int64(b.N) * benchBytes
				mbs := float64(benchBytes) * float64(b.N) / b.Elapsed().Seconds() / 1e6
				r := results[c.name]
				if r == nil {
					r = &result{}
					results[c.name] = r
				}
				if dir == "download" {
					r.down = mbs
				} else {
					r.up = mbs
				}
			})
		}
	}
	k := results["kfwd"]
	if k == nil {
		return
	}
	for _, name := range []string{"ssh", "ssh-aesgcm"} {
		if s := results[name]; s != nil && s.down > 0 && s.up > 0 {
			fmt.Printf("%s: 1 GiB forward, kfwd / %s throughput: download %.2f (%.0f vs %.0f MB/s), upload %.2f (%.0f vs %.0f MB/s)\n",
				b.Name(), name, k.down/s.down, k.down, s.down, k.up/s.up, k.up, s.up)
		}
	}
	perGiB := func(name string) float64 {
		return cpu[name].Seconds() / (float64(carried[name]) / (1 << 30))
	}
	fmt.Printf("%s: client CPU per GiB: kfwd %.2f s, ssh %.2f s, ssh-aesgcm %.2f s; peak RSS: kfwd %.1f MB, ssh %.1f MB, ssh-aesgcm %.1f MB\n",
		b.Name(), perGiB("kfwd"), perGiB("ssh"), perGiB("ssh-aesgcm"),
		float64(rss["kfwd"])/1024, float64(rss["ssh"])/1024, float64(rss["ssh-aesgcm"])/1024)
}

func sshForward(ctx context.Context, env *Env, tools *Tools, cfg string, local, remote int, extra ...string) *exec.Cmd {
	args := append([]string{"-F", cfg, "-N", "-o", "ExitOnForwardFailure=yes", "-L", fmt.Sprintf("%d:127.0.0.1:%d", local, remote)}, extra...)
	cmd := exec.CommandContext(ctx, "ssh", append(args, "srv")...)
	cmd.Env = env.KfwdEnv(tools)
	return cmd
}

// startBulk runs bulk on the remote's loopback and returns its port.
func startBulk(b *testing.B, ctx context.Context, env *Env, tools *Tools) int {
	cmd := env.NS.Command(ctx, tools.Bulk, "-listen", "127.0.0.1:0", "-bytes", strconv.Itoa(benchBytes))
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		b.Fatalf("bulk: %v", err)
	}
	_, p, _ := net.SplitHostPort(strings.TrimSpace(line))
	port, err := strconv.Atoi(p)
	if err != nil {
		b.Fatalf("bulk printed %q", line)
	}
	return port
}

// pingBulk waits until the forward on local carries a connection to bulk.
func pingBulk(ctx context.Context, local int) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := func() error {
			c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(local), time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write([]byte{'p'}); err != nil {
				return err
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || line != "ok\n" {
				return fmt.Errorf("ping: %q, %v", line, err)
			}
			return nil
		}()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func download(local int) error {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(local))
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Write([]byte{'d'}); err != nil {
		return err
	}
	n, err := io.CopyBuffer(io.Discard, c, make([]byte, 256<<10))
	if err == nil && n != benchBytes {
		err = fmt.Errorf("downloaded %d bytes, want %d", n, benchBytes)
	}
	return err
}

func upload(local int) error {
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(local))
	if err != nil {
		return err
	}
	defer c.Close()
	block := make([]byte, 256<<10)
	if _, err := c.Write([]byte{'u'}); err != nil {
		return err
	}
	for sent := 0; sent < benchBytes; sent += len(block) {
		if _, err := c.Write(block); err != nil {
			return err
		}
	}
	c.(*net.TCPConn).CloseWrite()
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return fmt.Errorf("upload: no count from bulk: %v", err)
	}
	if strings.TrimSpace(line) != strconv.Itoa(benchBytes) {
		return fmt.Errorf("uploaded %s bytes, want %d", strings.TrimSpace(line), benchBytes)
	}
	return nil
}
