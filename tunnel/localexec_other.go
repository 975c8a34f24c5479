//go:build !unix

package tunnel

import (
	"errors"
	"os"
	"os/exec"
)

var errNoPTY = errors.New("a terminal for a local container needs a Unix system; run kfwd with stdin redirected")

func startPTY(*exec.Cmd, int, int) (*os.File, error) { return nil, errNoPTY }
func resizePTY(*os.File, int, int) error             { return errNoPTY }
func ownProcessGroup(*exec.Cmd)                      {}
func signalStatus(*os.ProcessState) (int, bool)      { return 0, false }
