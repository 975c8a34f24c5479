package tunnel

import "testing"

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
