package inet

import "testing"

func TestParseAton(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" when not ok
		ok   bool
	}{
		{"127.0.0.1", "127.0.0.1", true},
		{"127.1", "127.0.0.1", true},
		{"2130706433", "127.0.0.1", true},
		{"0x7f.0.0.1", "127.0.0.1", true},
		{"0X7F.1", "127.0.0.1", true},
		{"0177.0.0.1", "127.0.0.1", true},
		{"10.1.2", "10.1.0.2", true},
		{"4294967295", "255.255.255.255", true},
		{"4294967296", "", false},
		{"256.0.0.1", "", false},
		{"1.2.3.256", "", false},
		{"1.2.65536", "", false},
		{"1..2", "", false},
		{"", "", false},
		{"1.2.3.4.5", "", false},
		{"08", "", false},
		{"localhost", "", false},
	} {
		got, ok := ParseAton(tc.in)
		s := ""
		if got.IsValid() {
			s = got.String()
		}
		if s != tc.want || ok != tc.ok {
			t.Errorf("ParseAton(%q) = %q, %v; want %q, %v", tc.in, s, ok, tc.want, tc.ok)
		}
	}
}
