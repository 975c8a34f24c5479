//go:build race

package callback

// raceEnabled: the race detector makes sync.Pool drop items, so regexp
// matchers are allocated afresh and allocation counts mean less.
const raceEnabled = true
