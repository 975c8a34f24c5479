package tunnel

import (
	"reflect"
	"testing"
)

func TestParseProxyJump(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []jumpHop
		bad  bool
	}{
		{in: "bastion", want: []jumpHop{{Host: "bastion"}}},
		{in: "bob@bastion:2222", want: []jumpHop{{User: "bob", Host: "bastion", Port: 2222}}},
		{in: "a, me@b", want: []jumpHop{{Host: "a"}, {User: "me", Host: "b"}}},
		{in: "ssh://me@h:22", want: []jumpHop{{User: "me", Host: "h", Port: 22}}},
		{in: "[::1]:2200", want: []jumpHop{{Host: "::1", Port: 2200}}},
		{in: "u@[fe80::1]", want: []jumpHop{{User: "u", Host: "fe80::1"}}},
		{in: "a@b@host", want: []jumpHop{{User: "a@b", Host: "host"}}},
		{in: "a,,b", bad: true},
		{in: "host:0", bad: true},
		{in: "host:x", bad: true},
		{in: "me@", bad: true},
	} {
		got, err := parseProxyJump(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: got %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestCheckKnownHostsLine(t *testing.T) {
	const key = "AAAAC3NzaC1lZDI1NTE5AAAAIGvbbQZaBUGbJ5PqxV2VgkOUfaL/eiMWCUWN8O3Yl2oR"
	for _, tc := range []struct {
		line string
		ok   bool
		cert bool
	}{
		{"", true, false},
		{"# comment", true, false},
		{"host ssh-ed25519 " + key, true, false},
		{"host,[h2]:2222,!bad ssh-ed25519 " + key + " comment", true, false},
		{"@cert-authority *.example.com ssh-ed25519 " + key, true, true},
		{"@revoked * ssh-ed25519 " + key, true, false},
		{"host ssh-rsa " + key, false, false},
		{"host ssh-ed25519", false, false},
		{"host", false, false},
		{"@unknown host ssh-ed25519 " + key, false, false},
		{"[host:22 ssh-ed25519 " + key, false, false},
		{"|2|abc|def ssh-ed25519 " + key, false, false},
		{"host,! ssh-ed25519 " + key, false, false},
	} {
		cert, err := checkKnownHostsLine([]byte(tc.line))
		if (err == nil) != tc.ok || cert != tc.cert {
			t.Errorf("%q: cert %v err %v, want ok %v cert %v", tc.line, cert, err, tc.ok, tc.cert)
		}
	}
}
