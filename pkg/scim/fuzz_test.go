package scim

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// The fuzz targets of this package start from the seed corpus in
// testdata/seeds at the root of the repository (see its README.md): every
// filter, PATCH body and resource body that Okta's and Microsoft's
// documents and test suites show. Without -fuzz they run the seeds as
// ordinary tests.
//
//	go test -run '^$' -fuzz '^FuzzPatch$' -fuzztime 60s ./pkg/scim
//	go test -run '^$' -fuzz '^FuzzFilter$' -fuzztime 60s ./pkg/scim
//	go test -run '^$' -fuzz '^FuzzNormalize$' -fuzztime 60s ./pkg/scim

// seedDir is testdata/seeds, relative to this package.
const seedDir = "../../testdata/seeds"

// seedFile is one file of a seed directory.
type seedFile struct {
	name string
	body []byte
}

// seedFiles reads the *.json files of testdata/seeds/<dir>, sorted by name.
// A missing or empty directory fails the test: a rename must not silently
// drop the corpus.
func seedFiles(tb testing.TB, dir string) []seedFile {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join(seedDir, dir, "*.json"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no seed corpus in %s (err %v): the fuzz targets need it", filepath.Join(seedDir, dir), err)
	}
	slices.Sort(names)
	out := make([]seedFile, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, seedFile{name: filepath.Base(n), body: b})
	}
	return out
}

// seedFilters reads testdata/seeds/filters.txt, one filter per line.
func seedFilters(tb testing.TB) []string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(seedDir, "filters.txt"))
	if err != nil {
		tb.Fatalf("the fuzz targets need the seed filters: %v", err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), "\r"); l != "" {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		tb.Fatal("testdata/seeds/filters.txt is empty")
	}
	return out
}

// patchBaseDocs are the documents every seed PATCH body is applied to:
// users and groups of the shapes Okta and Entra keep.
func patchBaseDocs(tb testing.TB) []string {
	tb.Helper()
	want := []string{"user-okta-r20-create.json", "user-okta-enterprise-all-attributes.json", "user-mspm-44-omalley.json",
		"user-entra-q02-string-booleans.json", "group-okta-r20-put.json", "group-entra-q13-members-ref-null.json"}
	docs := []string{okUser, `{"displayName":"G","members":[{"value":"a"},{"value":"b"},{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173"}]}`}
	for _, s := range seedFiles(tb, "resources") {
		if slices.Contains(want, s.name) {
			docs = append(docs, string(s.body))
		}
	}
	if len(docs) != len(want)+2 {
		tb.Fatalf("some of the PATCH base documents %v are missing from testdata/seeds/resources", want)
	}
	return docs
}

// FuzzPatch feeds arbitrary documents and PATCH bodies through Normalize,
// DecodePatch and ApplyPatch: whatever comes in, the answer is a result or
// a *scim.Error with a 4xx status, never a panic; ApplyPatch leaves the
// document it is given unchanged and returns a canonical one (Normalize
// gives it back unchanged) that encodes as JSON.
func FuzzPatch(f *testing.F) {
	seeds := [][2]string{
		{okUser, `{"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{`{"displayName":"G","members":[{"value":"a"}]}`, `{"Operations":[{"op":"remove","path":"members[value eq \"a\"]"},{"op":"add","path":"members","value":[{"value":"b"}]}]}`},
		{`{"userName":"u"}`, `{"Operations":[{"op":"Add","path":"emails[type eq \"work\"].value","value":"w@x"}]}`},
		{`{"userName":"u"}`, `{"Operations":[{"op":"replace","value":{"name.givenName":"G","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value":"m"}}]}`},
		{`{"userName":"u","emails":["x",1,null]}`, `{"Operations":[{"op":"remove","path":"emails[not (type eq \"x\")]"}]}`},
		{`{}`, `{"Operations":[{"op":"remove","path":"members","value":"x"}]}`},
		// Immutable sub-attributes of members (mutability.go).
		{groupWithMembers, `{"Operations":[{"op":"replace","path":"members[value eq \"a\"].value","value":"z"}]}`},
		{groupWithMembers, `{"Operations":[{"op":"add","path":"members","value":[{"value":"a","type":"User"},{"value":"b","$ref":"https://x/Users/b"}]}]}`},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	// Every seed PATCH body against each base document, and every seed
	// resource as the document of Okta's deactivation and group rename.
	for _, doc := range patchBaseDocs(f) {
		for _, p := range seedFiles(f, "patch") {
			f.Add(doc, string(p.body))
		}
	}
	for _, r := range seedFiles(f, "resources") {
		f.Add(string(r.body), `{"Operations":[{"op":"replace","value":{"active":false}}]}`)
		f.Add(string(r.body), `{"Operations":[{"op":"replace","value":{"id":"abf4dd94","displayName":"Test SCIMv2"}}]}`)
	}
	users, groups := UserResourceType(), GroupResourceType()
	f.Fuzz(func(t *testing.T, doc, patch string) {
		var in map[string]any
		if json.Unmarshal([]byte(doc), &in) != nil {
			return
		}
		for _, rt := range []*ResourceType{users, groups} {
			for _, opts := range []Options{{}, {Strict: true}} {
				norm, err := Normalize(rt, in, opts)
				if err != nil {
					checkClientError(t, err)
					continue
				}
				req, err := DecodePatch([]byte(patch), opts)
				if err != nil {
					checkClientError(t, err)
					continue
				}
				req.IsPasswordOnly()
				before := CopyMap(norm)
				out, err := ApplyPatch(rt, norm, req.Operations, opts)
				if !reflect.DeepEqual(norm, before) {
					t.Fatalf("%s: ApplyPatch changed the document it was given:\nbefore %v\nafter  %v", rt.Name, before, norm)
				}
				if err != nil {
					checkClientError(t, err)
					continue
				}
				if re, err := Normalize(rt, out, opts); err != nil || !reflect.DeepEqual(re, out) {
					t.Fatalf("%s strict=%v: the patched document is not canonical (what the store keeps must be): Normalize gives %v, %v\npatched %v", rt.Name, opts.Strict, re, err, out)
				}
				if _, err := json.Marshal(out); err != nil {
					t.Fatalf("%s: the patched document does not encode as JSON: %v", rt.Name, err)
				}
			}
		}
	})
}

func checkClientError(t *testing.T, err error) {
	t.Helper()
	se, ok := AsError(err)
	if !ok || se.Status < 400 || se.Status >= 500 {
		t.Fatalf("error is not a SCIM 4xx: %#v", err)
	}
}

// filterDocs are the documents FuzzFilter matches against: the seed
// resources that normalize, as the server renders them (with id, meta and
// externalId), per resource type.
func filterDocs(tb testing.TB) (users, groups []map[string]any) {
	tb.Helper()
	var first map[string]any
	json.Unmarshal([]byte(okUser), &first)
	users = append(users, first)
	for _, s := range seedFiles(tb, "resources") {
		var in map[string]any
		if json.Unmarshal(s.body, &in) != nil {
			continue
		}
		rt := UserResourceType()
		if strings.HasPrefix(s.name, "group-") {
			rt = GroupResourceType()
		}
		doc, err := Normalize(rt, in, Options{})
		if err != nil {
			continue
		}
		doc["id"] = "id-" + s.name
		doc["meta"] = map[string]any{"resourceType": rt.Name, "created": "2019-09-18T18:15:26.578Z", "lastModified": "2021-09-23T19:35:41.842Z",
			"location": "https://scim.test/scim/v2/" + rt.Endpoint + "/id-" + s.name, "version": `W/"1"`}
		if rt.Name == "Group" {
			groups = append(groups, doc)
		} else {
			users = append(users, doc)
		}
	}
	return users, groups
}

// FuzzFilter checks that any filter either fails to parse with a 4xx
// (invalidFilter, tooMany) or evaluates without panicking, for users and
// for groups; and that whether Match refuses a filter depends on the
// filter alone, never on the document, as the store (which decides before
// it reads a row) must refuse the same filters.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{`userName eq "x"`, `emails[type eq "work" and value co "@"]`, `not (active eq true) or meta.created gt "2020-01-01T00:00:00Z"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr`, `title gt 5`, `userName eq "a\"b" or displayName ew "\u00e9"`,
		`members[value eq "a"] and displayName sw "Test"`, `groups.display co "SCIM"`} {
		f.Add(s)
	}
	for _, s := range seedFilters(f) {
		f.Add(s)
	}
	userDocs, groupDocs := filterDocs(f)
	types := []struct {
		rt   *ResourceType
		docs []map[string]any
	}{{UserResourceType(), userDocs}, {GroupResourceType(), groupDocs}}
	f.Fuzz(func(t *testing.T, raw string) {
		expr, err := ParseFilter(raw)
		if err != nil {
			checkClientError(t, err)
			return
		}
		for _, ty := range types {
			var refused, accepted int
			for _, doc := range ty.docs {
				if _, err := Match(ty.rt, expr, doc); err != nil {
					checkClientError(t, err)
					refused++
				} else {
					accepted++
				}
			}
			if refused > 0 && accepted > 0 {
				t.Fatalf("%s: Match refuses %q for %d documents and accepts it for %d", ty.rt.Name, raw, refused, accepted)
			}
		}
	})
}

// FuzzNormalize feeds arbitrary bytes to the resource decoder: json into a
// map, then Normalize for users and groups, lenient and strict. The answer
// is a *scim.Error with a 4xx status or a document, never a panic; and a
// document is canonical: normalizing it again, directly or after a JSON
// round trip (as the store keeps it), gives it back unchanged.
//
//	go test -run '^$' -fuzz '^FuzzNormalize$' -fuzztime 60s ./pkg/scim
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{okUser, `{}`, `null`, `[]`, `{"userName":1}`, `{"active":"TRUE","emails":"a@b"}`,
		`{"emails":[{"primary":"false","value":"x"},null,{}]}`, `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":""}}}`,
		`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"members":[{"value":"x","$ref":null,"type":"User"}]}`} {
		f.Add([]byte(s))
	}
	for _, s := range seedFiles(f, "resources") {
		f.Add(s.body)
	}
	users, groups := UserResourceType(), GroupResourceType()
	f.Fuzz(func(t *testing.T, body []byte) {
		var in map[string]any
		if json.Unmarshal(body, &in) != nil {
			return
		}
		for _, rt := range []*ResourceType{users, groups} {
			for _, opts := range []Options{{}, {Strict: true}} {
				doc, err := Normalize(rt, in, opts)
				if err != nil {
					checkClientError(t, err)
					continue
				}
				again, err := Normalize(rt, doc, opts)
				if err != nil {
					t.Fatalf("%s strict=%v: the normalized document %v is refused: %v", rt.Name, opts.Strict, doc, err)
				}
				if !reflect.DeepEqual(again, doc) {
					t.Fatalf("%s strict=%v: Normalize is not idempotent:\nonce  %v\ntwice %v", rt.Name, opts.Strict, doc, again)
				}
				b, err := json.Marshal(doc)
				if err != nil {
					t.Fatalf("%s: the normalized document does not encode as JSON: %v", rt.Name, err)
				}
				var stored map[string]any
				if err := json.Unmarshal(b, &stored); err != nil {
					t.Fatal(err)
				}
				if again, err := Normalize(rt, stored, opts); err != nil || !reflect.DeepEqual(again, doc) {
					t.Fatalf("%s strict=%v: after a JSON round trip Normalize gives %v, %v; want %v", rt.Name, opts.Strict, again, err, doc)
				}
			}
		}
	})
}
