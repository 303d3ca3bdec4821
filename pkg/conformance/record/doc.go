// Package record turns an identity provider's real SCIM traffic into
// scenarios that package conformance replays: it is the recorder behind
// `kacescim record`, beside the runner as net/http/httputil is beside
// net/http.
//
// A Recorder is a reverse proxy (an http.Handler) in front of a SCIM
// server. Point the identity provider at it instead of the server; it
// forwards every request upstream, answers with what the server said, and
// keeps each round trip as an Exchange. Flush, and Close at the end of a
// session, write what was kept as one scenario file in Config.Dir,
// numbering its checks after those of the suite's scenarios already there,
// so that a directory of recordings loads and runs as one suite:
//
//	rec, err := record.New(record.Config{Upstream: "http://127.0.0.1:8080/scim/v2", Dir: "recordings"})
//	...
//	http.ListenAndServe("127.0.0.1:8090", rec) // the identity provider's SCIM base URL
//	...
//	path, err := rec.Close()
//
// BuildScenario is how exchanges become a conformance.Scenario that any
// SCIM server can replay, the recorded one included: no Authorization
// header, key or password is written (the replay authenticates with its
// own key, passwords become PasswordPlaceholder, token-like headers are
// dropped); the userNames, displayNames, externalIds and emails the
// identity provider chose become fresh random values; ids and versions the
// server answered with are captured and reused; each step expects the
// recorded status and a few stable values; what the recording created and
// did not delete is cleaned up. conformance.MarshalScenario writes the
// result as a person would.
//
// The package uses conformance's scenario types and its Redactor, and
// speaks plain HTTP: like conformance, it never imports the server or its
// storage.
package record
