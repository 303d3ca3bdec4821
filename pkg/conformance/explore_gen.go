package conformance

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
)

// The generator of --explore: random but valid sequences of the requests
// Okta and Entra ID send (docs/okta-traffic.md, docs/interop-quirks.md),
// as abstract operations that render into a scenario. The operations are
// a pure function of the seed and their number, whatever the server
// answers; rendering follows what each operation must have done, and drops
// an operation that is no longer valid (a shrunk sequence that lost the
// create of the user it changes), so that any subsequence of a sequence
// renders too.

// exploreKind is what an operation does.
type exploreKind int

const (
	exCreateUser exploreKind = iota
	exFindUser
	exGetUser
	exPutUser
	exActivate
	exPatchUser
	exDeleteUser
	exCreateGroup
	exFindGroup
	exAddMembers
	exRemoveMembers
	exReplaceMembers
	exRenameGroup
	exPutGroup
	exDeleteGroup
	exPage
)

// exploreOp is one generated operation. user and group name the
// resources by the order the generated sequence creates them (1, 2, ...);
// a shrunk sequence, which lost some creates, renumbers the rest when it
// renders. users are the members an operation adds, removes or sets. entra chooses Entra's
// shape of the request over Okta's where they differ.
type exploreOp struct {
	kind    exploreKind
	user    int
	group   int
	users   []int
	entra   bool
	attr    string // exPatchUser, exPutUser: the attribute changed
	value   string // its new value; a new name
	active  bool   // exActivate
	byExtID bool   // exFindUser: by externalId, as Entra looks users up
	remove  bool   // exPatchUser: remove attr instead of setting it
}

// exUser is what a user must hold, as the sequence so far made it.
type exUser struct {
	id                    int // the operations' name for it
	n                     int // its number in the rendered sequence
	entra                 bool
	deleted               bool
	userName, externalID  string
	displayName           string
	givenName, familyName string
	email, title, nick    string
	department            string
	active                bool
	// steps are the steps whose checks later steps about the user wait
	// on: its create, and its last write.
	create, last string
}

type exGroup struct {
	id, n       int
	deleted     bool
	displayName string
	members     []int
	create      string
	last        string
}

// exploreState is the state of the resources of a sequence, for
// generating valid operations and for rendering them.
type exploreState struct {
	users  []*exUser // in the order they were created
	groups []*exGroup
}

// user is the user of an operation, by its id.
func (s *exploreState) user(id int) *exUser {
	for _, u := range s.users {
		if u.id == id {
			return u
		}
	}
	return nil
}

func (s *exploreState) group(id int) *exGroup {
	for _, g := range s.groups {
		if g.id == id {
			return g
		}
	}
	return nil
}

// live returns the users (or groups) not deleted.
func (s *exploreState) liveUsers() []*exUser {
	var out []*exUser
	for _, u := range s.users {
		if !u.deleted {
			out = append(out, u)
		}
	}
	return out
}

func (s *exploreState) liveGroups() []*exGroup {
	var out []*exGroup
	for _, g := range s.groups {
		if !g.deleted {
			out = append(out, g)
		}
	}
	return out
}

// inGroup reports whether the user id is a member of a live group: such a user
// is not deleted (what a server does to the memberships of a deleted user
// is not the RFC's to say, so the model would not know).
func (s *exploreState) inGroup(id int) bool {
	for _, g := range s.liveGroups() {
		if slices.Contains(g.members, id) {
			return true
		}
	}
	return false
}

// The most users and groups a sequence keeps at once: enough for
// memberships to overlap, few enough for every one to be changed often.
const (
	exploreMaxUsers  = 8
	exploreMaxGroups = 4
)

// generateExplore returns n operations drawn from seed.
func generateExplore(seed uint64, n int) []exploreOp {
	rng := rand.New(rand.NewPCG(seed, seed^0x6b6163657363696d))
	st := &exploreState{}
	ops := make([]exploreOp, 0, n)
	for len(ops) < n {
		op, ok := st.draw(rng, len(ops)+1)
		if !ok || !st.valid(op) {
			continue
		}
		st.apply(op, "")
		ops = append(ops, op)
	}
	return ops
}

// weights of the operations, as often as identity providers send them:
// lookups and attribute changes most, deletes least.
var exploreWeights = []struct {
	kind   exploreKind
	weight int
}{
	{exCreateUser, 8}, {exFindUser, 8}, {exGetUser, 3}, {exPutUser, 5}, {exActivate, 5},
	{exPatchUser, 8}, {exDeleteUser, 3}, {exCreateGroup, 4}, {exFindGroup, 3},
	{exAddMembers, 8}, {exRemoveMembers, 5}, {exReplaceMembers, 3}, {exRenameGroup, 3},
	{exPutGroup, 2}, {exDeleteGroup, 1}, {exPage, 2},
}

// draw picks an operation; ok is false when the kind drawn has nothing
// to act on yet. seq numbers the operation, for new names.
func (s *exploreState) draw(rng *rand.Rand, seq int) (exploreOp, bool) {
	total := 0
	for _, w := range exploreWeights {
		total += w.weight
	}
	pick := rng.IntN(total)
	var kind exploreKind
	for _, w := range exploreWeights {
		if pick < w.weight {
			kind = w.kind
			break
		}
		pick -= w.weight
	}
	op := exploreOp{kind: kind, entra: rng.IntN(3) == 0}
	users, groups := s.liveUsers(), s.liveGroups()
	anyUser := func() (*exUser, bool) {
		if len(s.users) == 0 {
			return nil, false
		}
		return s.users[rng.IntN(len(s.users))], true
	}
	liveUser := func() (*exUser, bool) {
		if len(users) == 0 {
			return nil, false
		}
		return users[rng.IntN(len(users))], true
	}
	liveGroup := func() (*exGroup, bool) {
		if len(groups) == 0 {
			return nil, false
		}
		return groups[rng.IntN(len(groups))], true
	}
	someUsers := func(max int, keep func(*exUser) bool) []int {
		var pool []int
		for _, u := range users {
			if keep(u) {
				pool = append(pool, u.id)
			}
		}
		rng.Shuffle(len(pool), func(i, j int) { pool[i], pool[j] = pool[j], pool[i] })
		k := min(len(pool), 1+rng.IntN(max))
		out := slices.Clone(pool[:k])
		slices.Sort(out)
		return out
	}
	switch kind {
	case exCreateUser:
		if len(users) >= exploreMaxUsers {
			return op, false
		}
		op.user = len(s.users) + 1
	case exFindUser, exGetUser:
		u, ok := anyUser()
		if !ok {
			return op, false
		}
		op.user, op.byExtID = u.id, kind == exFindUser && rng.IntN(2) == 0
	case exPutUser, exPatchUser:
		u, ok := liveUser()
		if !ok {
			return op, false
		}
		op.user, op.entra = u.id, u.entra
		attrs := []string{"displayName", "title", "name.givenName", "name.familyName", "nickName", "emails"}
		if kind == exPutUser && !s.inGroup(u.id) {
			// A rename of a member would leave the display its groups
			// were pushed with behind, which a server may refresh.
			attrs = append(attrs, "userName")
		}
		if u.entra {
			attrs = append(attrs, "department")
		}
		op.attr = attrs[rng.IntN(len(attrs))]
		if kind == exPatchUser && (op.attr == "title" && u.title != "" || op.attr == "nickName" && u.nick != "") && rng.IntN(2) == 0 {
			op.remove = true
		}
		op.value = fmt.Sprintf("v%d", seq)
	case exActivate:
		u, ok := liveUser()
		if !ok {
			return op, false
		}
		op.user, op.active = u.id, !u.active
	case exDeleteUser:
		u, ok := liveUser()
		if !ok {
			return op, false
		}
		op.user = u.id
		// A member leaves its groups first, as an unassignment in Entra
		// does before the delete.
		for _, g := range groups {
			if slices.Contains(g.members, u.id) {
				op = exploreOp{kind: exRemoveMembers, group: g.id, users: []int{u.id}, entra: op.entra}
				break
			}
		}
	case exCreateGroup:
		if len(groups) >= exploreMaxGroups {
			return op, false
		}
		op.group = len(s.groups) + 1
		if len(users) > 0 && rng.IntN(2) == 0 {
			op.users = someUsers(3, func(*exUser) bool { return true })
		}
	case exFindGroup:
		if len(s.groups) == 0 {
			return op, false
		}
		op.group = s.groups[rng.IntN(len(s.groups))].id
	case exAddMembers, exRemoveMembers, exReplaceMembers, exRenameGroup, exPutGroup, exDeleteGroup:
		g, ok := liveGroup()
		if !ok {
			return op, false
		}
		op.group = g.id
		switch kind {
		case exAddMembers:
			op.users = someUsers(2, func(u *exUser) bool { return !slices.Contains(g.members, u.id) })
			if len(op.users) == 0 {
				return op, false
			}
		case exRemoveMembers:
			if len(g.members) == 0 {
				return op, false
			}
			op.users = []int{g.members[rng.IntN(len(g.members))]}
		case exReplaceMembers, exPutGroup:
			op.users = someUsers(3, func(*exUser) bool { return true })
			if rng.IntN(5) == 0 {
				op.users = nil // Okta's Push Now of a group left empty
			}
		case exRenameGroup:
			op.value = fmt.Sprintf("r%d", seq)
		}
	case exPage:
		op.group = rng.IntN(2) // 0: /Users, 1: /Groups
	}
	return op, true
}

// valid reports whether op can follow the sequence so far: what it acts
// on exists (or, for a lookup, existed), its members are live users.
func (s *exploreState) valid(op exploreOp) bool {
	liveUser := func(n int) bool { u := s.user(n); return u != nil && !u.deleted }
	switch op.kind {
	case exCreateUser:
		return s.user(op.user) == nil
	case exFindUser, exGetUser:
		return s.user(op.user) != nil
	case exPutUser, exPatchUser, exActivate:
		return liveUser(op.user)
	case exDeleteUser:
		return liveUser(op.user) && !s.inGroup(op.user)
	case exCreateGroup:
		if s.group(op.group) != nil {
			return false
		}
	case exFindGroup:
		return s.group(op.group) != nil
	case exAddMembers, exRemoveMembers, exReplaceMembers, exRenameGroup, exPutGroup, exDeleteGroup:
		g := s.group(op.group)
		if g == nil || g.deleted {
			return false
		}
		for _, n := range op.users {
			in := slices.Contains(g.members, n)
			if op.kind == exAddMembers && in || op.kind == exRemoveMembers && !in {
				return false
			}
		}
	}
	for _, n := range op.users {
		if !liveUser(n) {
			return false
		}
	}
	return true
}

// apply makes op's change to the state; step names the step that sent it.
func (s *exploreState) apply(op exploreOp, step string) {
	switch op.kind {
	case exCreateUser:
		s.users = append(s.users, newExUser(op, len(s.users)+1, step))
	case exPutUser, exPatchUser:
		u := s.user(op.user)
		u.set(op)
		u.last = step
	case exActivate:
		u := s.user(op.user)
		u.active, u.last = op.active, step
	case exDeleteUser:
		u := s.user(op.user)
		u.deleted, u.last = true, step
	case exCreateGroup:
		n := len(s.groups) + 1
		s.groups = append(s.groups, &exGroup{id: op.group, n: n, displayName: fmt.Sprintf("KCS-X%d-{{rand}}", n), members: slices.Clone(op.users), create: step, last: step})
	case exAddMembers:
		g := s.group(op.group)
		g.members, g.last = append(g.members, op.users...), step
	case exRemoveMembers:
		g := s.group(op.group)
		g.members = slices.DeleteFunc(g.members, func(n int) bool { return slices.Contains(op.users, n) })
		g.last = step
	case exReplaceMembers, exPutGroup:
		g := s.group(op.group)
		g.members, g.last = slices.Clone(op.users), step
	case exRenameGroup:
		g := s.group(op.group)
		g.displayName, g.last = fmt.Sprintf("KCS-X%d%s-{{rand}}", g.n, op.value), step
	case exDeleteGroup:
		g := s.group(op.group)
		g.deleted, g.last = true, step
	}
}

// newExUser is the user op creates, the n-th of the sequence.
func newExUser(op exploreOp, n int, step string) *exUser {
	u := &exUser{
		id: op.user, n: n, entra: op.entra, active: true,
		userName:    fmt.Sprintf("kcs-x%d-{{rand}}@example.com", n),
		externalID:  fmt.Sprintf("00ux%d{{rand}}", n),
		givenName:   fmt.Sprintf("Given%d", n),
		familyName:  "Explore{{rand}}",
		displayName: fmt.Sprintf("Given%d Explore{{rand}}", n),
		create:      step, last: step,
	}
	u.email = u.userName
	if op.entra {
		u.department, u.title = fmt.Sprintf("Dept%d", n), fmt.Sprintf("Title%d", n)
	}
	return u
}

// set makes the change of a PUT or an attribute PATCH.
func (u *exUser) set(op exploreOp) {
	v := op.value
	switch op.attr {
	case "displayName":
		u.displayName = fmt.Sprintf("Given%d %s Explore{{rand}}", u.n, v)
	case "title":
		u.title = "Title " + v
	case "name.givenName":
		u.givenName = fmt.Sprintf("Given%d%s", u.n, v)
	case "name.familyName":
		u.familyName = "Explore" + v + "{{rand}}"
	case "nickName":
		u.nick = "Nick" + v
	case "emails":
		u.email = fmt.Sprintf("kcs-x%d%s-{{rand}}@example.org", u.n, v)
	case "userName":
		u.userName = fmt.Sprintf("kcs-x%d%s-{{rand}}@example.com", u.n, v)
	case "department":
		u.department = "Dept " + v
	}
	if op.remove {
		switch op.attr {
		case "title":
			u.title = ""
		case "nickName":
			u.nick = ""
		}
	}
}

const (
	exploreEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	exploreCore       = "urn:ietf:params:scim:schemas:core:2.0:User"
	explorePatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	exploreGroupURN   = "urn:ietf:params:scim:schemas:core:2.0:Group"
)

// userVar and groupVar name the variables holding the ids.
func userVar(n int) string  { return fmt.Sprintf("u%dId", n) }
func groupVar(n int) string { return fmt.Sprintf("g%dId", n) }

// body is the user as Okta sends it on a create and echoes it on a PUT
// (with the id), or as Entra creates it.
func (u *exUser) body(withID bool) map[string]any {
	schemas := []any{exploreCore}
	if u.entra {
		schemas = append(schemas, exploreEnterprise)
	}
	b := map[string]any{
		"schemas":     schemas,
		"userName":    u.userName,
		"externalId":  u.externalID,
		"name":        map[string]any{"givenName": u.givenName, "familyName": u.familyName},
		"emails":      []any{map[string]any{"primary": true, "value": u.email, "type": "work"}},
		"displayName": u.displayName,
		"active":      u.active,
	}
	if withID {
		b["id"] = "{{" + userVar(u.n) + "}}"
	} else if !u.entra {
		b["password"] = "1mz050nq" // Okta sends one on create, never after
	}
	if u.title != "" {
		b["title"] = u.title
	}
	if u.nick != "" {
		b["nickName"] = u.nick
	}
	if u.entra {
		b[exploreEnterprise] = map[string]any{"department": u.department, "employeeNumber": fmt.Sprintf("E%d{{rand}}", u.n)}
	}
	return b
}

func exploreJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings, bools and slices always marshal
	}
	return b
}

func patchBody(ops ...map[string]any) json.RawMessage {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return exploreJSON(map[string]any{"schemas": []any{explorePatchOp}, "Operations": list})
}

// opName is the op value of a PATCH operation: Entra capitalises it
// (which needs a lenient server), Okta does not.
func opName(entra bool, op string) string {
	if entra {
		return strings.ToUpper(op[:1]) + op[1:]
	}
	return op
}

// members are the members users (ids), as Okta pushes them: the id and
// the userName.
func (s *exploreState) members(users []int) []any {
	out := []any{}
	for _, id := range users {
		out = append(out, map[string]any{"value": s.userRef(id), "display": s.user(id).userName})
	}
	return out
}

// memberValues are the members users (ids) as Entra sends them: the id
// alone.
func (s *exploreState) memberValues(users []int) []any {
	out := []any{}
	for _, id := range users {
		out = append(out, map[string]any{"value": s.userRef(id)})
	}
	return out
}

// userRef is the variable reference of the id of the user id.
func (s *exploreState) userRef(id int) string { return "{{" + userVar(s.user(id).n) + "}}" }
