package inet

import "testing"

func TestParseAton(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint32
		ok   bool
	}{
		{"127.0.0.1", 0x7f000001, true},
		{"127.1", 0x7f000001, true},
		{"2130706433", 0x7f000001, true},
		{"0x7f.0.0.1", 0x7f000001, true},
		{"0X7F.1", 0x7f000001, true},
		{"0177.0.0.1", 0x7f000001, true},
		{"10.1.2", 0x0a010002, true},
		{"4294967295", 0xffffffff, true},
		{"4294967296", 0, false},
		{"256.0.0.1", 0, false},
		{"1.2.3.256", 0, false},
		{"1.2.65536", 0, false},
		{"1..2", 0, false},
		{"", 0, false},
		{"1.2.3.4.5", 0, false},
		{"08", 0, false},
		{"localhost", 0, false},
	} {
		got, ok := ParseAton(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ParseAton(%q) = %#x, %v; want %#x, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
