package sshconfig

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
)

func TestHosts(t *testing.T) {
	dir := t.TempDir()
	// Relative Include paths of user files are under ~/.ssh, "~" being $HOME
	// as for ssh's glob; Options.Home places the user file itself.
	t.Setenv("HOME", dir)
	writeFile(t, filepath.Join(dir, ".ssh", "config"), `Host web1 "my host" *.internal !bad
  User me
Host=db?  web1
Match host x
  Include conf.d/*.conf
Include ~/extra
`)
	writeFile(t, filepath.Join(dir, ".ssh", "conf.d", "b.conf"), "Host b1 web1\n")
	writeFile(t, filepath.Join(dir, ".ssh", "conf.d", "a.conf"), "Host a1\n")
	writeFile(t, filepath.Join(dir, ".ssh", "conf.d", ".hidden.conf"), "Host hidden\n")
	writeFile(t, filepath.Join(dir, "extra"), "Host extra\n")
	sys := filepath.Join(dir, "etc", "ssh_config")
	writeFile(t, sys, "Host sys1 *\n  Include sys.d/*\n")
	writeFile(t, filepath.Join(dir, "etc", "sys.d", "x"), "Host sys2 a1\n")

	got, err := Hosts(Options{Home: dir, SystemFile: sys})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"web1", "my host", "a1", "b1", "extra", "sys1", "sys2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Hosts = %q, want %q", got, want)
	}
}

func TestHostsConfigFile(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	// -F: no system file, and a relative Include is still under ~/.ssh, not
	// next to the -F file.
	cfg := filepath.Join(dir, "elsewhere", "cfg")
	writeFile(t, cfg, "Host f1\nInclude more.conf\n")
	writeFile(t, filepath.Join(dir, "elsewhere", "more.conf"), "Host wrong\n")
	writeFile(t, filepath.Join(dir, ".ssh", "more.conf"), "Host f2\n")
	sys := filepath.Join(dir, "sys")
	writeFile(t, sys, "Host sys1\n")

	got, err := Hosts(Options{ConfigFile: cfg, Home: dir, SystemFile: sys})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"f1", "f2"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Hosts = %q, want %q", got, want)
	}

	for _, f := range []string{"none", filepath.Join(dir, "absent")} {
		got, err := Hosts(Options{ConfigFile: f, Home: dir, SystemFile: sys})
		if err != nil || got != nil {
			t.Errorf("Hosts with -F %s = %q, %v; want nothing", f, got, err)
		}
	}
}

func TestHostsErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg")
	writeFile(t, cfg, "Host a\nHost \"b\n")
	var le *lineError
	if _, err := Hosts(Options{ConfigFile: cfg}); !errors.As(err, &le) || le.Line != 2 {
		t.Errorf("unterminated quote: err = %v, want a lineError on line 2", err)
	}

	sys := filepath.Join(dir, "sys")
	writeFile(t, sys, "Include ~/x\n")
	if _, err := Hosts(Options{Home: dir, SystemFile: sys}); !errors.As(err, &le) {
		t.Errorf("~ Include in the system file: err = %v, want a lineError", err)
	}

	loop := filepath.Join(dir, "loop")
	writeFile(t, loop, "Include "+loop+"\n")
	if _, err := Hosts(Options{ConfigFile: loop}); err == nil {
		t.Error("recursive Include: no error")
	}
}
