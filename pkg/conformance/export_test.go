package conformance

// ModelCheckNames is modelCheckNames, for the broken-server table: the
// names of a step's state and metadata checks, when it can have them.
var ModelCheckNames = modelCheckNames

// GoSuiteChecks are the names of the checks of the built-in suite written
// in Go named suite, nil for another suite.
func GoSuiteChecks(suite string) []string {
	s := goSuiteNamed(suite)
	if s == nil {
		return nil
	}
	names := make([]string, len(s.checks))
	for i, c := range s.checks {
		names[i] = c.name
	}
	return names
}
