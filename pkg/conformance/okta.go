package conformance

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/kacescim/kacescim/pkg/client"
)

// oktaSPECJSON is Okta's "Okta SCIM 2.0 SPEC Test" export, unmodified
// (okta/okta-developer-docs @468de9c, Apache-2.0; see
// testdata/okta/README.md at the repository root).
//
//go:embed suites/okta-spec.json
var oktaSPECJSON []byte

// OktaSPECTest returns Okta's "Okta SCIM 2.0 SPEC Test", the Runscope suite
// Okta asks SCIM server authors to pass before submitting an integration.
// It needs at least one user on the server, and creates one more. Each
// call returns a fresh copy.
func OktaSPECTest() *RunscopeExport {
	e, err := ParseRunscope(oktaSPECJSON)
	if err != nil {
		panic("conformance: embedded Okta SPEC test: " + err.Error())
	}
	return e
}

// OktaSPECVariables returns the variables the SPEC test's initial script
// sets (Okta's Initial_Script_Spec.txt, as Okta's docs describe it): a
// random user who should not exist yet, its userName in capitals, an
// email and an id that should match nobody. RunRunscope starts every run
// from these.
func OktaSPECVariables(r *rand.Rand) map[string]string {
	given := fmt.Sprintf("Runscope%03d", r.IntN(1000))
	var family strings.Builder
	family.WriteByte(byte('A' + r.IntN(26)))
	for range 8 {
		family.WriteByte(byte('a' + r.IntN(26)))
	}
	fmt.Fprintf(&family, "%03d", r.IntN(1000))
	email := given + family.String() + "@atko.com"
	return map[string]string{
		"randomGivenName":        given,
		"randomFamilyName":       family.String(),
		"randomEmail":            email,
		"randomUsername":         email,
		"randomUsernameCaps":     strings.ToUpper(email),
		"InvalidUserEmail":       "abcdefgh@atko.com",
		"UserIdThatDoesNotExist": "010101001010101011001010101011",
	}
}

// A scriptFunc is the native version of a post-response script; it returns
// one message per failed assertion.
type scriptFunc func(*answer) []string

// knownScripts maps Okta's post-response scripts, with runs of white
// space collapsed, to their native versions.
var knownScripts = map[string]scriptFunc{
	// "Optional Test: Verify Groups endpoint" in the current SPEC test:
	// no groups is fine; otherwise Resources must be an array.
	collapseSpace("var data = JSON.parse(response.body);\nvar max = data.totalResults;\nvar res = data.Resources;\nvar exists = false;\n\nif (max === 0)\n\tassert(\"nogroups\", \"No Groups found in the endpoint\");\nelse if (max >= 1 && Array.isArray(res)) {\n    exists = true;\n    assert.ok(exists, \"Resources is of type Array\");\n\tlog(exists);\n}"): groupsScript(true),
	// The same step in the 2016 and 2017 exports, which needed at least
	// one group.
	collapseSpace("var data = JSON.parse(response.body);\nvar max = data.totalResults;\nvar res = data.Resources;\nvar exists = false;\nif (max >= 1 && Array.isArray(res)) {\n    exists = true;\n}\n    \nassert.ok(exists, \"Resources is of type Array\");\nlog(exists);"): groupsScript(false),
}

func knownScript(src string) scriptFunc { return knownScripts[collapseSpace(src)] }

func collapseSpace(s string) string { return strings.Join(strings.Fields(s), " ") }

// groupsScript checks a GET /Groups answer: totalResults 0 passes when
// emptyOK, and otherwise Resources must be an array.
func groupsScript(emptyOK bool) scriptFunc {
	return func(a *answer) []string {
		if a.jsonErr != nil {
			return []string{fmt.Sprintf("JSON.parse(response.body) failed: HTTP %d answer, body %s", a.status, shortBody(a.body))}
		}
		doc, _ := a.doc.(map[string]any)
		total, hasTotal := doc["totalResults"]
		n, _ := total.(json.Number)
		count, err := n.Float64()
		isNum := err == nil
		if emptyOK && isNum && count == 0 {
			return nil
		}
		if !emptyOK && (!isNum || count < 1) {
			got := "no totalResults"
			if hasTotal {
				got = "totalResults " + show(total)
			}
			return []string{"expected at least one group (totalResults >= 1), got " + got}
		}
		res, hasRes := doc["Resources"]
		if _, isArr := res.([]any); !isArr {
			got := "no Resources"
			if hasRes {
				got = "Resources " + show(res)
			}
			if !hasTotal {
				got += " and no totalResults"
			}
			return []string{"expected totalResults 0 or Resources as an array, got " + got}
		}
		return nil
	}
}

// SeedUserName is the userName SeedUser gives when asked for none.
const SeedUserName = "seed.user@example.com"

// SeedUser creates, through c, one active user whose userName and work
// email are userName (SeedUserName when empty): the precondition of Okta's
// SPEC test, whose first steps read /Users?count=1 and take that user's
// id, userName and name for the steps after.
func SeedUser(ctx context.Context, c *client.SCIM, userName string) error {
	if userName == "" {
		userName = SeedUserName
	}
	resp, err := c.DoJSON(ctx, http.MethodPost, "/Users", map[string]any{
		"schemas":  []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName": userName,
		"name":     map[string]string{"givenName": "Seed", "familyName": "User"},
		"emails":   []map[string]any{{"value": userName, "type": "work", "primary": true}},
		"active":   true,
	})
	if err != nil {
		return fmt.Errorf("create the user the export needs: %w", err)
	}
	if resp.Status != http.StatusCreated {
		return fmt.Errorf("create the user the export needs: HTTP %d", resp.Status)
	}
	return nil
}
