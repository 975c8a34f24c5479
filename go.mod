module github.com/kfwd/kfwd

go 1.26.8

require (
	github.com/cli/browser v1.3.0
	github.com/cpuguy83/go-md2man/v2 v2.0.7
	github.com/creack/pty v1.1.24
	github.com/kevinburke/ssh_config v1.6.0
	github.com/rogpeppe/go-internal v1.16.0
	github.com/skeema/knownhosts v1.3.3
	github.com/urfave/cli/v3 v3.14.0
	golang.org/x/crypto v0.58.0
	golang.org/x/oauth2 v0.37.0
	golang.org/x/term v0.47.0
)

require (
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/tools v0.26.0 // indirect
)

// A copy of x/crypto v0.58.0 with kfwd's round-trip patches; see
// third_party/golang.org/x/crypto/KFWD-PATCHES.md.
replace golang.org/x/crypto => ./third_party/golang.org/x/crypto
