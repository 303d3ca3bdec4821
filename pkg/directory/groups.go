package directory

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/scim"
)

// Group is a SCIM Group a provider owns. Resource holds the attributes the
// identity provider wrote except id, meta and members, which the store keeps
// as rows.
type Group struct {
	ProviderID   string
	ID           string
	DisplayName  string
	ExternalID   string
	Resource     map[string]any
	Members      []Member
	Created      time.Time
	LastModified time.Time
	Version      int64
}

// Member is one member of a group: the SCIM id of a user of the same
// provider, and the display text the identity provider sent with it.
type Member struct {
	Value   string
	Display string
}

// GroupDelta is a change to a group expressed as what changes, not as the
// whole new group: the shape of Okta's and Entra's membership PATCHes.
type GroupDelta struct {
	DisplayName   string // "" leaves the name as it is
	AddMembers    []Member
	RemoveMembers []string // user ids
	LastModified  time.Time
	// IfVersion, when not 0, applies the delta only if the group's Version
	// is still IfVersion, checked in the delta's own transaction: ESTALE
	// otherwise, and nothing is written. It carries an If-Match
	// precondition (RFC 7644 §3.14) down to the store.
	IfVersion int64
}

// groupType is the Group resource type. It is the same for every
// provider: mappings only extend users.
var groupType = scim.GroupResourceType()

// CreateGroup creates a group of p from a SCIM Group body, with its
// members (users of p: EINVALID naming one that is not). ECONFLICT if p
// already has the displayName.
func (s *Service) CreateGroup(ctx context.Context, p *Provider, body map[string]any) (*Group, error) {
	doc, err := scim.Normalize(groupType, body, p.Dialect())
	if err != nil {
		return nil, err
	}
	now := s.Now()
	g := &Group{ProviderID: p.ID, ID: newResourceID(), Created: now, LastModified: now}
	if err := groupFromDoc(g, doc); err != nil {
		return nil, err
	}
	if err := s.Store.CreateGroup(ctx, g); err != nil {
		return nil, err
	}
	return g, nil
}

// FindGroup returns p's group id, with its members only if withMembers
// (a group of 100,000 members then costs what an empty one does);
// ENOTFOUND naming it.
func (s *Service) FindGroup(ctx context.Context, p *Provider, id string, withMembers bool) (*Group, error) {
	g, err := s.Store.FindGroupByID(ctx, p.ID, id, withMembers)
	return g, notFound(err, "Group", id)
}

// FindGroups returns one page of p's groups and the number that match q.
func (s *Service) FindGroups(ctx context.Context, p *Provider, q Query) ([]*Group, int, error) {
	return s.Store.FindGroups(ctx, p.ID, q)
}

// ReplaceGroup replaces the group t names, its members included, with a
// SCIM Group body (PUT). Members' type and $ref may be restated, not
// changed.
func (s *Service) ReplaceGroup(ctx context.Context, t Target, body map[string]any) (*Group, error) {
	doc, err := scim.Normalize(groupType, body, t.Provider.Dialect())
	if err != nil {
		return nil, err
	}
	return s.updateGroup(ctx, t, func(g *Group) error {
		d := scim.CopyMap(doc)
		if err := scim.KeepImmutable(groupType, groupDoc(g, t.Base), d); err != nil {
			return err
		}
		return groupFromDoc(g, d)
	})
}

// PatchGroup applies a SCIM PATCH to the group t names: all its
// operations or none. The group returned has its members when
// withMembers.
//
// Membership pushes and renames, the PATCHes identity providers send most
// (scim.AsMembershipDelta recognises them), touch only the members they
// name, so they cost the same in a group of ten members and of a hundred
// thousand; any other PATCH is applied to the whole group.
func (s *Service) PatchGroup(ctx context.Context, t Target, req *scim.PatchRequest, withMembers bool) (*Group, error) {
	opts := t.Provider.Dialect()
	d, ok := scim.AsMembershipDelta(req.Operations, opts)
	if !ok {
		return s.updateGroup(ctx, t, func(g *Group) error {
			doc, err := scim.ApplyPatch(groupType, groupDoc(g, t.Base), req.Operations, opts)
			if err != nil {
				return err
			}
			return groupFromDoc(g, doc)
		})
	}
	// If-Match pins the version the delta's own statement requires.
	delta := groupDelta(d, s.Now())
	if err := checkDelta(delta); err != nil {
		return nil, err
	}
	var err error
	if delta.IfVersion, err = pinnedVersion(t, "Group", s.groupVersion(ctx, t)); err != nil {
		return nil, err
	}
	g, err := s.Store.ApplyGroupDelta(ctx, t.Provider.ID, t.ID, delta)
	if err != nil {
		return nil, notFound(staleIsPrecondition(err, delta.IfVersion != 0, "Group", t.ID), "Group", t.ID)
	}
	if withMembers {
		// The delta's statement returns the group without its members.
		return s.FindGroup(ctx, t.Provider, t.ID, true)
	}
	return g, nil
}

// DeleteGroup removes the group t names and its memberships.
func (s *Service) DeleteGroup(ctx context.Context, t Target) error {
	version, err := pinnedVersion(t, "Group", s.groupVersion(ctx, t))
	if err != nil {
		return err
	}
	err = s.Store.DeleteGroup(ctx, t.Provider.ID, t.ID, version)
	return notFound(staleIsPrecondition(err, version != 0, "Group", t.ID), "Group", t.ID)
}

// groupVersion returns a reader of the current version of the group t
// names (without its members), for pinnedVersion.
func (s *Service) groupVersion(ctx context.Context, t Target) func() (int64, error) {
	return func() (int64, error) {
		g, err := s.FindGroup(ctx, t.Provider, t.ID, false)
		if err != nil {
			return 0, err
		}
		return g.Version, nil
	}
}

// updateGroup is updateUser for groups, If-Match included.
func (s *Service) updateGroup(ctx context.Context, t Target, change func(g *Group) error) (*Group, error) {
	pinned := t.IfMatch != nil && !t.IfMatch.Any
	g, err := readModifyWrite(
		func() (*Group, error) { return s.Store.FindGroupByID(ctx, t.Provider.ID, t.ID, true) },
		func(g *Group) error {
			if err := checkIfMatch(t.IfMatch, "Group", t.ID, g.Version); err != nil {
				return err
			}
			if err := change(g); err != nil {
				return err
			}
			g.LastModified = s.Now()
			return nil
		},
		func(g *Group) error {
			return staleIsPrecondition(s.Store.UpdateGroup(ctx, g), pinned, "Group", t.ID)
		})
	return g, notFound(err, "Group", t.ID)
}

// groupFromDoc validates a normalized Group document and fills g from it:
// the indexed fields, the members (users of the same provider; the store
// checks that they exist) and the rest of the resource.
func groupFromDoc(g *Group, doc map[string]any) error {
	name, _ := doc["displayName"].(string)
	if name == "" {
		return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "displayName is required and must be a non-empty string")
	}
	if err := scim.CheckContent(doc); err != nil {
		return err
	}
	g.DisplayName = name
	g.ExternalID, _ = doc["externalId"].(string)
	members, _ := doc["members"].([]any)
	g.Members = make([]Member, 0, len(members))
	for _, m := range members {
		mm, _ := m.(map[string]any)
		value, _ := mm["value"].(string)
		if value == "" {
			return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "every member needs a value: the id of a user")
		}
		if t, _ := mm["type"].(string); t != "" && !strings.EqualFold(t, "User") {
			return scim.Errorf(http.StatusBadRequest, scim.TypeInvalidValue, "member %q has type %q: only users can be members of a group", value, t)
		}
		display, _ := mm["display"].(string)
		g.Members = append(g.Members, Member{Value: value, Display: display})
	}
	delete(doc, "members")
	delete(doc, "externalId")
	g.Resource = doc
	return nil
}

// groupDoc is the document a PATCH applies to, and the one a PUT replaces.
// Members carry their type and $ref as a GET shows them (base is the SCIM
// base URL): both are immutable, set for every member, and a PATCH or PUT
// may restate but not change them.
func groupDoc(g *Group, base string) map[string]any {
	doc := scim.CopyMap(g.Resource)
	if g.ExternalID != "" {
		doc["externalId"] = g.ExternalID
	}
	if len(g.Members) > 0 {
		members := make([]any, len(g.Members))
		for i, m := range g.Members {
			members[i] = m.Doc(base)
		}
		doc["members"] = members
	}
	return doc
}

// Doc is the member as a SCIM Group holds it, with base the SCIM base
// URL: only users are members, so its type is User and its $ref the
// user's location.
func (m Member) Doc(base string) map[string]any {
	mm := map[string]any{"value": m.Value, "$ref": base + "/Users/" + m.Value, "type": "User"}
	if m.Display != "" {
		mm["display"] = m.Display
	}
	return mm
}

func groupDelta(d *scim.MembershipDelta, now time.Time) GroupDelta {
	out := GroupDelta{DisplayName: d.DisplayName, RemoveMembers: d.Remove, LastModified: now}
	for _, m := range d.Add {
		out.AddMembers = append(out.AddMembers, Member{Value: m.Value, Display: m.Display})
	}
	return out
}

// checkDelta applies the content policy (scim.CheckContent) to what a
// membership delta writes: the new name and the members' values.
func checkDelta(d GroupDelta) error {
	if d.DisplayName != "" {
		if err := scim.CheckString("displayName", d.DisplayName, true); err != nil {
			return err
		}
	}
	for _, m := range d.AddMembers {
		if err := scim.CheckString("members.value", m.Value, true); err != nil {
			return err
		}
		if err := scim.CheckString("members.display", m.Display, false); err != nil {
			return err
		}
	}
	for _, id := range d.RemoveMembers {
		if err := scim.CheckString("members.value", id, true); err != nil {
			return err
		}
	}
	return nil
}
