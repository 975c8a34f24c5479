// Command mangen renders kfwd's man page, docs/kfwd.1, from its markdown source docs/kfwd.1.md.
//
// Run it from anywhere inside the module:
//
//	go run ./internal/mangen
//
// The output is a pure function of the source (no dates or versions are
// inserted), so mangen_test.go can regenerate it in memory and fail when the
// committed docs/kfwd.1 is stale.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cpuguy83/go-md2man/v2/md2man"
)

// source and output are the man page paths relative to the module root.
const (
	source = "docs/kfwd.1.md"
	output = "docs/kfwd.1"
)

// render converts the go-md2man markdown source to roff.
func render(src []byte) []byte {
	return md2man.Render(src)
}

// moduleRoot walks up from dir to the directory holding go.mod.
func moduleRoot(dir string) (string, error) {
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("finding module root: no go.mod in any parent directory")
		}
		dir = parent
	}
}

func run() error {
	in := flag.String("in", "", "markdown source (default: <module root>/"+source+")")
	out := flag.String("out", "", "roff output, - for stdout (default: <module root>/"+output+")")
	flag.Parse()
	if *in == "" || *out == "" {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("getting working directory: %w", err)
		}
		root, err := moduleRoot(wd)
		if err != nil {
			return err
		}
		if *in == "" {
			*in = filepath.Join(root, source)
		}
		if *out == "" {
			*out = filepath.Join(root, output)
		}
	}
	src, err := os.ReadFile(*in)
	if err != nil {
		return fmt.Errorf("reading man page source: %w", err)
	}
	roff := render(src)
	if *out == "-" {
		_, err = os.Stdout.Write(roff)
		return err
	}
	if err := os.WriteFile(*out, roff, 0o644); err != nil {
		return fmt.Errorf("writing man page: %w", err)
	}
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mangen: error:", err)
		os.Exit(1)
	}
}
