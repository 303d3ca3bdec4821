package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/kacescim/kacescim/pkg/scim"
)

// discover reads what the server says it supports.
func (r *runner) discover(ctx context.Context) {
	for _, c := range knownCapabilities {
		r.caps[c] = true
	}
	r.caps[CapDirectory] = r.opts.Directory != nil
	if r.opts.Directory == nil {
		r.capWhy[CapDirectory] = "needs admin access to the directory (--admin-url and --admin-token)"
	}
	c := r.client(http.Header{"Authorization": {"Bearer " + r.opts.Token}})
	if resp, err := c.Do(ctx, http.MethodGet, "/ServiceProviderConfig", nil); err == nil && resp.Status == http.StatusOK {
		var spc map[string]any
		if json.Unmarshal(resp.Body, &spc) == nil {
			for _, f := range []struct {
				cap  Capability
				name string
			}{{CapFilter, "filter"}, {CapSort, "sort"}, {CapETag, "etag"}, {CapBulk, "bulk"}, {CapPatch, "patch"}, {CapChangePassword, "changePassword"}} {
				feature, _ := spc[f.name].(map[string]any)
				if supported, ok := feature["supported"].(bool); ok && !supported {
					r.caps[f.cap] = false
					r.capWhy[f.cap] = fmt.Sprintf("the server's /ServiceProviderConfig says %s is not supported", f.name)
				}
			}
			if strictDialect(spc) {
				r.caps[CapLenient] = false
				r.capWhy[CapLenient] = "the server's /ServiceProviderConfig says it refuses non-RFC input (strict)"
			}
		}
	}
	if resp, err := c.Do(ctx, http.MethodGet, "/ResourceTypes", nil); err == nil && resp.Status == http.StatusOK {
		groups, enterprise := readResourceTypes(resp.Body)
		if !groups {
			r.caps[CapGroups] = false
			r.capWhy[CapGroups] = "the server's /ResourceTypes lists no Group"
		}
		if !enterprise {
			r.caps[CapEnterprise] = false
			r.capWhy[CapEnterprise] = "the server's /ResourceTypes lists no enterprise extension"
		}
	}
	for c, v := range r.opts.Capabilities {
		r.caps[c] = v
		if !v && r.capWhy[c] == "" {
			r.capWhy[c] = fmt.Sprintf("the run says the server lacks %s", c)
		}
	}
	// strict and lenient are one fact seen from two sides.
	if _, told := r.opts.Capabilities[CapStrict]; told {
		r.caps[CapLenient] = !r.caps[CapStrict]
	} else {
		r.caps[CapStrict] = !r.caps[CapLenient]
	}
	_, toldLenient := r.opts.Capabilities[CapLenient]
	_, toldStrict := r.opts.Capabilities[CapStrict]
	switch {
	case r.caps[CapStrict] && (toldLenient || toldStrict):
		r.capWhy[CapLenient] = "the run judges the server as following the RFCs alone (--strict)"
	case r.caps[CapStrict]:
		r.capWhy[CapLenient] = "the server is strict: it refuses input the RFCs do not allow"
	default:
		r.capWhy[CapStrict] = "the server accepts input beyond the RFCs (lenient), as its /ServiceProviderConfig says or by default"
	}
}

// readResourceTypes reports whether a /ResourceTypes answer (a
// ListResponse, or the bare array some servers send) lists a Group
// resource type and a User extended by the enterprise schema. An answer
// it cannot read claims both: the checks that need them then say what is
// wrong.
func readResourceTypes(body []byte) (groups, enterprise bool) {
	type resourceType struct {
		Name             string `json:"name"`
		Endpoint         string `json:"endpoint"`
		Schema           string `json:"schema"`
		SchemaExtensions []struct {
			Schema string `json:"schema"`
		} `json:"schemaExtensions"`
	}
	var list struct {
		Resources []resourceType `json:"Resources"`
	}
	if json.Unmarshal(body, &list) != nil || list.Resources == nil {
		if json.Unmarshal(body, &list.Resources) != nil {
			return true, true
		}
	}
	for _, rt := range list.Resources {
		if strings.EqualFold(rt.Name, "Group") || strings.EqualFold(strings.Trim(rt.Endpoint, "/"), "Groups") {
			groups = true
		}
		for _, ext := range rt.SchemaExtensions {
			if strings.EqualFold(ext.Schema, scim.EnterpriseUserURN) {
				enterprise = true
			}
		}
	}
	return groups, enterprise
}

// strictDialect finds a kacescim-style dialect extension in a
// ServiceProviderConfig that says the provider is strict.
func strictDialect(spc map[string]any) bool {
	for k, v := range spc {
		if !strings.Contains(strings.ToLower(k), "dialect") {
			continue
		}
		if m, ok := v.(map[string]any); ok && m["strict"] == true {
			return true
		}
	}
	return false
}

// missingCap returns the first capability of caps the run lacks, and why.
func (r *runner) missingCap(caps []Capability) (Capability, string, bool) {
	for _, c := range caps {
		if !r.caps[c] {
			return c, r.capWhy[c], true
		}
	}
	return "", "", false
}
