package ui

import "testing"

func TestSafe(t *testing.T) {
	for in, want := range map[string]string{
		"codex-cli 0.42.0":                           "codex-cli 0.42.0",
		"a\x1b]52;c;cHduZWQ=\x07b":                   "ab",
		"a\x1b]0;title\x1b\\b":                       "ab",
		"a\x1b[2J\x1b[31mred\x1b[0m":                 "ared",
		"over\rwrite":                                "overwrite",
		"c1 \u009b2J csi \u009d0;t\u009c osc":        "c1  csi  osc",
		"bad \xff utf8":                              "bad \ufffd utf8",
		"two\nlines\tand tab\x00\x7f":                "two\nlines\tand tab",
		"✓ unicode stays: ü, 日本":                     "✓ unicode stays: ü, 日本",
		"unterminated \x1b]52;c;cHduZWQ= to the end": "unterminated ",
	} {
		if got := Safe(in); got != want {
			t.Errorf("Safe(%q) = %q, want %q", in, got, want)
		}
	}
}
