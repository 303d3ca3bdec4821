package server_test

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// addProvider adds an enabled provider with opts to e's server and returns
// its security key.
func (e *scimEnv) addProvider(name string, opts directory.ProviderOptions) string {
	e.t.Helper()
	_, key, err := e.srv.Directory().AddProvider(context.Background(), name, true, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return key
}

// as runs a SCIM request with the security key of another provider.
func (e *scimEnv) as(key, method, path, body string) resp {
	e.t.Helper()
	return e.doAuth(method, path, body, "Bearer "+key)
}

// dialectOf is the kacescim dialect extension of a ServiceProviderConfig.
func dialectOf(t *testing.T, spc resp) map[string]any {
	t.Helper()
	if fmt.Sprint(spc.get("schemas")) != fmt.Sprint([]string{scim.ServiceProviderConfigURN, scim.DialectURN}) {
		t.Errorf("schemas: %v", spc.get("schemas"))
	}
	d, ok := spc.json[scim.DialectURN].(map[string]any)
	if !ok {
		t.Fatalf("no %s: %s", scim.DialectURN, spc.body)
	}
	return d
}

// TestDiscoveryPerProvider: /ServiceProviderConfig answers for the
// provider whose key is sent. Its standard part is the same for every
// provider; the dialect extension says whether the provider is strict,
// what it accepts beyond the RFCs and its rate limit, and every claim is
// checked against what the server then does with that provider's
// requests.
func TestDiscoveryPerProvider(t *testing.T) {
	e := newSCIMEnv(t) // "okta": lenient, no rate limit
	on, rate := true, 50.0
	strictKey := e.addProvider("entra-strict", directory.ProviderOptions{Strict: &on, RateLimit: &rate})

	lenient := e.must(e.do("GET", "/ServiceProviderConfig", ""), 200)
	strict := e.must(e.as(strictKey, "GET", "/ServiceProviderConfig", ""), 200)
	ld, sd := dialectOf(t, lenient), dialectOf(t, strict)
	if ld["strict"] != false || sd["strict"] != true {
		t.Errorf("strict: lenient %v, strict %v", ld["strict"], sd["strict"])
	}
	if _, ok := ld["rateLimit"]; ok {
		t.Errorf("a provider without a rate limit shows one: %v", ld)
	}
	if sd["rateLimit"] != rate {
		t.Errorf("rateLimit %v, want %v", sd["rateLimit"], rate)
	}

	// The standard part does not depend on the provider.
	std := func(r resp) map[string]any {
		m := map[string]any{}
		for k, v := range r.json {
			if k != scim.DialectURN && k != "schemas" {
				m[k] = v
			}
		}
		return m
	}
	if !reflect.DeepEqual(std(lenient), std(strict)) {
		t.Errorf("the standard part differs:\n%s\n%s", lenient.body, strict.body)
	}

	// /Schemas describes the extension, the attributes the SPC has.
	sch := e.must(e.as(strictKey, "GET", "/Schemas/"+scim.DialectURN, ""), 200)
	var described []string
	for _, a := range sch.get("attributes").([]any) {
		described = append(described, a.(map[string]any)["name"].(string))
	}
	if fmt.Sprint(described) != "[strict accepts rateLimit]" {
		t.Errorf("described attributes %v", described)
	}
	var subs []string
	for _, s := range sch.get("attributes.1.subAttributes").([]any) {
		subs = append(subs, s.(map[string]any)["name"].(string))
	}
	sort.Strings(subs)
	if got := keys(ld["accepts"]); fmt.Sprint(got) != fmt.Sprint(subs) {
		t.Errorf("accepts holds %v, /Schemas describes %v", got, subs)
	}

	// Each claim, tried on both providers: a feature the dialect accepts
	// is accepted, one it does not is 400 with the scimType its
	// description in /Schemas names.
	claims := dialectRequests(t, e, strictKey)
	for _, name := range keys(ld["accepts"]) {
		if _, ok := claims[name]; !ok {
			t.Errorf("accepts.%s is not tried by this test", name)
		}
	}
	for name, c := range claims {
		for _, p := range []struct {
			label   string
			key     string
			dialect map[string]any
		}{{"lenient", e.key, ld}, {"strict", strictKey, sd}} {
			accepted, ok := p.dialect["accepts"].(map[string]any)[name].(bool)
			if !ok {
				t.Errorf("%s: accepts.%s missing", p.label, name)
				continue
			}
			r := c.run(p.key)
			switch {
			case accepted && r.status >= 300:
				t.Errorf("%s claims accepts.%s but got %d: %s", p.label, name, r.status, r.body)
			case !accepted && (r.status != 400 || r.str("scimType") != c.refusal):
				t.Errorf("%s claims not accepts.%s but got %d (want 400 %s): %s", p.label, name, r.status, c.refusal, r.body)
			}
		}
	}
	// The dialect a lenient provider shows is everything; a strict one
	// accepts only what RFC 7643 itself allows (null as unassigned).
	for name, v := range ld["accepts"].(map[string]any) {
		if v != true {
			t.Errorf("lenient: accepts.%s is %v", name, v)
		}
		if want := name == "nullValues"; sd["accepts"].(map[string]any)[name] != want {
			t.Errorf("strict: accepts.%s is %v", name, sd["accepts"].(map[string]any)[name])
		}
	}
}

// dialectClaim is a request that uses one feature of a dialect, and the
// scimType of its refusal when the dialect lacks the feature.
type dialectClaim struct {
	run     func(key string) resp
	refusal string
}

// dialectRequests returns a request per sub-attribute of accepts. Each
// works on its own resources, created as the provider whose key it gets.
func dialectRequests(t *testing.T, e *scimEnv, strictKey string) map[string]dialectClaim {
	const patchOp = `"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"]`
	n := 0
	user := func(key string) string {
		n++
		return e.must(e.as(key, "POST", "/Users", userBody(fmt.Sprintf("claim%d@example.com", n))), 201).str("id")
	}
	group := func(key, member string) string {
		n++
		return e.must(e.as(key, "POST", "/Groups", fmt.Sprintf(`{"displayName":"claim %d","members":[{"value":%q}]}`, n, member)), 201).str("id")
	}
	patchUser := func(body string) func(string) resp {
		return func(key string) resp { return e.as(key, "PATCH", "/Users/"+user(key), body) }
	}
	return map[string]dialectClaim{
		"opAnyCase": {patchUser(`{` + patchOp + `,"Operations":[{"op":"Replace","path":"title","value":"T"}]}`), "invalidSyntax"},
		"stringBooleans": {func(key string) resp {
			n++
			return e.as(key, "POST", "/Users", fmt.Sprintf(`{"userName":"bool%d@example.com","active":"False"}`, n))
		}, "invalidValue"},
		"removeWithValue": {func(key string) resp {
			u := user(key)
			return e.as(key, "PATCH", "/Groups/"+group(key, u), `{`+patchOp+`,"Operations":[{"op":"remove","path":"members","value":[{"value":"`+u+`"}]}]}`)
		}, "invalidSyntax"},
		"unknownSchemas": {func(key string) resp {
			n++
			return e.as(key, "POST", "/Groups", fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group","http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],"displayName":"ms %d"}`, n))
		}, "invalidValue"},
		"nullValues": {func(key string) resp {
			n++
			return e.as(key, "POST", "/Groups", fmt.Sprintf(`{"displayName":"null %d","externalId":null,"members":[{"$ref":null,"value":%q}]}`, n, user(key)))
		}, ""},
		"emptyOperations":      {patchUser(`{` + patchOp + `,"Operations":[]}`), "invalidSyntax"},
		"missingPatchOpSchema": {patchUser(`{"Operations":[{"op":"replace","path":"title","value":"T"}]}`), "invalidSyntax"},
		"unknownPatchPaths":    {patchUser(`{` + patchOp + `,"Operations":[{"op":"replace","path":"favoriteColor","value":"blue"}]}`), "invalidPath"},
		"valueShorthand": {func(key string) resp {
			u := user(key)
			r := e.as(key, "PATCH", "/Users/"+u, `{`+patchOp+`,"Operations":[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"boss-1"}]}`)
			if r.status == 200 && !strings.Contains(string(r.body), `"manager":{"value":"boss-1"}`) {
				t.Errorf("valueShorthand accepted but the manager is not {value: boss-1}: %s", r.body)
			}
			return r
		}, "invalidValue"},
		"urnDotPaths": {func(key string) resp {
			u := user(key)
			r := e.as(key, "PATCH", "/Users/"+u, `{`+patchOp+`,"Operations":[{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.department","value":"Dots"}]}`)
			if r.status == 200 && !strings.Contains(string(r.body), `"department":"Dots"`) {
				t.Errorf("urnDotPaths accepted but the department is not set: %s", r.body)
			}
			return r
		}, "invalidPath"},
	}
}

// TestDiscoveryRateLimitClaim: the rate limit the SPC shows is the one
// enforced.
func TestDiscoveryRateLimitClaim(t *testing.T) {
	e := newSCIMEnv(t)
	rate := 2.0
	key := e.addProvider("limited", directory.ProviderOptions{RateLimit: &rate})
	d := dialectOf(t, e.must(e.as(key, "GET", "/ServiceProviderConfig", ""), 200))
	if d["rateLimit"] != rate {
		t.Fatalf("rateLimit %v", d["rateLimit"])
	}
	var limited resp
	for range 10 {
		if r := e.as(key, "GET", "/ServiceProviderConfig", ""); r.status == 429 {
			limited = r
			break
		}
	}
	wantSCIMError(t, limited, 429, "")
	if n, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || n < 1 {
		t.Errorf("Retry-After %q", limited.header.Get("Retry-After"))
	}
	// The other provider is not limited.
	for range 10 {
		e.must(e.do("GET", "/ServiceProviderConfig", ""), 200)
	}
}

// TestDiscoveryExtensionsPerProvider: the extension a provider's mappings
// declare is in its /Schemas and /ResourceTypes, not in another's.
func TestDiscoveryExtensionsPerProvider(t *testing.T) {
	e := newSCIMEnv(t)
	other := e.addProvider("other", directory.ProviderOptions{})
	ctx := context.Background()
	if _, err := e.srv.Directory().AddCustomField(ctx, "CostCenter", ""); err != nil {
		t.Fatal(err)
	}
	const kace = "urn:example:params:scim:schemas:extension:kace:2.0:User"
	if _, _, err := e.srv.Directory().AddMapping(ctx, "okta", kace+":costCenter", "CostCenter"); err != nil {
		t.Fatal(err)
	}
	e.must(e.do("GET", "/Schemas/"+kace, ""), 200)
	wantSCIMError(t, e.as(other, "GET", "/Schemas/"+kace, ""), 404, "")
	if r := e.must(e.do("GET", "/Schemas", ""), 200); r.get("totalResults") != 5.0 {
		t.Errorf("okta's /Schemas: %s", r.body)
	}
	if r := e.must(e.as(other, "GET", "/Schemas", ""), 200); r.get("totalResults") != 4.0 {
		t.Errorf("other's /Schemas: %s", r.body)
	}
	exts := func(r resp) string { return fmt.Sprint(r.get("schemaExtensions")) }
	if s := exts(e.must(e.do("GET", "/ResourceTypes/User", ""), 200)); s != "[map[required:false schema:urn:ietf:params:scim:schemas:extension:enterprise:2.0:User] map[required:false schema:"+kace+"]]" {
		t.Errorf("okta's User type: %s", s)
	}
	if s := exts(e.must(e.as(other, "GET", "/ResourceTypes/User", ""), 200)); s != "[map[required:false schema:urn:ietf:params:scim:schemas:extension:enterprise:2.0:User]]" {
		t.Errorf("other's User type: %s", s)
	}
}

// TestFilterMaxResultsClaim: no list answer holds more resources than
// the filter.maxResults the SPC advertises, however large the count asked
// for, with or without a filter, by GET or by POST /.search.
func TestFilterMaxResultsClaim(t *testing.T) {
	e := newSCIMEnv(t)
	maxResults, ok := e.must(e.do("GET", "/ServiceProviderConfig", ""), 200).get("filter.maxResults").(float64)
	if !ok || maxResults < 1 {
		t.Fatalf("filter.maxResults %v", maxResults)
	}
	seedUsers(t, e, int(maxResults)+1)
	for _, r := range []resp{
		e.must(e.do("GET", "/Users?count=100000", ""), 200),
		e.must(e.do("GET", "/Users?count=100000&filter="+url.QueryEscape(`userName sw "seed"`), ""), 200),
		e.must(e.do("POST", "/Users/.search", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],"count":100000}`), 200),
	} {
		if r.get("totalResults") != maxResults+1 || r.get("itemsPerPage") != maxResults {
			t.Errorf("totalResults %v, itemsPerPage %v; want %v and %v", r.get("totalResults"), r.get("itemsPerPage"), maxResults+1, maxResults)
		}
	}
}
