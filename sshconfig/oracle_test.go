package sshconfig

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	kb "github.com/kevinburke/ssh_config"
)

// TestAgreesWithKevinburke cross-checks the simple subset (Host blocks with
// "*" and "!" patterns, first value wins) against
// github.com/kevinburke/ssh_config, an independent implementation, so this
// package keeps an oracle where no ssh client is installed.
func TestAgreesWithKevinburke(t *testing.T) {
	cfg := `Host web* !web-bastion
  User webuser
  Port 2201
Host db1 db2
  HostName db.internal
  User dba
Host *.example.com
  Port 2222
Host *
  User fallback
  Port 22
`
	dir := t.TempDir()
	file := filepath.Join(dir, "config")
	writeFile(t, file, cfg)
	parsed, err := kb.Decode(strings.NewReader(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, alias := range []string{"web1", "web-bastion", "db1", "db2", "x.example.com", "other"} {
		h, err := Resolve(alias, Options{ConfigFile: file, Home: dir, LocalUser: "me"})
		if err != nil {
			t.Fatal(err)
		}
		for _, kv := range []struct{ key, got string }{
			{"User", h.User}, {"Port", strconv.Itoa(h.Port)}, {"HostName", h.HostName},
		} {
			want, err := parsed.Get(alias, kv.key)
			if err != nil {
				t.Fatal(err)
			}
			if want == "" && kv.key == "HostName" {
				want = alias
			}
			if kv.got != want {
				t.Errorf("%s %s: Resolve %q, kevinburke/ssh_config %q", alias, kv.key, kv.got, want)
			}
		}
	}
}
