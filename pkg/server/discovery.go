package server

import (
	"net/http"
	"strings"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// The discovery endpoints are SCIM endpoints like the others: they need the
// provider's security key (RFC 7644 §4 lets a service provider require
// authentication there), and they answer for that provider: its
// dialect in /ServiceProviderConfig, the extensions its mappings declared
// in /ResourceTypes and /Schemas.

// serviceProviderConfig states what this server really supports (RFC 7643
// §5), for provider p: the standard features, the same for every provider,
// and in the scim.DialectURN extension the dialect p is held to and its
// rate limit. Every claim here is exercised by the tests.
func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request, p *directory.Provider) error {
	base := s.scimBaseURL(r)
	writeSCIM(w, http.StatusOK, map[string]any{
		"schemas":          []string{scim.ServiceProviderConfigURN, scim.DialectURN},
		scim.DialectURN:    scim.NewDialect(p.Dialect(), p.RateLimit),
		"documentationUri": "https://github.com/kacescim/kacescim#readme",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": true, "maxOperations": bulkMaxOperations, "maxPayloadSize": s.bulkMaxPayload()},
		"filter":           map[string]any{"supported": true, "maxResults": maxPageSize},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type":        "oauthbearertoken",
			"name":        "Security key",
			"description": "The provider's security key, sent as Authorization: Bearer <key> (or the bare key)",
			"primary":     true,
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
	})
	return nil
}

func (s *Server) renderResourceType(r *http.Request, rt *scim.ResourceType) map[string]any {
	exts := make([]any, len(rt.Extensions))
	for i, e := range rt.Extensions {
		exts[i] = map[string]any{"schema": e.ID, "required": false}
	}
	return map[string]any{
		"schemas":          []string{scim.ResourceTypeURN},
		"id":               rt.ID,
		"name":             rt.Name,
		"endpoint":         rt.Endpoint,
		"description":      rt.Description,
		"schema":           rt.Schema.ID,
		"schemaExtensions": exts,
		"meta":             map[string]any{"resourceType": "ResourceType", "location": s.scimBaseURL(r) + "/ResourceTypes/" + rt.ID},
	}
}

// providerTypes are the resource types as the provider sees them: the
// User type carries every extension its mappings declared.
func (s *Server) providerTypes(r *http.Request, p *directory.Provider) ([]*scim.ResourceType, error) {
	m, err := s.dir.Mapper(r.Context(), p.ID)
	if err != nil {
		return nil, err
	}
	return []*scim.ResourceType{m.ResourceType(), groupRT}, nil
}

func (s *Server) resourceTypes(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	all, err := s.providerTypes(r, p)
	if err != nil {
		return err
	}
	if id != "" {
		for _, rt := range all {
			if strings.EqualFold(rt.ID, id) {
				writeSCIM(w, http.StatusOK, s.renderResourceType(r, rt))
				return nil
			}
		}
		return scim.Errorf(http.StatusNotFound, "", "resource type %s not found: use User or Group", id)
	}
	res := make([]any, len(all))
	for i, rt := range all {
		res[i] = s.renderResourceType(r, rt)
	}
	writeSCIM(w, http.StatusOK, newList(len(res), 1, res))
	return nil
}

func (s *Server) renderSchema(r *http.Request, sc *scim.Schema) map[string]any {
	return map[string]any{
		"schemas":     []string{scim.SchemaURN},
		"id":          sc.ID,
		"name":        sc.Name,
		"description": sc.Description,
		"attributes":  sc.Attributes,
		"meta":        map[string]any{"resourceType": "Schema", "location": s.scimBaseURL(r) + "/Schemas/" + sc.ID},
	}
}

func (s *Server) schemas(w http.ResponseWriter, r *http.Request, p *directory.Provider, id string) error {
	types, err := s.providerTypes(r, p)
	if err != nil {
		return err
	}
	all := []*scim.Schema{types[0].Schema, types[1].Schema}
	all = append(all, types[0].Extensions...)
	all = append(all, scim.DialectSchema())
	if id != "" {
		for _, sc := range all {
			if strings.EqualFold(sc.ID, id) {
				writeSCIM(w, http.StatusOK, s.renderSchema(r, sc))
				return nil
			}
		}
		return scim.Errorf(http.StatusNotFound, "", "schema %s not found", id)
	}
	res := make([]any, len(all))
	for i, sc := range all {
		res[i] = s.renderSchema(r, sc)
	}
	writeSCIM(w, http.StatusOK, newList(len(res), 1, res))
	return nil
}
