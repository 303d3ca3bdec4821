// Package directory is kacescim's domain: the identity-provider
// connections (Provider, with its security key), the SCIM users and groups
// each provider owns, the directory entries its mappings derive from them,
// the provisioning log, and the Store interface every storage backend
// implements.
//
// Service holds the rules, over a Store:
//
//   - providers and keys (providers.go): keys are shown once, kept as
//     SHA-256 hashes, compared in constant time;
//   - custom fields and mappings (fields.go, mappings.go): a provider's
//     mappings compile into a Mapper, which turns a SCIM User into the
//     fields of its directory entry;
//   - SCIM users and groups (users.go, groups.go): create, replace, patch
//     and delete with optimistic locking (a read-modify-write retried when
//     another writer got in between), If-Match preconditions, the entry's
//     fields derived in the same write;
//   - the provisioning log (log.go).
//
// Errors are *Error values with a code (ENOTFOUND, ECONFLICT, …) that
// every layer keeps, or *scim.Error values for what RFC 7644 gives a
// scimType (a malformed PATCH, an immutable attribute); pkg/server maps
// both to HTTP statuses in one place.
package directory
