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

func TestLoginPorts(t *testing.T) {
	got, err := loginPorts([]string{"8250", "49153:localhost:49153", "3000:127.0.0.1:3000", "4000:[::1]:4000", "8250"})
	if err != nil {
		t.Fatal(err)
	}
	want := []int{8250, 49153, 3000, 4000}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("port %d = %d, want %d", i, got[i], want[i])
		}
	}
	for _, bad := range [][]string{{"0"}, {"65536"}, {"http"}, {"8080:localhost:9090"}, {"8080:example.com:8080"}, {"8080:8080"},
		{"1", "2", "3", "4", "5", "6", "7", "8", "9"}} {
		if _, err := loginPorts(bad); err == nil {
			t.Errorf("loginPorts(%q) accepted", bad)
		}
	}
}
