package server

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// TestRawUserListAsRendered: a list written from the stored JSON
// (appendRawUser) is byte for byte the list renderUser and writeSCIM
// write from the decoded resource, whatever the resource holds: the
// server's attributes that replace the document's, extensions, groups or
// none, escapes, nesting, numbers; and a document the splicer does not
// take (a key with an escape) goes the long way, with the same bytes.
func TestRawUserListAsRendered(t *testing.T) {
	s := &Server{cfg: Config{PublicURL: "https://kace.example.com"}}
	at := time.Date(2026, 12, 3, 10, 0, 0, 123e6, time.UTC)
	groups := []directory.GroupRef{{ID: "g-1", DisplayName: "R&D <all>"}, {ID: "g-2", DisplayName: "Zoë"}}
	cases := []struct {
		name     string
		resource map[string]any
		ext      string
		groups   []directory.GroupRef
	}{
		{"okta create", map[string]any{"userName": "jane@example.com", "active": true, "displayName": "Jane Doe", "locale": "en-US",
			"name":   map[string]any{"givenName": "Jane", "familyName": "Doe"},
			"emails": []any{map[string]any{"primary": true, "value": "jane@example.com", "type": "work"}},
			"groups": []any{}, "externalId": "00u1"}, "00u1", nil},
		{"groups from memberships replace the document's", map[string]any{"userName": "a", "groups": []any{}}, "", groups},
		{"no externalId column keeps the document's", map[string]any{"userName": "b", "externalId": "doc-ext"}, "", nil},
		{"the column replaces a different one", map[string]any{"userName": "c", "externalId": "old"}, "new", groups[:1]},
		{"server attributes in the document", map[string]any{"userName": "d", "id": "forged", "schemas": []any{"x"},
			"meta": map[string]any{"resourceType": "Group"}}, "", nil},
		{"extensions", map[string]any{"userName": "e",
			scim.EnterpriseUserURN:                                 map[string]any{"department": "R&D", "manager": map[string]any{"value": "m"}},
			"urn:ietf:params:scim:schemas:extension:acme:2.0:User": map[string]any{"badge": "7"}}, "x", nil},
		{"escapes and awkward strings", map[string]any{"userName": "a<b>&c\"q\\@example.com", "displayName": "Zoë \u2028 \u2029 \x7f \t",
			"title": `}],{"[`, "nickName": nil, "n": 12.5, "big": 1e21, "small": 1e-7, "z": []any{}, "a": map[string]any{},
			"nested": []any{[]any{map[string]any{"k": []any{"]", "}", 1.0, true, false, nil}}}}}, "ext<1>", groups},
		{"a key with an escape", map[string]any{"userName": "f", "we<ird": "x", "quo\"te": 1.0}, "", nil},
		{"empty", map[string]any{}, "", nil},
	}
	var decoded, raw []*directory.User
	for i, c := range cases {
		stored, err := json.Marshal(c.resource) // as record.MarshalResource stores it
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(stored, &back); err != nil {
			t.Fatal(err)
		}
		u := directory.User{ID: "u-" + string(rune('a'+i)), ExternalID: c.ext, Groups: c.groups, Created: at, LastModified: at.Add(time.Hour), Version: int64(i + 1)}
		d, r := u, u
		d.Resource = back
		r.RawResource = string(stored)
		decoded, raw = append(decoded, &d), append(raw, &r)

		if _, _, spliced := appendRawUser(nil, "", &r, nil); spliced != (c.name != "a key with an escape") {
			t.Errorf("%s: spliced %v", c.name, spliced)
		}
		want, got := s.list(t, []*directory.User{&d}), s.list(t, []*directory.User{&r})
		if got != want {
			t.Errorf("%s: from the stored JSON\n%s\nrendered\n%s", c.name, got, want)
		}
	}
	if got, want := s.list(t, raw), s.list(t, decoded); got != want {
		t.Errorf("the whole page: from the stored JSON\n%s\nrendered\n%s", got, want)
	}
}

func (s *Server) list(t *testing.T, users []*directory.User) string {
	t.Helper()
	w := httptest.NewRecorder()
	s.writeUserList(w, httptest.NewRequest("GET", "/scim/v2/Users", nil), 42, 1, users, nil)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	return w.Body.String()
}

// FuzzObjectMembers: the splitter never panics, and the members it
// returns are the object it was given.
func FuzzObjectMembers(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"a":{"b":[1,"]",{}]},"c":"x\"y"}`, `{"a":}`, `{"a":1,}`, `{"a"`, `{`, `[]`, `{"a":[}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		members, ok := objectMembers(s, nil)
		if !ok {
			return
		}
		var b strings.Builder
		b.WriteByte('{')
		for i, m := range members {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + m.key + `":` + m.value)
		}
		b.WriteByte('}')
		if b.String() != s {
			t.Fatalf("members of %q rejoin as %q", s, b.String())
		}
	})
}
