package directory_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

func customFields(names ...string) []*directory.CustomField {
	out := make([]*directory.CustomField, len(names))
	for i, n := range names {
		out[i] = &directory.CustomField{Name: n}
	}
	return out
}

func mappings(pairs ...string) []*directory.Mapping {
	var out []*directory.Mapping
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, &directory.Mapping{SCIMPath: pairs[i], Field: pairs[i+1]})
	}
	return out
}

// user builds a User the way the server does: a normalized resource with
// the indexed fields taken out of it.
func user(t *testing.T, m *directory.Mapper, body string) *directory.User {
	t.Helper()
	var in map[string]any
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		t.Fatal(err)
	}
	doc, err := scim.Normalize(m.ResourceType(), in, scim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	u := &directory.User{ID: "scim-id-1", Resource: doc}
	u.UserName, _ = doc["userName"].(string)
	u.DisplayName, _ = doc["displayName"].(string)
	u.ExternalID, _ = doc["externalId"].(string)
	delete(doc, "externalId")
	return u
}

func TestDeriveBriefMappings(t *testing.T) {
	var suggested []*directory.Mapping
	for _, s := range directory.SuggestedMappings() {
		s := s
		suggested = append(suggested, &s)
	}
	// KACE Cloud's documentation writes the quotes escaped
	// (phoneNumbers[type eq \"mobile\"].value); both spellings are accepted.
	suggested = append(suggested, mappings(
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber`, "EmployeeNumber",
		`name.givenName`, "First Name",
		`phoneNumbers[type eq \"work\"].value`, "Work Phone",
		`urn:example:params:scim:schemas:extension:kace:2.0:User:costCenter`, "CostCenter",
		`externalId`, "Okta ID",
		`emails[primary eq true].value`, "Primary Email",
	)...)
	m, err := directory.NewMapper(suggested, customFields("Manager", "Department", "Organization", "Mobile", "Groups",
		"EmployeeNumber", "First Name", "Work Phone", "CostCenter", "Okta ID", "Primary Email"))
	if err != nil {
		t.Fatal(err)
	}
	u := user(t, m, `{"userName":"jane@example.com","displayName":"Jane Doe","active":true,"externalId":"00u1",
		"name":{"givenName":"Jane"},
		"emails":[{"value":"other@example.com","type":"home"},{"value":"jane@example.com","type":"work","primary":true}],
		"phoneNumbers":[{"value":"555-0100","type":"work"},{"value":"555-0199","type":"mobile"},{"value":"555-0111","type":"mobile"}],
		"addresses":[{"type":"home","locality":"Nowhere"},{"type":"work","streetAddress":"1 Main St","locality":"Austin","region":"TX","postalCode":"78701","country":"US"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"mgr-id"},"department":"R&D","organization":"Quest","employeeNumber":"701984"},
		"urn:example:params:scim:schemas:extension:kace:2.0:User":{"costCenter":"CC-9"}}`)
	got := m.Derive(u)
	want := map[string]any{
		"Email": "jane@example.com", "Name": "Jane Doe", "Disabled": false, "HeliumKeycloakObjectGuid": "scim-id-1",
		"Manager": "mgr-id", "Department": "R&D", "Organization": "Quest",
		"Mobile":  "555-0199", // two mobiles, neither primary: the first in order
		"Address": "1 Main St", "City": "Austin", "State": "TX", "Zip": "78701", "Country": "US",
		"EmployeeNumber": "701984", "First Name": "Jane", "Work Phone": "555-0100", "CostCenter": "CC-9",
		"Okta ID": "00u1", "Primary Email": "jane@example.com",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Derive:\n got %v\nwant %v", got, want)
	}
	// The declared extension is part of the provider's resource type.
	if m.ResourceType().Extension("urn:example:params:scim:schemas:extension:kace:2.0:User") == nil {
		t.Errorf("the custom extension was not declared")
	}
	if m.GroupsField() != "Groups" {
		t.Errorf("GroupsField = %q", m.GroupsField())
	}
}

func TestDeriveRules(t *testing.T) {
	m, err := directory.NewMapper(mappings(
		`phoneNumbers[type eq "mobile"].value`, "Mobile",
		`title`, "Title",
		`urn:example:kace:2.0:User:score`, "Score",
	), customFields("Mobile", "Title", "Score"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("primary wins over order", func(t *testing.T) {
		u := user(t, m, `{"userName":"u","phoneNumbers":[{"value":"1","type":"mobile"},{"value":"2","type":"mobile","primary":true}]}`)
		if got := m.Derive(u)["Mobile"]; got != "2" {
			t.Errorf("Mobile = %v, want the primary one", got)
		}
	})
	t.Run("missing values clear the field", func(t *testing.T) {
		u := user(t, m, `{"userName":"u","active":false,"title":"","phoneNumbers":[{"value":"1","type":"work"}]}`)
		got := m.Derive(u)
		for _, f := range []string{"Mobile", "Title", "Name", "Score"} {
			if v, ok := got[f]; ok {
				t.Errorf("%s = %v, want it absent", f, v)
			}
		}
		if got["Disabled"] != true {
			t.Errorf("active false must give Disabled true, got %v", got["Disabled"])
		}
	})
	t.Run("inversion", func(t *testing.T) {
		if got := m.Derive(user(t, m, `{"userName":"u","active":true}`))["Disabled"]; got != false {
			t.Errorf("Disabled = %v", got)
		}
	})
	t.Run("numbers and booleans become text", func(t *testing.T) {
		bm, err := directory.NewMapper(mappings(`emails[type eq "work"].primary`, "WorkPrimary"), customFields("WorkPrimary"))
		if err != nil {
			t.Fatal(err)
		}
		u := user(t, bm, `{"userName":"u","emails":[{"value":"a","type":"work","primary":true}]}`)
		if got := bm.Derive(u)["WorkPrimary"]; got != "true" {
			t.Errorf("WorkPrimary = %#v, want \"true\"", got)
		}
		u = user(t, m, `{"userName":"u","urn:example:kace:2.0:User":{"score":"12"}}`)
		if got := m.Derive(u)["Score"]; got != "12" {
			t.Errorf("Score = %#v", got)
		}
	})
}

func TestNewMapperRefusals(t *testing.T) {
	fields := customFields("Manager", "Mobile")
	tests := []struct {
		name string
		m    []*directory.Mapping
		want string
	}{
		{"missing custom field", mappings("title", "Job Title"), "kacescim fields add \"Job Title\""},
		{"same field twice", mappings("title", "Manager", "nickName", "Manager"), "already filled by the mapping title → Manager"},
		{"required field", mappings("nickName", "Email"), "required mapping userName → Email"},
		{"unparsable path", mappings("emails[type eq", "Mobile"), "cannot parse"},
		{"unknown core attribute", mappings("favouriteColour", "Mobile"), "names no attribute"},
		{"unknown enterprise attribute", mappings("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize", "Mobile"), "names no attribute"},
		{"complex attribute", mappings("name", "Mobile"), "complex"},
		{"multi-valued without sub-attribute", mappings(`phoneNumbers[type eq "mobile"]`, "Mobile"), "complex"},
		{"groups attribute", mappings("groups.display", "Mobile"), directory.GroupsPath},
		{"password", mappings("password", "Mobile"), "never kept"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := directory.NewMapper(tc.m, fields)
			if directory.ErrorCode(err) != directory.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want EINVALID containing %q", err, tc.want)
			}
		})
	}
}

func TestGroupsField(t *testing.T) {
	m, err := directory.NewMapper(mappings(directory.GroupsPath, "Groups"), customFields("Groups"))
	if err != nil {
		t.Fatal(err)
	}
	u := &directory.User{ID: "x", UserName: "u", Fields: map[string]any{"Email": "u"},
		Groups: []directory.GroupRef{{ID: "2", DisplayName: "sales"}, {ID: "1", DisplayName: "Engineering"}, {ID: "3", DisplayName: "Admins"}}}
	if got := m.Fields(u)["Groups"]; got != "Admins,Engineering,sales" {
		t.Errorf("Groups = %q", got)
	}
	u.Groups = nil
	if _, ok := m.Fields(u)["Groups"]; ok {
		t.Errorf("a user in no group has a Groups value")
	}
	// Derive never stores Groups.
	if _, ok := m.Derive(u)["Groups"]; ok {
		t.Errorf("Derive stored Groups")
	}
}

func TestValidateFieldName(t *testing.T) {
	for _, ok := range []string{"Manager", "Cost Center", "x-1_2.3"} {
		if err := directory.ValidateFieldName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1abc", "email", "a/b", strings.Repeat("x", 65), "trailing "} {
		if err := directory.ValidateFieldName(bad); directory.ErrorCode(err) != directory.EINVALID {
			t.Errorf("%q accepted", bad)
		}
	}
}
