package directory

import (
	"strconv"
	"strings"

	"github.com/kacescim/kacescim/pkg/scim"
)

// Versioning (RFC 7644 §3.14). Every user and group has a Version, which
// every write increments and which the client sees as the weak entity tag
// scim.VersionETag(version). Tags are compared weakly: W/"3" and "3"
// match version 3, and "*" matches any version of a resource that exists.
//
//   - Target.IfMatch makes a write conditional: if the resource's version
//     is not one it names, the write is EPRECONDITION and nothing changes.
//     The check is part of the store's write (the version the client named
//     is the one the write requires), so no concurrent writer can slip in
//     between; a write that loses that race is EPRECONDITION too, never
//     retried.
//   - A resource that does not exist is ENOTFOUND whatever If-Match says,
//     "*" included (RFC 7232 §5: such failures take precedence over
//     preconditions). If-Match is then checked before the change is
//     applied to the resource, so a change that cannot be applied to the
//     current version is reported as the precondition failure it is.

// notFound gives a missing resource the detail a client should see:
// which resource of which kind.
func notFound(err error, kind, id string) error {
	if ErrorCode(err) == ENOTFOUND {
		return Errorf(ENOTFOUND, "%s %s not found", kind, id)
	}
	return err
}

// readModifyWrite loads a resource, changes it and saves it, starting again
// when the save finds that another writer changed the resource in between
// (ESTALE), so that concurrent PATCHes never lose each other's changes.
func readModifyWrite[T any](load func() (T, error), change func(T) error, save func(T) error) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := load()
		if err == nil {
			err = change(v)
		}
		if err == nil {
			err = save(v)
		}
		if ErrorCode(err) == ESTALE && attempt < maxRetries {
			continue
		}
		return v, err
	}
}

// preconditionFailed is the error of a write whose If-Match names no
// current version.
func preconditionFailed(kind, id string) error {
	return Errorf(EPRECONDITION,
		"%s %s has changed: If-Match does not name its current version; read it again and retry with the new ETag", kind, id)
}

// checkIfMatch is EPRECONDITION unless m (nil: no If-Match) names version.
func checkIfMatch(m *scim.ETagList, kind, id string, version int64) error {
	if m != nil && !m.Match(scim.VersionETag(version)) {
		return preconditionFailed(kind, id)
	}
	return nil
}

// pinnedVersion is the version a conditional write must still find, as the
// store's ifVersion and GroupDelta.IfVersion take it: 0 (any) without
// If-Match or with "*"; the version a single tag names; otherwise the
// current version, read with current, if t.IfMatch names it, and
// EPRECONDITION if not.
func pinnedVersion(t Target, kind string, current func() (int64, error)) (int64, error) {
	m := t.IfMatch
	if m == nil || m.Any {
		return 0, nil
	}
	if len(m.Tags) == 1 {
		if v, err := strconv.ParseInt(strings.Trim(m.Tags[0], `"`), 10, 64); err == nil && v > 0 {
			return v, nil
		}
	}
	v, err := current()
	if err != nil {
		return 0, err
	}
	if err := checkIfMatch(m, kind, t.ID, v); err != nil {
		return 0, err
	}
	return v, nil
}

// staleIsPrecondition turns the ESTALE of a write pinned to a version the
// client named into its EPRECONDITION.
func staleIsPrecondition(err error, pinned bool, kind, id string) error {
	if pinned && ErrorCode(err) == ESTALE {
		return preconditionFailed(kind, id)
	}
	return err
}
