package conformance

// ModelCheckName is modelCheckName, for the broken-server table: the name
// of a step's state check, when it can have one.
var ModelCheckName = modelCheckName
