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
// Four built-in suites are written in Go, for what a scenario's steps,
// sent one after another with one key, cannot show. Run runs them after
// the scenarios when Options.Suites names them, or when it is empty and
// the scenarios include built-in ones; Suites lists them. "concurrency"
// sends 8 requests at once through the runner's client (its Redactor and
// Verbose apply): 16 concurrent PATCH adds of different members to one
// group and concurrent removes of half of them, each read back (every
// acknowledged change kept, lost members named); 8 concurrent PATCHes of
// different attributes of one user; 8 concurrent PATCH adds of different
// values to one user's roles (every acknowledged value kept); 8
// concurrent POSTs of one userName
// (exactly one 201, the others 409, and one user found by filter).
// "isolation" checks, with a second provider's key
// (Options.IsolationToken), that the first one's user and group cannot be
// read, found, listed, changed, deleted or used as a member; without the
// key its checks are skipped. "lists" pages through /Users and /Groups 2
// at a time over resources of its own, one of each deleted first: the
// same totalResults on every page, and the number of resources the pages
// hold; each on one page, none on two; itemsPerPage and startIndex right;
// the deleted ones on no page of the plain list; and a GET of a listed
// resource's meta.location answers the same id. "auth" checks the
// credentials of 2026 identity providers: with an OAuth client
// (Options.OAuth, or one Options.Credentials makes) the token endpoint's
// answers (RFC 6749 §4.4, §5.2: a Bearer token that works, invalid_client
// alike for a wrong secret and an unknown client, unsupported_grant_type,
// invalid_request, no-store); with Options.Credentials (kacescim's admin
// API, AdminCredentials), on a throw-away provider of its own, a rotated
// key's grace period and its end, a key's expiry (invalid_token) and a
// revoked secret's tokens. Their checks are MUST unless they say SHOULD; a
// capability the server lacks, or a setup request that fails, skips the
// checks that need it, saying why; what they create is deleted unless
// Options.Keep.
//
// A third tool, the recorder, is in package
// github.com/kacescim/kacescim/pkg/conformance/record: a reverse proxy
// that keeps the exchanges between an identity provider and a SCIM server
// and turns them into a scenario that Run replays without their secrets.
// MarshalScenario writes such a scenario as a person would, and
// Scenario.Validate checks one made in code.
//
// Unless Options.NoState turns it off, the scenario runner also
// checks what the server's state must be, not only what it answers. It
// keeps a model of every user and group a scenario creates (POST /Users or
// /Groups answered 2xx with an id): the representation the requests it sent
// must have produced, by RFC 7644's rules as pkg/scim applies them in the
// lenient dialect — the POST's body, replaced by a PUT, changed by
// scim.ApplyPatch for a PATCH, forgotten after a DELETE; id, meta, groups
// and password are the server's and not modelled. After every write a step
// expects to succeed and that does, a "<step>: state" check (MUST, RFC
// 7644 §3.3, §3.5.1 or §3.5.2) compares the write's answer, when it holds
// the resource, and a read-back GET with the model, for every attribute the
// run wrote: sub-attributes and extension attributes one by one,
// multi-valued attributes as sets of elements on the sub-attributes
// written (group members on their value), strings case-insensitively
// unless caseExact. A failure names the attribute, the value expected, the
// value found and the request that set it; the model then takes the
// server's value, so that one fault fails once. What the server holds and
// the run never wrote is not judged, nor are refused writes, lists and
// searches (but for the filters below) and Bulk, and a resource whose
// PATCH the model cannot apply is dropped from the model, saying so in a
// note.
//
// The same checks hold every answer and read-back of a modelled resource
// to the metadata and lifecycle rules, each failure naming its rule,
// severity and section: schemas holds the core schema and every
// extension the resource carries, and the id is the one the POST
// returned (RFC 7643 §3); a 201 has a Location header equal to meta.location (RFC 7644
// §3.3); meta.resourceType is the endpoint's, meta.created never changes,
// meta.lastModified equals it until a change and never goes back, and the
// ETag header equals meta.version (RFC 7643 §3.1); after a DELETE, the
// "<step>: state" check reads the resource back and expects 404 (RFC 7644
// §3.6). When the server supports filtering (Capability filter; without
// it a note says so), the state check of a create also filters on the
// resource's unique attribute (userName, a group's displayName) and must
// find it, and for a user only it: totalResults 1 (RFC 7644 §3.4.2); that
// of a DELETE must not find it there any more (RFC 7644 §3.6: the service
// provider MUST NOT consider the deleted resource in subsequent
// operations). A PUT or PATCH that changed the resource also has a
// "<step>: metadata" check (SHOULD): its version changes (RFC 7644 §3.14)
// and its lastModified moves forward, when the last change is over a
// second old (servers may keep whole seconds). A rule about how the
// server writes every answer (Location, resourceType, ETag, a search that
// lags behind the writes: the two filter rules) fails the
// first check that sees it in a run and is only noted on later ones, so
// that one habit of a server is one failure, not one per create.
//
// Options.Explore adds the "explore" suite: a sequence of that many
// operations Okta and Entra ID send, drawn from Options.Seed (the same
// seed, the same sequence, whatever the server answers) and rendered as a
// scenario, so that every write gets the state checks above. When a check
// fails, the sequence is shrunk — halves, then smaller runs of operations,
// then group members, each candidate run against the server — to the
// shortest that fails the same way (a failed check of the same kind of
// operation and the same kind of check), returned in Result.Explore as a
// scenario that Run replays. A check that fails as an earlier one did
// (the same operation and kind, the same failures but for ids and
// numbers) passes with a note naming it: one fault, one failure.
//
// Both runners return a Result of Reports of Checks, written as text, JSON
// or JUnit XML. A Redactor keeps keys and Authorization values out of
// every report, note and scenario file.
package conformance
