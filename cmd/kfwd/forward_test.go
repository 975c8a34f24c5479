package main

import "testing"

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
