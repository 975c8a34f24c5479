package sshconfig

import "testing"

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"web1", "web?", true},
		{"web", "web?", false},
		{"web12", "web?", false},
		{"anything", "*", true},
		{"", "*", true},
		{"a.example.com", "*.example.com", true},
		{"example.com", "*.example.com", false},
		{"abc", "a*c", true},
		{"ac", "a*?c", false},
		{"Foo", "foo", false},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*a*a*a*c", false},
	}
	for _, tt := range tests {
		if got := matchPattern(tt.s, tt.p); got != tt.want {
			t.Errorf("matchPattern(%q, %q) = %v", tt.s, tt.p, got)
		}
	}
}

func TestMatchPatternList(t *testing.T) {
	tests := []struct {
		s, list string
		lower   bool
		want    int
	}{
		{"bob", "alice,bob", false, 1},
		{"bob", "alice,!bob", false, -1},
		{"bob", "*,!bob", false, -1},
		{"carol", "*,!bob", false, 1},
		{"bob", "!alice", false, 0},
		{"bob", "BOB", false, 0},
		{"bob", "BOB", true, 1},
		{"a", "", false, 0},
	}
	for _, tt := range tests {
		if got := matchPatternList(tt.s, tt.list, tt.lower); got != tt.want {
			t.Errorf("matchPatternList(%q, %q, %v) = %d, want %d", tt.s, tt.list, tt.lower, got, tt.want)
		}
	}
	if matchHostname("WEB.Example.com", "web.EXAMPLE.com") != 1 {
		t.Error("match_hostname must be case-insensitive")
	}
}

func TestMatchPatternLiteralStar(t *testing.T) {
	// A "*" in the pattern is always a wildcard, even facing a "*" in s.
	if !matchPattern("**x", "*x") || !matchPattern("a*b", "*") || matchPattern("*a", "*b") {
		t.Error("star handling")
	}
}
