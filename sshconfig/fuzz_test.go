package sshconfig

import (
	"runtime"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary configuration text to the resolver: it must not
// panic, must not run commands or read files (exec and Include are off) and
// must finish quickly.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"Host *\n  User x\n",
		"Host a !b c?\nPort=22\nMatch host x,!y user z exec \"true\"\n",
		"Match final\n  HostName %h.x\nMatch canonical all\n",
		"ProxyJump a,b@c:22\nProxyCommand nc %h %p\n",
		"IdentityFile \"~/a b\" # c\nUserKnownHostsFile ${HOME}/x %d/y\n",
		"HostKeyAlgorithms +ssh-rsa\nConnectTimeout 1m\nIgnoreUnknown x*\nxyz 1\n",
	} {
		f.Add([]byte(s), "host")
	}
	f.Fuzz(func(t *testing.T, data []byte, alias string) {
		if len(data) > 1<<16 || len(alias) > 256 {
			return
		}
		r, err := newResolver(alias, Options{ConfigFile: "none", Home: "/home/fuzz", LocalUser: "fuzz", disableExec: true})
		if err != nil {
			t.Fatal(err)
		}
		r.noInclude = true
		r.inline = data
		r.runExec = func(string) (int, error) { t.Fatal("exec ran"); return 0, nil }
		// A hang must crash the worker with every stack, so the fuzzer
		// records the input instead of stalling until -fuzztime.
		watchdog := time.AfterFunc(5*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic("FuzzParse input took over 5s:\n" + string(buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		start := time.Now()
		if h, err := r.resolve(); err == nil {
			_ = h.Format()
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}
