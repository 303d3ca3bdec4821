// Package scim is SCIM 2.0 (RFC 7643, RFC 7644) as kacescim speaks it: the
// schemas and wire messages, the errors an identity provider sees, and the
// operations on resource documents that the server and the stores share.
// It imports nothing of kacescim's own, so that the domain (pkg/directory),
// the stores, the server and the conformance tester agree on one reading
// of the RFCs.
//
// # Resources and schemas
//
// A resource is a JSON object decoded into map[string]any, not a Go
// struct: SCIM attributes are case-insensitive, extensible and partly
// optional, and the schema, not the type system, says what a document may
// hold. [UserSchema], [GroupSchema] and [EnterpriseUserSchema] define the
// attributes (type, mutability, returned, uniqueness, sub-attributes), and
// [UserResourceType] and [GroupResourceType] tie a core schema and its
// extensions to an endpoint. The message URNs ([ErrorURN],
// [ListResponseURN], [PatchOpURN], …) and [MediaType] are the rest of the
// wire vocabulary; [PatchRequest] and [BulkRequest] are the request
// messages that need more than a map.
//
// # Errors
//
// [Error] is a SCIM protocol error: an HTTP status, a scimType from RFC
// 7644 §3.12 ([TypeInvalidFilter], [TypeUniqueness], [TypeNoTarget], …)
// and a detail. It marshals to the RFC's error body, and every layer
// returns it ([Errorf]) when the identity provider must see a specific
// status and scimType; [AsError] finds it in a wrapped error.
//
// # Normalisation
//
// [Normalize] checks a POST or PUT body against the resource type and
// returns its canonical form, the document the store keeps: attribute
// names spelled as in the schema, values of the declared type,
// multi-valued attributes as arrays, extension attributes under their URN,
// read-only attributes and password left out. [KeepImmutable] holds a PUT
// to the immutable values of the resource it replaces.
//
// # Filters and attribute paths
//
// [ParseFilter] parses a filter parameter (RFC 7644 §3.4.2.2) and bounds
// its size ([MaxFilterComparisons], [MaxFilterDepth]); [Match] evaluates
// it on one document, and is the reference the stores' SQL translations
// are tested against. [ParseAttrPath] reads the attribute paths that
// mappings use (name.givenName, phoneNumbers[type eq "mobile"].value, an
// enterprise attribute with its URN) and [AttrPath.Values] reads their
// values out of a document. [SortPath] resolves sortBy.
//
// # PATCH
//
// [DecodePatch] reads a PATCH body and [ApplyPatch] applies its operations
// to a copy of a canonical document, all or nothing: add, replace and
// remove with or without a path, value filters, sub-attributes and the
// path-less value maps Okta and Entra send. [AsMembershipDelta] recognises
// the group PATCHes that only add or remove members or rename the group,
// which the store applies without reading the member list.
//
// # Projection
//
// [NewProjection] reads the attributes and excludedAttributes parameters
// (RFC 7644 §3.4.2.5, §3.9) and [Projection.Apply] shapes a response with
// them. Names are case-insensitive and may carry their schema URN; a name
// the resource type does not know is ignored, one that is no attribute
// path at all is a 400 invalidValue; a value filter in a name is accepted
// and dropped; attributes wins over excludedAttributes; the returned
// characteristic of each attribute (always, never, request, default) is
// honoured.
//
// # Dialects
//
// Identity providers do not all speak the RFCs as written: Microsoft Entra
// ID sends PATCH ops as "Replace", booleans as "True", removes members by
// value, and more. [Options] is a provider's switch (Strict refuses all
// that), and [Accepts] lists each leniency by name; the code that decides
// reads Accepts, and [NewDialect] publishes the same values in the
// provider's /ServiceProviderConfig under [DialectURN], so what the
// server claims is what it does.
//
// # Bulk and versions
//
// [DecodeBulkRequest] checks the structure of a bulk request and
// [ResolveBulkIDs] replaces its bulkId references. [ParseETagList] reads
// If-Match and If-None-Match (RFC 7644 §3.14), against which resource
// versions are compared.
package scim
