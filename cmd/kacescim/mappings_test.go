package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

// fakeDirectory is an in-memory admin API for fields, mappings and
// directory users, with just enough rules (fields must exist, required
// mappings are read-only) for the commands' paths to be exercised.
type fakeDirectory struct {
	mu       sync.Mutex
	custom   []adminapi.Field
	optional []adminapi.Mapping // okta's; every other provider is unknown
	users    []adminapi.DirectoryUser
	puts     int // SetMappings calls
}

const fakeGUID = "2819c223-7f76-453a-919d-413861904646"

func newFakeDirectory() *fakeDirectory {
	created := now.Add(-3 * time.Hour)
	return &fakeDirectory{
		custom: []adminapi.Field{
			{Name: "Department", Type: "custom", Description: "Department, from the enterprise extension", CreatedAt: &created},
			{Name: "Groups", Type: "custom", CreatedAt: &created},
		},
		optional: []adminapi.Mapping{
			{SCIMPath: directory.SuggestedMappings()[1].SCIMPath, Field: "Department", FieldType: "custom"},
			{SCIMPath: `addresses[type eq "work"].locality`, Field: "City", FieldType: "builtin"},
		},
		users: []adminapi.DirectoryUser{
			{Provider: "Entra ID", ID: "e-1", Updated: now, Fields: map[string]any{
				"Email": "dee@example.com", "Name": "Dee Dee", "Disabled": false, "HeliumKeycloakObjectGuid": "e-1",
				"Country": "US", "Cost Center": "CC-9"}},
			{Provider: "Okta", ID: fakeGUID, Updated: now, Fields: map[string]any{
				"Email": "ada@example.com", "Name": "Ada Lovelace", "Disabled": false, "HeliumKeycloakObjectGuid": fakeGUID,
				"City": "Austin", "Zip": "78701", "Department": "R&D", "Manager": "mgr-1", "Groups": "Engineering,Sales"}},
			{Provider: "Okta", ID: "b-2", Updated: now, Fields: map[string]any{
				"Email": "bob@example.com", "Name": "Bob", "Disabled": true, "HeliumKeycloakObjectGuid": "b-2",
				"Department": "Sales"}},
		},
	}
}

// snapshot returns the number of SetMappings calls and okta's optional
// mappings, read under the lock the handlers hold.
func (d *fakeDirectory) snapshot() (int, []adminapi.Mapping) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.puts, append([]adminapi.Mapping(nil), d.optional...)
}

func (d *fakeDirectory) fieldExists(name string) (string, bool) {
	if b, ok := directory.IsBuiltinField(name); ok {
		return b, true
	}
	for _, f := range d.custom {
		if strings.EqualFold(f.Name, name) {
			return f.Name, true
		}
	}
	return "", false
}

func (d *fakeDirectory) all() []adminapi.Mapping {
	var out []adminapi.Mapping
	for _, r := range directory.RequiredMappings() {
		out = append(out, adminapi.Mapping{SCIMPath: r.SCIMPath, Field: r.Field, FieldType: "builtin", Required: true})
	}
	return append(out, d.optional...)
}

// set checks and stores okta's optional mappings, as the server does.
func (d *fakeDirectory) set(ms []adminapi.Mapping) (*adminapi.MappingsChanged, *adminapi.Error) {
	var optional []adminapi.Mapping
	seen := map[string]bool{"email": true, "name": true, "disabled": true, "heliumkeycloakobjectguid": true}
	for _, m := range ms {
		if required := func() bool {
			for _, r := range directory.RequiredMappings() {
				if r.SCIMPath == m.SCIMPath && r.Field == m.Field {
					return true
				}
			}
			return false
		}(); required {
			continue
		}
		if m.Required {
			return nil, &adminapi.Error{Code: "invalid", Message: "the required mappings cannot be changed"}
		}
		field, ok := d.fieldExists(m.Field)
		if !ok {
			return nil, &adminapi.Error{Code: "invalid", Message: fmt.Sprintf("there is no field named %s: create it first with `kacescim fields add %s`", m.Field, m.Field)}
		}
		if seen[strings.ToLower(field)] {
			return nil, &adminapi.Error{Code: "invalid", Message: field + " is already filled by another mapping"}
		}
		seen[strings.ToLower(field)] = true
		typ := "custom"
		if _, ok := directory.IsBuiltinField(field); ok {
			typ = "builtin"
		}
		optional = append(optional, adminapi.Mapping{SCIMPath: m.SCIMPath, Field: field, FieldType: typ})
	}
	d.optional = optional
	d.puts++
	return &adminapi.MappingsChanged{Mappings: d.all(), ChangedUsers: 2}, nil
}

func (d *fakeDirectory) handler() http.Handler {
	writeJSON := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	fail := func(w http.ResponseWriter, status int, e *adminapi.Error) {
		writeJSON(w, status, adminapi.ErrorBody{Error: *e})
	}
	okta := func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.EqualFold(r.PathValue("name"), "okta") {
			fail(w, 404, &adminapi.Error{Code: "not_found", Message: `no provider named "` + r.PathValue("name") + `"`})
			return false
		}
		return true
	}
	changed := func(w http.ResponseWriter, resp *adminapi.MappingsChanged, e *adminapi.Error) {
		if e != nil {
			fail(w, 400, e)
			return
		}
		writeJSON(w, 200, resp)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/v1/fields", func(w http.ResponseWriter, r *http.Request) {
		var list adminapi.FieldList
		for _, b := range directory.BuiltinFields {
			desc := "Built-in field " + b
			if b == directory.FieldGUID {
				desc = "Internal identifier; not displayed on the user details page"
			}
			list.Fields = append(list.Fields, adminapi.Field{Name: b, Type: "builtin", Description: desc})
		}
		writeJSON(w, 200, adminapi.FieldList{Fields: append(list.Fields, d.custom...)})
	})
	mux.HandleFunc("POST /admin/v1/fields", func(w http.ResponseWriter, r *http.Request) {
		var req adminapi.CreateFieldRequest
		json.NewDecoder(r.Body).Decode(&req)
		if _, ok := d.fieldExists(req.Name); ok {
			fail(w, 409, &adminapi.Error{Code: "conflict", Message: fmt.Sprintf("a custom field named %q already exists", req.Name)})
			return
		}
		f := adminapi.Field{Name: req.Name, Type: "custom", Description: req.Description, CreatedAt: ptr(now)}
		d.custom = append(d.custom, f)
		writeJSON(w, 201, f)
	})
	mux.HandleFunc("DELETE /admin/v1/fields/{name}", func(w http.ResponseWriter, r *http.Request) {
		for _, m := range d.optional {
			if strings.EqualFold(m.Field, r.PathValue("name")) {
				fail(w, 409, &adminapi.Error{Code: "conflict", Message: fmt.Sprintf("custom field %q is used by provider Okta's mapping %s → %s: remove that mapping first", m.Field, m.SCIMPath, m.Field)})
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /admin/v1/providers/{name}/mappings", func(w http.ResponseWriter, r *http.Request) {
		if okta(w, r) {
			writeJSON(w, 200, adminapi.MappingList{Mappings: d.all()})
		}
	})
	mux.HandleFunc("POST /admin/v1/providers/{name}/mappings", func(w http.ResponseWriter, r *http.Request) {
		var m adminapi.Mapping
		json.NewDecoder(r.Body).Decode(&m)
		if okta(w, r) {
			resp, e := d.set(append(d.all(), m))
			changed(w, resp, e)
		}
	})
	mux.HandleFunc("PUT /admin/v1/providers/{name}/mappings", func(w http.ResponseWriter, r *http.Request) {
		var req adminapi.SetMappingsRequest
		json.NewDecoder(r.Body).Decode(&req)
		if okta(w, r) {
			resp, e := d.set(req.Mappings)
			changed(w, resp, e)
		}
	})
	mux.HandleFunc("DELETE /admin/v1/providers/{name}/mappings", func(w http.ResponseWriter, r *http.Request) {
		if !okta(w, r) {
			return
		}
		path, field := r.URL.Query().Get("scimPath"), r.URL.Query().Get("field")
		var kept []adminapi.Mapping
		for _, m := range d.optional {
			if !(path != "" && strings.EqualFold(m.SCIMPath, path) || field != "" && strings.EqualFold(m.Field, field)) {
				kept = append(kept, m)
			}
		}
		if len(kept) == len(d.optional) {
			fail(w, 404, &adminapi.Error{Code: "not_found", Message: "provider okta has no mapping for " + path + field})
			return
		}
		resp, e := d.set(kept)
		changed(w, resp, e)
	})
	mux.HandleFunc("GET /admin/v1/mappings/suggested", func(w http.ResponseWriter, r *http.Request) {
		var list adminapi.MappingList
		for _, m := range directory.SuggestedMappings() {
			typ := "custom"
			if _, ok := directory.IsBuiltinField(m.Field); ok {
				typ = "builtin"
			}
			list.Mappings = append(list.Mappings, adminapi.Mapping{SCIMPath: m.SCIMPath, Field: m.Field, FieldType: typ})
		}
		writeJSON(w, 200, list)
	})
	mux.HandleFunc("POST /admin/v1/providers/{name}/mappings/preview", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		if okta(w, r) {
			writeJSON(w, 200, adminapi.Preview{Fields: map[string]any{
				"Email": body["userName"], "Name": body["displayName"], "Disabled": false, "HeliumKeycloakObjectGuid": "(assigned by the server)",
				"City": "Austin", "Department": "R&D", "Mobile": "555-0199"}})
		}
	})
	mux.HandleFunc("GET /admin/v1/users", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		var match []adminapi.DirectoryUser
		for _, u := range d.users {
			if p := q.Get("provider"); p != "" && !strings.EqualFold(p, u.Provider) {
				continue
			}
			if dis := q.Get("disabled"); dis != "" && dis != fmt.Sprint(u.Fields["Disabled"]) {
				continue
			}
			if f := q.Get("field"); f != "" && !strings.EqualFold(fmt.Sprint(u.Fields[f]), q.Get("value")) {
				continue
			}
			match = append(match, u)
		}
		start, _ := strconv.Atoi(q.Get("startIndex"))
		count, err := strconv.Atoi(q.Get("count"))
		if err != nil {
			count = 100
		}
		start = max(start, 1)
		page := []adminapi.DirectoryUser{}
		for i := start - 1; i < len(match) && len(page) < count; i++ {
			page = append(page, match[i])
		}
		writeJSON(w, 200, adminapi.DirectoryUserList{Users: page, TotalResults: len(match)})
	})
	mux.HandleFunc("GET /admin/v1/users/{key}", func(w http.ResponseWriter, r *http.Request) {
		for _, u := range d.users {
			if u.ID == r.PathValue("key") || strings.EqualFold(fmt.Sprint(u.Fields["Email"]), r.PathValue("key")) {
				writeJSON(w, 200, u)
				return
			}
		}
		fail(w, 404, &adminapi.Error{Code: "not_found", Message: "no directory user with SCIM id or Email " + r.PathValue("key")})
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			fail(w, 401, &adminapi.Error{Code: "unauthorized", Message: "invalid admin token"})
			return
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		mux.ServeHTTP(w, r)
	})
}

// startFakeDirectory serves a fresh fakeDirectory; it returns it and the
// connection flags.
func startFakeDirectory(t *testing.T) (*fakeDirectory, []string) {
	t.Helper()
	d := newFakeDirectory()
	srv := httptest.NewServer(d.handler())
	t.Cleanup(srv.Close)
	return d, []string{"--server", srv.URL, "--token", testToken}
}

func puts(d *fakeDirectory) int { n, _ := d.snapshot(); return n }

func optional(d *fakeDirectory) []adminapi.Mapping { _, ms := d.snapshot(); return ms }

// TestDirectoryOutputGolden renders the fields, mappings and users verbs on
// a terminal, piped and as JSON.
func TestDirectoryOutputGolden(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	userFile := filepath.Join(dir, "user.json")
	os.WriteFile(userFile, []byte(`{"userName":"ada@example.com","displayName":"Ada Lovelace"}`), 0o600)
	for _, tc := range []struct {
		name string
		in   cliInput
		args []string
	}{
		{"fields-list.tty", cliInput{stdoutTTY: true}, []string{"fields", "list"}},
		{"fields-list.piped", cliInput{}, []string{"fields", "list"}},
		{"fields-list.json", cliInput{}, []string{"fields", "list", "-o", "json"}},
		{"fields-add.tty", cliInput{stdoutTTY: true}, []string{"fields", "add", "Cost Center", "--description", "Finance cost center"}},
		{"fields-add.piped", cliInput{}, []string{"fields", "add", "Manager"}},
		{"fields-add.json", cliInput{}, []string{"fields", "add", "Manager", "-o", "json"}},
		{"fields-remove.piped", cliInput{}, []string{"fields", "remove", "Groups"}},
		{"fields-remove.json", cliInput{}, []string{"fields", "remove", "Groups", "-o", "json"}},
		{"mappings-list.tty", cliInput{stdoutTTY: true}, []string{"mappings", "list", "--provider", "Okta"}},
		{"mappings-list.piped", cliInput{}, []string{"mappings", "list", "-p", "okta"}},
		{"mappings-list.json", cliInput{}, []string{"mappings", "list", "-p", "okta", "-o", "json"}},
		{"mappings-add.tty", cliInput{stdoutTTY: true}, []string{"mappings", "add", "-p", "Okta", "--scim", `phoneNumbers[type eq "mobile"].value`, "--field", "zip"}},
		{"mappings-add.piped", cliInput{}, []string{"mappings", "add", "-p", "Okta", "--scim", `addresses[type eq "work"].country`, "--field", "Country"}},
		{"mappings-add.json", cliInput{}, []string{"mappings", "add", "-p", "Okta", "--scim", "title", "--field", "State", "-o", "json"}},
		{"mappings-remove.piped", cliInput{}, []string{"mappings", "remove", "-p", "Okta", "--field", "city"}},
		{"mappings-remove-path.piped", cliInput{}, []string{"mappings", "remove", "-p", "Okta", "--scim", "URN:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}},
		{"mappings-remove.json", cliInput{}, []string{"mappings", "remove", "-p", "Okta", "--field", "City", "-o", "json"}},
		{"mappings-preview.tty", cliInput{stdoutTTY: true}, []string{"mappings", "preview", "-p", "Okta", "--file", userFile}},
		{"mappings-preview.piped", cliInput{stdin: `{"userName":"bob@example.com","displayName":"Bob"}`}, []string{"mappings", "preview", "-p", "Okta", "--file", "-"}},
		{"mappings-preview.json", cliInput{}, []string{"mappings", "preview", "-p", "Okta", "-f", userFile, "-o", "json"}},
		{"users-list.tty", cliInput{stdoutTTY: true}, []string{"users", "list"}},
		{"users-list.piped", cliInput{}, []string{"users", "list"}},
		{"users-list-disabled.piped", cliInput{}, []string{"users", "list", "--provider", "okta", "--disabled"}},
		{"users-list-field.piped", cliInput{}, []string{"users", "list", "--field", "Department=r&d", "--show-internal"}},
		{"users-list.json", cliInput{}, []string{"users", "list", "--enabled", "-o", "json"}},
		{"users-show.tty", cliInput{stdoutTTY: true}, []string{"users", "show", "ada@example.com"}},
		{"users-show.piped", cliInput{}, []string{"users", "show", "ADA@example.com"}},
		{"users-show-internal.piped", cliInput{}, []string{"users", "show", fakeGUID, "--show-internal"}},
		{"users-show.json", cliInput{}, []string{"users", "show", "ada@example.com", "-o", "json"}},
		{"users-show-internal.json", cliInput{}, []string{"users", "show", "ada@example.com", "--show-internal", "-o", "json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, conn := startFakeDirectory(t)
			r := runCLIInput(t, tc.in, append(tc.args, conn...)...)
			if r.code != 0 {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if strings.Contains(r.stdout, "\x1b[") {
				t.Errorf("escape codes without colour:\n%q", r.stdout)
			}
			if strings.HasSuffix(tc.name, ".json") && !json.Valid([]byte(r.stdout)) {
				t.Errorf("not JSON:\n%s", r.stdout)
			}
			golden(t, tc.name+".golden", r.stdout)
			if r.stderr != "" {
				golden(t, tc.name+".stderr.golden", r.stderr)
			}
		})
	}
}

// TestDirectoryErrorsGolden checks stderr and the exit status of the usual
// mistakes with the new verbs.
func TestDirectoryErrorsGolden(t *testing.T) {
	isolateEnv(t)
	for _, tc := range []struct {
		name string
		code int
		in   cliInput
		args []string
	}{
		{"mappings-no-provider", exitUsage, cliInput{}, []string{"mappings", "list"}},
		{"mappings-unknown-provider", exitError, cliInput{}, []string{"mappings", "list", "-p", "nope"}},
		{"mappings-add-missing-field", exitError, cliInput{}, []string{"mappings", "add", "-p", "okta", "--scim", "title", "--field", "Title"}},
		{"mappings-add-no-field", exitUsage, cliInput{}, []string{"mappings", "add", "-p", "okta", "--scim", "title"}},
		{"mappings-remove-both", exitUsage, cliInput{}, []string{"mappings", "remove", "-p", "okta", "--scim", "title", "--field", "City"}},
		{"mappings-remove-neither", exitUsage, cliInput{}, []string{"mappings", "remove", "-p", "okta"}},
		{"mappings-suggest-no-tty", exitUsage, cliInput{}, []string{"mappings", "suggest", "-p", "okta"}},
		{"mappings-preview-no-file", exitUsage, cliInput{}, []string{"mappings", "preview", "-p", "okta"}},
		{"mappings-preview-not-object", exitError, cliInput{stdin: `["x"]`}, []string{"mappings", "preview", "-p", "okta", "--file", "-"}},
		{"mappings-preview-bad-json", exitError, cliInput{stdin: `{"userName":`}, []string{"mappings", "preview", "-p", "okta", "--file", "-"}},
		{"fields-remove-mapped", exitError, cliInput{}, []string{"fields", "remove", "Department"}},
		{"fields-add-exists", exitError, cliInput{}, []string{"fields", "add", "department"}},
		{"users-show-missing", exitError, cliInput{}, []string{"users", "show", "nobody@example.com"}},
		{"users-list-both", exitUsage, cliInput{}, []string{"users", "list", "--enabled", "--disabled"}},
		{"users-list-bad-field", exitUsage, cliInput{}, []string{"users", "list", "--field", "Department"}},
		{"users-list-bad-limit", exitUsage, cliInput{}, []string{"users", "list", "--limit", "0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, conn := startFakeDirectory(t)
			r := runCLIInput(t, tc.in, append(tc.args, conn...)...)
			if r.code != tc.code || r.stdout != "" {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q", r.code, tc.code, r.stdout, r.stderr)
			}
			golden(t, "error-"+tc.name+".golden", r.stderr)
		})
	}
}

func TestMappingsSuggest(t *testing.T) {
	isolateEnv(t)

	// --all: Department is there, City is filled by the same path; the
	// others whose custom field is missing are skipped with the command to
	// run; the rest are added in one call.
	d, conn := startFakeDirectory(t)
	r := runCLIInput(t, cliInput{}, append([]string{"mappings", "suggest", "-p", "Okta", "--all"}, conn...)...)
	if r.code != 0 || puts(d) != 1 {
		t.Fatalf("exit %d, %d PUTs, stderr %q", r.code, puts(d), r.stderr)
	}
	golden(t, "mappings-suggest-all.piped.golden", r.stdout)
	golden(t, "mappings-suggest-all.stderr.golden", r.stderr)

	// Again: nothing left to add but the skipped ones.
	r = runCLIInput(t, cliInput{}, append([]string{"mappings", "suggest", "-p", "Okta", "--all"}, conn...)...)
	if r.code != 0 || puts(d) != 1 || r.stdout != "No mappings added.\n" || strings.Count(r.stderr, "Skipped") != 3 {
		t.Fatalf("second run: %+v, %d PUTs", r, puts(d))
	}

	// --create-fields creates them first; then every suggestion is there.
	r = runCLIInput(t, cliInput{}, append([]string{"mappings", "suggest", "-p", "Okta", "--all", "--create-fields", "-o", "json"}, conn...)...)
	if r.code != 0 || puts(d) != 2 || r.stderr != "" {
		t.Fatalf("--create-fields: %+v", r)
	}
	golden(t, "mappings-suggest-create.json.golden", r.stdout)
	r = runCLIInput(t, cliInput{}, append([]string{"mappings", "suggest", "-p", "Okta", "--all"}, conn...)...)
	if r.code != 0 || r.stdout != "Provider Okta already has every suggested mapping.\n" || r.stderr != "" {
		t.Fatalf("complete: %+v", r)
	}
}

func TestMappingsSuggestPrompt(t *testing.T) {
	isolateEnv(t)
	d, conn := startFakeDirectory(t)
	// On a terminal each suggestion is asked for: no to Manager, yes to
	// Organization (creating its field), a wrong answer then no to Mobile,
	// yes to Groups, and the end of input answers no to the rest.
	in := cliInput{stdinTTY: true, stdoutTTY: true, stdin: "n\ny\nmaybe\nn\nyes\n"}
	r := runCLIInput(t, in, append([]string{"mappings", "suggest", "-p", "Okta", "--create-fields"}, conn...)...)
	if r.code != 0 || puts(d) != 1 {
		t.Fatalf("exit %d, %d PUTs, stderr %q", r.code, puts(d), r.stderr)
	}
	golden(t, "mappings-suggest-prompt.tty.golden", r.stdout)
	golden(t, "mappings-suggest-prompt.stderr.golden", r.stderr)
	var fields []string
	for _, m := range optional(d) {
		fields = append(fields, m.Field)
	}
	if got := strings.Join(fields, ","); got != "Department,City,Organization,Groups" {
		t.Fatalf("mappings now %s", got)
	}

	// Answering no to everything changes nothing.
	r = runCLIInput(t, cliInput{stdinTTY: true, stdin: "\n\n\n\n\n\n\n"}, append([]string{"mappings", "suggest", "-p", "Okta"}, conn...)...)
	if r.code != 0 || puts(d) != 1 || r.stdout != "No mappings added.\n" {
		t.Fatalf("all no: %+v", r)
	}
}

// editorScript writes a shell script that edits the file it is given with
// the body of the script, and returns its path. $1 is the file; each run
// appends to $COUNT so that tests can count runs.
func editorScript(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "editor.sh")
	script := "#!/bin/sh\nset -e\necho run >> " + filepath.Join(dir, "count") + "\n" + body + "\n"
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func editorRuns(t *testing.T, script string) int {
	b, _ := os.ReadFile(filepath.Join(filepath.Dir(script), "count"))
	return strings.Count(string(b), "run")
}

func TestMappingsEdit(t *testing.T) {
	isolateEnv(t)
	t.Setenv("VISUAL", "")
	edit := func(t *testing.T, script string, extra ...string) (cliResult, *fakeDirectory) {
		t.Helper()
		t.Setenv("EDITOR", script)
		d, conn := startFakeDirectory(t)
		return runCLIInput(t, cliInput{}, append(append([]string{"mappings", "edit", "-p", "Okta"}, extra...), conn...)...), d
	}

	t.Run("file", func(t *testing.T) {
		// The editor sees the header and the mappings as YAML.
		copyTo := filepath.Join(t.TempDir(), "seen.yaml")
		script := editorScript(t, `cp "$1" `+copyTo)
		r, d := edit(t, script)
		if r.code != 0 || r.stderr != "Edit cancelled, no changes made.\n" || r.stdout != "" || puts(d) != 0 {
			t.Fatalf("unchanged: %+v", r)
		}
		seen, _ := os.ReadFile(copyTo)
		golden(t, "mappings-edit-file.golden", string(seen))
	})

	t.Run("unchanged-reformatted", func(t *testing.T) {
		// Comments, spacing and quoting do not count as changes.
		r, d := edit(t, editorScript(t, `sed -i -e '/^#/d' -e 's/field: Email/field:   "Email"/' -e 's/^mappings:/\nmappings:/' "$1"`))
		if r.code != 0 || r.stderr != "Edit cancelled, no changes made.\n" || puts(d) != 0 {
			t.Fatalf("reformatted: %+v", r)
		}
	})

	t.Run("empty", func(t *testing.T) {
		r, d := edit(t, editorScript(t, `echo '# nothing' > "$1"`))
		if r.code != 0 || r.stderr != "Edit cancelled, the saved file was empty.\n" || puts(d) != 0 {
			t.Fatalf("empty: %+v", r)
		}
	})

	t.Run("saved", func(t *testing.T) {
		// Remove City, add Country; the PUT carries the whole list.
		r, d := edit(t, editorScript(t, `sed -i -e 's/locality/country/' -e 's/field: City/field: Country/' "$1"`))
		if r.code != 0 || puts(d) != 1 || r.stderr != "" {
			t.Fatalf("saved: %+v", r)
		}
		golden(t, "mappings-edit-saved.piped.golden", r.stdout)
		if optional(d)[1].Field != "Country" || optional(d)[1].SCIMPath != `addresses[type eq "work"].country` {
			t.Fatalf("stored %+v", optional(d))
		}
	})

	t.Run("saved-json", func(t *testing.T) {
		r, d := edit(t, editorScript(t, `sed -i -e '/field: City/d' -e '/locality/d' "$1"`), "-o", "json")
		if r.code != 0 || puts(d) != 1 || !json.Valid([]byte(r.stdout)) || !strings.Contains(r.stdout, `"changedUsers": 2`) || strings.Contains(r.stdout, "City") {
			t.Fatalf("saved json: %+v", r)
		}
	})

	t.Run("refused-then-fixed", func(t *testing.T) {
		// First save maps to a field that does not exist: the file opens
		// again with the error on top; the second save fixes it.
		seen := filepath.Join(t.TempDir(), "second.yaml")
		script := editorScript(t, `if [ ! -e `+seen+`.first ]; then
  touch `+seen+`.first
  printf '  - scimPath: title\n    field: Title\n' >> "$1"
else
  cp "$1" `+seen+`
  sed -i 's/field: Title/field: State/' "$1"
fi`)
		r, d := edit(t, script)
		if r.code != 0 || puts(d) != 1 || editorRuns(t, script) != 2 {
			t.Fatalf("refused then fixed: %+v, %d runs", r, editorRuns(t, script))
		}
		second, _ := os.ReadFile(seen)
		if !strings.HasPrefix(string(second), "# Error: there is no field named Title: create it first with `kacescim fields add Title`\n# The mappings of provider Okta") {
			t.Fatalf("second edit starts with:\n%s", second)
		}
		if optional(d)[2].Field != "State" {
			t.Fatalf("stored %+v", optional(d))
		}
		golden(t, "mappings-edit-fixed.piped.golden", r.stdout)
	})

	t.Run("conflict-names-the-new-line", func(t *testing.T) {
		// A new mapping put above the saved one that fills the same
		// field: the error says which is new, whatever the order.
		seen := filepath.Join(t.TempDir(), "second.yaml")
		script := editorScript(t, `if [ ! -e `+seen+`.first ]; then
  touch `+seen+`.first
  sed -i 's/^mappings:$/mappings:\n  - scimPath: title\n    field: City/' "$1"
else
  cp "$1" `+seen+`
  sed -i '/scimPath: title/,+1d' "$1"
fi`)
		r, d := edit(t, script)
		if r.code != 0 || editorRuns(t, script) != 2 {
			t.Fatalf("conflict then fixed: %+v, %d runs", r, editorRuns(t, script))
		}
		second, _ := os.ReadFile(seen)
		head, _, _ := strings.Cut(string(second), "\n")
		if !strings.HasPrefix(head, "# Error: City is filled by two mappings, title → City (new in this edit) and ") ||
			!strings.HasSuffix(head, "→ City (saved before this edit): keep one of them") {
			t.Fatalf("second edit starts with:\n%s", second)
		}
		if puts(d) != 0 {
			t.Errorf("%d saves, want none: the fixed file is the original", puts(d))
		}
	})

	t.Run("refused-twice", func(t *testing.T) {
		// Saving the refused file unchanged gives up, keeping the edits.
		script := editorScript(t, `grep -q '^# Error' "$1" || printf '  - scimPath: title\n    field: Title\n' >> "$1"`)
		r, d := edit(t, script)
		if r.code != exitError || puts(d) != 0 || editorRuns(t, script) != 2 {
			t.Fatalf("refused twice: %+v", r)
		}
		kept := strings.TrimSpace(r.stderr[strings.LastIndex(r.stderr, " ")+1:])
		defer os.Remove(kept)
		b, err := os.ReadFile(kept)
		if err != nil || !strings.Contains(string(b), "field: Title") {
			t.Fatalf("the edits were not kept in %q: %v", kept, err)
		}
		golden(t, "error-mappings-edit-refused.golden", strings.ReplaceAll(r.stderr, kept, "FILE"))
	})

	t.Run("not-yaml", func(t *testing.T) {
		// A file that is not valid YAML is refused like the server's errors;
		// an unknown key too.
		script := editorScript(t, `if grep -q '^# Error' "$1"; then sed -i '/^# Error/d; s/feild: Zip/field: Zip/' "$1"; else printf '  - scimPath: zip\n    feild: Zip\n' >> "$1"; fi`)
		r, d := edit(t, script)
		if r.code != 0 || puts(d) != 1 || editorRuns(t, script) != 2 {
			t.Fatalf("not yaml: %+v", r)
		}
	})

	t.Run("editor-fails", func(t *testing.T) {
		r, d := edit(t, editorScript(t, "exit 3"))
		if r.code != exitError || puts(d) != 0 || !strings.Contains(r.stderr, "failed: exit status 3; nothing was changed") {
			t.Fatalf("editor fails: %+v", r)
		}
	})

	t.Run("visual-wins", func(t *testing.T) {
		visual := editorScript(t, `true`)
		t.Setenv("VISUAL", visual+" --wait")
		r, _ := edit(t, editorScript(t, "exit 3"))
		if r.code != 0 || editorRuns(t, visual) != 1 {
			t.Fatalf("VISUAL not used: %+v", r)
		}
	})
}

// TestUsersListPages gathers --limit users over several pages and says
// when there are more.
func TestUsersListPages(t *testing.T) {
	isolateEnv(t)
	d, conn := startFakeDirectory(t)
	for i := 0; i < 1200; i++ {
		d.users = append(d.users, adminapi.DirectoryUser{Provider: "Okta", ID: fmt.Sprint(i), Fields: map[string]any{"Email": fmt.Sprintf("u%d@example.com", i), "Disabled": false}})
	}
	r := runCLIInput(t, cliInput{}, append([]string{"users", "list", "--limit", "1100"}, conn...)...)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1101 || r.stderr != "Showing 1100 of 1203 directory users: raise --limit to see more.\n" {
		t.Fatalf("exit %d, %d lines, stderr %q", r.code, strings.Count(r.stdout, "\n"), r.stderr)
	}
	r = runCLIInput(t, cliInput{}, append([]string{"users", "list", "-L", "5000", "-o", "json"}, conn...)...)
	var list adminapi.DirectoryUserList
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list.Users) != 1203 || list.TotalResults != 1203 || r.stderr != "" {
		t.Fatalf("all: %d users, %v, stderr %q", len(list.Users), err, r.stderr)
	}
}

func TestOrderFields(t *testing.T) {
	fields := map[string]any{"zeta": 1, "Country": 1, "Email": 1, "HeliumKeycloakObjectGuid": 1, "Alpha": 1, "alpha": 1, "Disabled": 1, "Name": 1}
	if got := strings.Join(orderFields(fields, false), ","); got != "Email,Name,Disabled,Country,Alpha,alpha,zeta" {
		t.Fatalf("orderFields = %s", got)
	}
	if got := strings.Join(orderFields(fields, true), ","); got != "Email,Name,Disabled,HeliumKeycloakObjectGuid,Country,Alpha,alpha,zeta" {
		t.Fatalf("orderFields with GUID = %s", got)
	}
}
