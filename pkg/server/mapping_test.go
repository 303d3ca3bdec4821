package server_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
)

// setupBriefMappings creates the custom fields KACE Cloud's suggested
// mappings need and adds all the suggested mappings to the env's provider.
func setupBriefMappings(t testing.TB, e *scimEnv) {
	t.Helper()
	ctx := context.Background()
	dir := e.srv.Directory()
	for _, f := range []string{"Manager", "Department", "Organization", "Mobile", "Groups"} {
		if _, err := dir.AddCustomField(ctx, f, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := dir.SetMappings(ctx, "okta", directory.SuggestedMappings()); err != nil {
		t.Fatal(err)
	}
}

func (e *scimEnv) fields(key string) map[string]any {
	e.t.Helper()
	du, err := e.srv.Directory().Entry(context.Background(), key)
	if err != nil {
		e.t.Fatalf("DirectoryUser(%s): %v", key, err)
	}
	return du.Fields
}

func TestMappingOutcomes(t *testing.T) {
	e := newSCIMEnv(t)
	setupBriefMappings(t, e)
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	create := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","` + ent + `"],
		"userName":"jane@example.com","displayName":"Jane Doe","active":true,"password":"x",
		"phoneNumbers":[{"value":"555-0199","type":"mobile"}],
		"addresses":[{"type":"work","streetAddress":"1 Main St","locality":"Austin","region":"TX","postalCode":"78701","country":"US"}],
		"` + ent + `":{"manager":{"value":"mgr-1"},"department":"R&D","organization":"Quest"}}`
	r := e.must(e.do("POST", "/Users", create), 201)
	id := r.str("id")
	want := map[string]any{"Email": "jane@example.com", "Name": "Jane Doe", "Disabled": false, "HeliumKeycloakObjectGuid": id,
		"Manager": "mgr-1", "Department": "R&D", "Organization": "Quest", "Mobile": "555-0199",
		"Address": "1 Main St", "City": "Austin", "State": "TX", "Zip": "78701", "Country": "US"}
	check := func(step string) {
		t.Helper()
		if got := e.fields("jane@example.com"); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", step, got, want)
		}
	}
	check("create")

	// PUT without the phone and with a new city: Mobile is cleared.
	e.must(e.do("PUT", "/Users/"+id, `{"userName":"jane@example.com","displayName":"Jane Q. Doe",
		"addresses":[{"type":"work","locality":"Dallas"}],"`+ent+`":{"department":"Sales"}}`), 200)
	want = map[string]any{"Email": "jane@example.com", "Name": "Jane Q. Doe", "Disabled": false, "HeliumKeycloakObjectGuid": id,
		"Department": "Sales", "City": "Dallas"}
	check("PUT")

	e.must(e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","value":{"active":false}}]}`), 200)
	want["Disabled"] = true
	check("deactivate")
	e.must(e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"replace","value":{"active":true}}]}`), 200)
	want["Disabled"] = false
	check("reactivate")

	// Group push fills Groups, sorted by name, and follows every change.
	bob := e.createUser("bob@example.com")
	g1 := e.must(e.do("POST", "/Groups", `{"displayName":"Sales","members":[{"value":"`+id+`"}]}`), 201).str("id")
	g2 := e.must(e.do("POST", "/Groups", `{"displayName":"Engineering","members":[{"value":"`+id+`"},{"value":"`+bob+`"}]}`), 201).str("id")
	want["Groups"] = "Engineering,Sales"
	check("two groups")
	e.must(e.do("PATCH", "/Groups/"+g2, `{"Operations":[{"op":"remove","path":"members[value eq \"`+id+`\"]"}]}`), 204)
	want["Groups"] = "Sales"
	check("removed from Engineering")
	if got := e.fields("bob@example.com")["Groups"]; got != "Engineering" {
		t.Errorf("bob's Groups = %v", got)
	}
	e.must(e.do("PATCH", "/Groups/"+g1, `{"Operations":[{"op":"replace","value":{"id":"`+g1+`","displayName":"Field Sales"}}]}`), 204)
	want["Groups"] = "Field Sales"
	check("rename")
	e.must(e.do("DELETE", "/Groups/"+g1, ""), 204)
	delete(want, "Groups")
	check("group deleted")

	// Changing mappings re-derives existing users and says how many changed.
	_, changed, err := e.srv.Directory().RemoveMapping(context.Background(), "okta", "", "City")
	if err != nil || changed != 1 {
		t.Fatalf("RemoveMapping: changed %d, %v", changed, err)
	}
	delete(want, "City")
	check("mapping removed")

	// The custom extension a mapping declares is accepted, kept and listed.
	ctx := context.Background()
	if _, err := e.srv.Directory().AddCustomField(ctx, "CostCenter", ""); err != nil {
		t.Fatal(err)
	}
	const kace = "urn:example:params:scim:schemas:extension:kace:2.0:User"
	if _, _, err := e.srv.Directory().AddMapping(ctx, "okta", kace+":costCenter", "CostCenter"); err != nil {
		t.Fatal(err)
	}
	r = e.must(e.do("PATCH", "/Users/"+id, `{"Operations":[{"op":"add","value":{"`+kace+`":{"costCenter":"CC-9"}}}]}`), 200)
	if m, _ := r.json[kace].(map[string]any); m["costCenter"] != "CC-9" || fmt.Sprint(r.get("schemas")) == "" {
		t.Errorf("custom extension not returned: %s", r.body)
	}
	want["CostCenter"] = "CC-9"
	check("custom extension")
	// ... and can be filtered on.
	if r := e.must(e.do("GET", "/Users?filter="+kace+":costCenter%20eq%20%22cc-9%22", ""), 200); r.get("totalResults") != 1.0 {
		t.Errorf("filter on the declared extension: %s", r.body)
	}
	if r := e.must(e.do("GET", "/Users?filter="+kace+":costCenter%20eq%20%22other%22", ""), 200); r.get("totalResults") != 0.0 {
		t.Errorf("filter on the declared extension matched the wrong value: %s", r.body)
	}
	if r := e.must(e.do("GET", "/Schemas/"+kace, ""), 200); r.str("attributes.0.name") != "costCenter" {
		t.Errorf("/Schemas does not list the declared extension: %s", r.body)
	}

	// Everything holds across a restart.
	e.restart()
	check("restart")
}
