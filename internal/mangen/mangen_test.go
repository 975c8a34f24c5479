package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func paths(t *testing.T) (src, out string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := moduleRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, source), filepath.Join(root, output)
}

// TestManPageUpToDate fails when docs/kfwd.1 is not what docs/kfwd.1.md renders to.
func TestManPageUpToDate(t *testing.T) {
	srcPath, outPath := paths(t)
	src, err := os.ReadFile(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile(outPath)
	if err != nil {
		t.Fatalf("%v (run: go run ./internal/mangen)", err)
	}
	if want := render(src); !bytes.Equal(committed, want) {
		t.Fatalf("%s is stale: run go run ./internal/mangen and commit the result", output)
	}
}

// TestManPageSections checks the rendered page has the sections a man page reader expects.
func TestManPageSections(t *testing.T) {
	srcPath, _ := paths(t)
	src, err := os.ReadFile(srcPath)
	if err != nil {
		t.Fatal(err)
	}
	roff := string(render(src))
	if !strings.HasPrefix(roff, ".nh\n.TH KFWD 1 ") {
		t.Errorf("rendered page does not start with a KFWD(1) title line:\n%.200s", roff)
	}
	for _, sec := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS",
		"ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"} {
		if !strings.Contains(roff, "\n.SH "+sec+"\n") {
			t.Errorf("rendered page lacks section %q", sec)
		}
	}
}

// TestManRenders formats the page with man(1) when it is installed; the
// result must be non-empty and warning-free.
func TestManRenders(t *testing.T) {
	man, err := exec.LookPath("man")
	if err != nil {
		t.Skip("man not installed")
	}
	_, outPath := paths(t)
	cmd := exec.Command(man, "-l", outPath)
	cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80", "MAN_KEEP_FORMATTING=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("man -l %s: %v\n%s", outPath, err, stderr.String())
	}
	if !bytes.Contains(got, []byte("kfwd login")) {
		t.Errorf("man output lacks \"kfwd login\":\n%.500s", got)
	}
	if stderr.Len() > 0 {
		t.Errorf("man -l printed warnings:\n%s", stderr.String())
	}
}
