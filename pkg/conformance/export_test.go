package conformance

// ModelCheckNames is modelCheckNames, for the broken-server table: the
// names of a step's state and metadata checks, when it can have them.
var ModelCheckNames = modelCheckNames
