package main

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	b := defaultBackoff
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second}
	for i, w := range want {
		if got := b.delay(i + 1); got != w {
			t.Errorf("delay(%d) = %v, want %v", i+1, got, w)
		}
	}
	if got := b.delay(1000); got != 30*time.Second {
		t.Errorf("delay(1000) = %v, want the 30s cap", got)
	}
}

func TestParsePortSpecs(t *testing.T) {
	got, err := parsePortSpecs([]string{"8080", "9000:80", "65535:1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []portSpec{{8080, 8080}, {9000, 80}, {65535, 1}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("spec %d = %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range [][]string{{"0"}, {"65536"}, {"80:"}, {":80"}, {"http"}, {"1:2:3"}, {"80", "80:81"}} {
		if _, err := parsePortSpecs(bad); err == nil {
			t.Errorf("parsePortSpecs(%q) accepted", bad)
		}
	}
}
