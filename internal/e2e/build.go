package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Tools are the programs the e2e tests run, built once per test binary.
type Tools struct {
	Dir         string
	Kfwd        string // "" from BuildTools
	TestLogin   string
	TestBrowser string
	Bulk        string // the throughput benchmark's far end (internal/testprog/bulk)
	Stamp       string // the latency benchmark's $BROWSER (internal/testprog/stamp)
}

var (
	buildDirOnce sync.Once
	buildDir     string
	buildDirErr  error

	toolsOnce sync.Once
	tools     Tools
	toolsErr  error

	kfwdOnce sync.Once
	kfwdErr  error
)

func binDir() (string, error) {
	buildDirOnce.Do(func() {
		buildDir, buildDirErr = os.MkdirTemp("", "kfwd-e2e-bin-")
	})
	return buildDir, buildDirErr
}

// BuildTools builds testlogin and testbrowser (once per test binary).
func BuildTools(t testing.TB) *Tools {
	t.Helper()
	Require(t)
	toolsOnce.Do(func() {
		dir, err := binDir()
		if err != nil {
			toolsErr = err
			return
		}
		toolsErr = goBuild(dir, "./internal/testprog/testlogin", "./internal/testprog/testbrowser", "./internal/testprog/bulk", "./internal/testprog/stamp")
		tools = Tools{Dir: dir, TestLogin: filepath.Join(dir, "testlogin"), TestBrowser: filepath.Join(dir, "testbrowser"), Bulk: filepath.Join(dir, "bulk"), Stamp: filepath.Join(dir, "stamp")}
	})
	if toolsErr != nil {
		t.Fatalf("building test programs: %v", toolsErr)
	}
	tt := tools
	return &tt
}

// BuildKfwd builds ./cmd/kfwd as well as the test programs (once per test binary). When
// $KFWD_E2E_BINARY names an executable, that kfwd is tested instead (e.g. a release build).
func BuildKfwd(t testing.TB) *Tools {
	t.Helper()
	tt := BuildTools(t)
	if bin := os.Getenv("KFWD_E2E_BINARY"); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			t.Fatal(err)
		}
		tt.Kfwd = abs
		return tt
	}
	kfwdOnce.Do(func() {
		kfwdErr = goBuild(tt.Dir, "./cmd/kfwd")
	})
	if kfwdErr != nil {
		t.Fatalf("building kfwd: %v", kfwdErr)
	}
	tt.Kfwd = filepath.Join(tt.Dir, "kfwd")
	return tt
}

func goBuild(outDir string, pkgs ...string) error { return goBuildEnv(outDir, nil, pkgs...) }

// goBuildEnv is goBuild with extra environment entries (CGO_ENABLED=0).
func goBuildEnv(outDir string, env []string, pkgs ...string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	args := append([]string{"build", "-o", outDir + string(filepath.Separator)}, pkgs...)
	cmd := exec.Command(goTool, args...)
	cmd.Dir = root
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// moduleRoot finds the directory of kfwd's go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/kfwd/kfwd\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("kfwd's go.mod not found above the working directory")
		}
		dir = parent
	}
}

// Main runs the tests of a package that uses the harness, then removes the built programs and any
// namespace left by a crashed earlier run. Use it from TestMain: os.Exit(e2e.Main(m)).
func Main(m *testing.M) int {
	code := m.Run()
	removeImages()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	if missing() == nil {
		removeStaleNamespaces()
	}
	return code
}
