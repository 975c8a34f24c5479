package sshconfig

import (
	"reflect"
	"testing"
)

func TestArgvSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  bool
	}{
		{`a b`, []string{"a", "b"}, false},
		{`"a b" c`, []string{"a b", "c"}, false},
		{`'a "b"' c`, []string{`a "b"`, "c"}, false},
		{`a\ b`, []string{"a b"}, false},
		{`a\x`, []string{`a\x`}, false},
		{`a # comment`, []string{"a"}, false},
		{`a#b`, []string{"a#b"}, false},
		{`"a #b"`, []string{"a #b"}, false},
		{`x"y z"w`, []string{"xy zw"}, false},
		{`"unterminated`, nil, true},
		{`""`, []string{""}, false},
	}
	for _, tt := range tests {
		got, err := argvSplit(tt.in)
		if (err != nil) != tt.err || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("argvSplit(%q) = %q, %v; want %q, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestSplitKeyword(t *testing.T) {
	tests := []struct{ in, kw, rest string }{
		{"Port 22", "port", "22"},
		{"Port=22", "port", "22"},
		{"  Port = 22  ", "port", "22"},
		{"\tHostName\t=\tx", "hostname", "x"},
		{"Port", "port", ""},
	}
	for _, tt := range tests {
		kw, rest, ok, err := splitKeyword(tt.in)
		if err != nil || !ok || kw != tt.kw || rest != tt.rest {
			t.Errorf("splitKeyword(%q) = %q, %q, %v, %v; want %q, %q", tt.in, kw, rest, ok, err, tt.kw, tt.rest)
		}
	}
	for _, blank := range []string{"", "   ", "# c", "  # c"} {
		if _, _, ok, _ := splitKeyword(blank); ok {
			t.Errorf("splitKeyword(%q) reported a keyword", blank)
		}
	}
}

func TestConvtime(t *testing.T) {
	tests := map[string]int{"0": 0, "90": 90, "1m30s": 90, "1h": 3600, "2W": 1209600, "1d1s": 86401}
	for in, want := range tests {
		if got, ok := convtime(in); !ok || got != want {
			t.Errorf("convtime(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "m", "1x", "-1", "99999999999"} {
		if _, ok := convtime(bad); ok {
			t.Errorf("convtime(%q) accepted", bad)
		}
	}
}
