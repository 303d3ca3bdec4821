package scim

// DialectURN names kacescim's extension of the ServiceProviderConfig
// (RFC 7643 §5): which dialect the authenticated provider is held to, so
// that a client (or kacescim's own conformance tester) can learn what the
// server will accept from it before sending it.
const DialectURN = "urn:kacescim:params:scim:schemas:extension:dialect:2.0:ServiceProviderConfig"

// Accepts lists what a provider's requests may do beyond RFC 7643 and
// RFC 7644, mostly what Microsoft Entra ID sends. The code that decides
// reads these fields (Options.Accepts), so what /ServiceProviderConfig
// claims is what the server does. The JSON names are the sub-attributes of
// "accepts" in DialectSchema.
type Accepts struct {
	// OpAnyCase: PATCH op in any case ("Replace", "Add").
	OpAnyCase bool `json:"opAnyCase"`
	// StringBooleans: "True", "false" (any case) where a boolean belongs.
	StringBooleans bool `json:"stringBooleans"`
	// RemoveWithValue: remove with path "members" (or another multi-valued
	// attribute) and the elements to remove as the value, which removes
	// those elements only.
	RemoveWithValue bool `json:"removeWithValue"`
	// UnknownSchemas: schemas of a resource naming URIs that are neither its
	// core schema nor one of its extensions (Entra's Group schema URI),
	// ignored.
	UnknownSchemas bool `json:"unknownSchemas"`
	// NullValues: null for any attribute, "$ref": null in members included,
	// taken as unassigned. RFC 7643 §2.5 says so, so a strict provider
	// accepts it too.
	NullValues bool `json:"nullValues"`
	// EmptyOperations: a PATCH whose Operations is empty, a no-op.
	EmptyOperations bool `json:"emptyOperations"`
	// MissingPatchOpSchema: a PATCH whose schemas does not name the PatchOp
	// message URN.
	MissingPatchOpSchema bool `json:"missingPatchOpSchema"`
	// UnknownPatchPaths: a PATCH operation (path, or key of a path-less
	// value) naming an attribute the schema does not know, ignored rather
	// than 400 invalidPath.
	UnknownPatchPaths bool `json:"unknownPatchPaths"`
	// ValueShorthand: a string where a single-valued complex attribute
	// with a value sub-attribute belongs, taken as {"value": string}:
	// Entra sends the enterprise manager as the manager's id.
	ValueShorthand bool `json:"valueShorthand"`
	// URNDotPaths: an extension attribute named with a dot after the
	// schema URN ("urn:…:enterprise:2.0:User.manager", as Microsoft's
	// reference Postman collection writes it), read as the RFC's colon.
	URNDotPaths bool `json:"urnDotPaths"`
}

// Accepts is what o accepts beyond the RFCs: everything in the default
// (lenient) dialect, only what the RFCs allow in strict mode.
func (o Options) Accepts() Accepts {
	lenient := !o.Strict
	return Accepts{
		OpAnyCase:            lenient,
		StringBooleans:       lenient,
		RemoveWithValue:      lenient,
		UnknownSchemas:       lenient,
		NullValues:           true,
		EmptyOperations:      lenient,
		MissingPatchOpSchema: lenient,
		UnknownPatchPaths:    lenient,
		ValueShorthand:       lenient,
		URNDotPaths:          lenient,
	}
}

// Dialect is the value of the DialectURN extension in a provider's
// /ServiceProviderConfig.
type Dialect struct {
	// Strict: the provider is held to RFC 7644 (kacescim provider add
	// --strict).
	Strict bool `json:"strict"`
	// Accepts: what its requests may do beyond the RFCs.
	Accepts Accepts `json:"accepts"`
	// RateLimit: the most SCIM requests per second it may make, beyond
	// which it gets 429 with Retry-After; left out when it has no limit.
	RateLimit float64 `json:"rateLimit,omitempty"`
}

// NewDialect describes the dialect of opts, with rateLimit requests per
// second (0: none).
func NewDialect(opts Options, rateLimit float64) Dialect {
	return Dialect{Strict: opts.Strict, Accepts: opts.Accepts(), RateLimit: rateLimit}
}

// DialectSchema describes the DialectURN extension, for /Schemas.
func DialectSchema() *Schema {
	flag := func(name, d string) *Attribute { return attr(name, TypeBoolean, readOnly, desc(d)) }
	return &Schema{
		ID:          DialectURN,
		Name:        "KacescimDialect",
		Description: "The dialect the authenticated provider is held to: strict (RFC 7644 only) or lenient (also what Microsoft Entra ID sends), and its request rate limit.",
		Attributes: []*Attribute{
			flag("strict", "True when the provider is held to RFC 7643 and RFC 7644 (kacescim provider add --strict); every sub-attribute of accepts then is false but nullValues."),
			complexAttr("accepts", []*Attribute{
				flag("opAnyCase", `PATCH op in any case ("Replace"); otherwise 400 invalidSyntax.`),
				flag("stringBooleans", `"True" or "false" (any case) where a boolean belongs; otherwise 400 invalidValue.`),
				flag("removeWithValue", `remove with path "members" and the members to remove as the value removes only those; otherwise 400 invalidSyntax.`),
				flag("unknownSchemas", `schemas of a User or Group may name URIs that are not its schemas (Entra's Group schema URI), which are ignored; otherwise 400 invalidValue.`),
				flag("nullValues", `null for an attribute ("$ref": null in members) is taken as unassigned (RFC 7643 §2.5).`),
				flag("emptyOperations", `a PATCH with an empty Operations list is a no-op; otherwise 400 invalidSyntax.`),
				flag("missingPatchOpSchema", `a PATCH whose schemas does not name urn:ietf:params:scim:api:messages:2.0:PatchOp is applied; otherwise 400 invalidSyntax.`),
				flag("unknownPatchPaths", `a PATCH naming an attribute the schema does not know ignores it; otherwise 400 invalidPath.`),
				flag("valueShorthand", `a string where a single-valued complex attribute with a value sub-attribute belongs (Entra's manager: "<id>") is taken as {"value": "<id>"}; otherwise 400 invalidValue.`),
				flag("urnDotPaths", `an extension attribute written with a dot after the schema URN (urn:ietf:params:scim:schemas:extension:enterprise:2.0:User.manager) is read as with the colon; otherwise 400 invalidPath.`),
			}, readOnly, desc("What the provider's requests may do beyond RFC 7643 and RFC 7644.")),
			attr("rateLimit", TypeDecimal, readOnly, desc("The most SCIM requests per second the provider may make; beyond it the answer is 429 with an integer Retry-After. Absent when there is no limit.")),
		},
	}
}
