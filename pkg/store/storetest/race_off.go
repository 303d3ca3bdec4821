//go:build !race

package storetest

// raceEnabled is true when the tests run under the race detector, which
// makes a store about ten times slower: the longest checks shrink.
const raceEnabled = false
