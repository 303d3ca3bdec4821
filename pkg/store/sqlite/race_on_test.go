//go:build race

package sqlite

// raceEnabled is true when the tests run under the race detector, which
// makes the store about ten times slower: the longest tests shrink.
const raceEnabled = true
