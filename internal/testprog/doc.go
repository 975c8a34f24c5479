// Package testprog holds helper programs for kfwd's end-to-end tests: testlogin (a remote CLI that
// runs a loopback or device OAuth login) and testbrowser (a $BROWSER stub that acts like a
// signed-in browser, built on the browserstub package that cmd/kfwd's script tests also use).
package testprog
