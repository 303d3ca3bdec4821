// Package conformance checks a SCIM 2.0 service provider from the outside,
// the way an identity provider would. Like testing/fstest.TestFS it needs
// no *testing.T: a run sends its requests, collects every failure instead
// of stopping at the first, and returns a Report for the caller to judge,
// print or serialise.
//
// It speaks HTTP through pkg/client only and never imports the server or
// its storage, so it can test any SCIM server, kacescim or not.
//
// The package holds two tools that share one report:
//
//   - The scenario runner. A Scenario is data: a JSON file of SCIM
//     requests and what a conforming server answers. BuiltinScenarios are
//     the suites of Okta, Microsoft Entra ID and RFC 7644, and
//     LoadScenarios reads more from a directory. Run finds out what the
//     server supports, runs each scenario's steps and judges the answers;
//     with a Fixture, a throw-away provider on a kacescim server, it also
//     checks the directory user each step produced.
//   - Runscope replay. RunRunscope replays a BlazeMeter (formerly
//     Runscope) export such as OktaSPECTest, Okta's own SPEC test, with
//     that format's assertions; SeedUser makes the one user it needs.
//
// A third, the recorder, is in package
// github.com/kacescim/kacescim/pkg/conformance/record: a reverse proxy
// that keeps the exchanges between an identity provider and a SCIM server
// and turns them into a scenario that Run replays without their secrets.
// MarshalScenario writes such a scenario as a person would, and
// Scenario.Validate checks one made in code.
//
// Both runners return a Result of Reports of Checks, written as text, JSON
// or JUnit XML. A Redactor keeps keys and Authorization values out of
// every report, note and scenario file.
package conformance
