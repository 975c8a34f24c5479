package sshconfig

import (
	"reflect"
	"testing"
)

func TestExpandTokens(t *testing.T) {
	t.Setenv("KFWD_X", "xval")
	tok := tokens{'h': "host", 'p': "22", 'r': "user"}
	tests := []struct {
		in, want string
		env, err bool
	}{
		{"%h:%p", "host:22", false, false},
		{"100%%", "100%", false, false},
		{"%r@%h", "user@host", false, false},
		{"%z", "", false, true},
		{"trailing%", "", false, true},
		{"${KFWD_X}/%h", "xval/host", true, false},
		{"${KFWD_X}/%h", "${KFWD_X}/host", false, false},
		{"${KFWD_UNSET_VAR}", "", true, true},
		{"${KFWD_X", "", true, true},
		{"${}", "", true, true},
		{"$KFWD_X", "$KFWD_X", true, false},
	}
	for _, tt := range tests {
		got, err := expandTokens(tt.in, tok, tt.env)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("expandTokens(%q, env=%v) = %q, %v; want %q, err %v", tt.in, tt.env, got, err, tt.want, tt.err)
		}
	}
	// Environment values are not token-expanded (single pass like ssh).
	t.Setenv("KFWD_PCT", "%h")
	if got, _ := expandTokens("${KFWD_PCT}", tok, true); got != "%h" {
		t.Errorf("env value was re-expanded: %q", got)
	}
}

func TestExpandTilde(t *testing.T) {
	tests := map[string]string{
		"~/x":     "/home/me/x",
		"~":       "/home/me/",
		"/abs/~x": "/abs/~x",
		"rel":     "rel",
		"~root/y": "/root/y",
	}
	for in, want := range tests {
		got, err := expandTilde(in, "/home/me")
		if err != nil || got != want {
			t.Errorf("expandTilde(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := expandTilde("~no_such_user_kfwd/x", "/home/me"); err == nil {
		t.Error("unknown ~user must fail")
	}
}

func TestParseJump(t *testing.T) {
	got, err := ParseJump("a,bob@b:2200,[::1]:22,ssh://c@d:23")
	if err != nil {
		t.Fatal(err)
	}
	want := []Jump{{Host: "a"}, {User: "bob", Host: "b", Port: 2200}, {Host: "::1", Port: 22}, {User: "c", Host: "d", Port: 23}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseJump = %+v, want %+v", got, want)
	}
	if s := want[2].String(); s != "[::1]:22" {
		t.Errorf("Jump.String = %q", s)
	}
	got, err = ParseJump("u@[fe80::1],a@b@host")
	want = []Jump{{User: "u", Host: "fe80::1"}, {User: "a@b", Host: "host"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ParseJump = %+v, %v; want %+v", got, err, want)
	}
	for _, bad := range []string{"", "a,", "a,,b", "@h", "me@", "h:0", "h:x", "[::1", "a b", "a, b"} {
		if _, err := ParseJump(bad); err == nil {
			t.Errorf("ParseJump(%q) accepted", bad)
		}
	}
	if hops, err := ParseJump("none"); err != nil || hops != nil {
		t.Errorf("ParseJump(none) = %v, %v", hops, err)
	}
}

func TestAssembleAlgorithms(t *testing.T) {
	def := []string{"a", "b", "c"}
	all := []string{"a", "b", "c", "d", "e"}
	tests := map[string][]string{
		"":      {"a", "b", "c"},
		"+d":    {"a", "b", "c", "d"},
		"-b":    {"a", "c"},
		"^e,a":  {"e", "a", "b", "c"},
		"d,*":   {"d", "a", "b", "c", "e"},
		"+zz":   {"a", "b", "c"},
		"-[ab]": {"a", "b", "c"},
	}
	for in, want := range tests {
		got, err := assembleAlgorithms(in, def, all)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("assembleAlgorithms(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := assembleAlgorithms("zz", def, all); err == nil {
		t.Error("a list naming no supported algorithm must fail")
	}
}
