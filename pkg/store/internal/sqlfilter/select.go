package sqlfilter

import (
	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/kacescim/kacescim/pkg/scim"
)

// Selection is the SQL of one FindUsers or FindGroups query: the
// condition, the order, and the arguments of both, the condition's first.
type Selection struct {
	d      Dialect
	ref    string // what the columns are qualified with
	from   string
	where  string
	nWhere int // how many of args the condition binds
	order  string
	args   *Args
	// Limit and Offset are the page: at most Limit rows after the first
	// Offset.
	Limit, Offset int
}

// Select translates q for the provider's resources: its filter over
// filters (all of them for a nil one), its order over sorts (the schema
// without q's extensions, which sorts by their attributes as declared
// strings), and its page.
func Select(d Dialect, filters, sorts *Schema, providerID string, q directory.Query) (*Selection, error) {
	args := &Args{d: d}
	where := filters.Ref + ".provider_id = " + args.Bind(providerID)
	if q.Filter != nil {
		if err := scim.CheckFilterLimits(q.Filter); err != nil {
			se, _ := scim.AsError(err)
			return nil, directory.Errorf(directory.ETOOMANY, "%s", se.Detail)
		}
		t := &translator{s: filters, d: d, args: args}
		cond, err := t.expr(q.Filter, nil)
		if err != nil {
			return nil, err
		}
		where += " AND " + cond
	}
	sel := &Selection{d: d, ref: filters.Ref, from: filters.from(), where: where, nWhere: len(args.list), args: args}
	sel.Limit, sel.Offset = Page(q.StartIndex, q.Count)
	order, err := sorts.orderBy(d, args, q)
	if err != nil {
		return nil, err
	}
	sel.order = order
	return sel, nil
}

// Count counts the rows the condition selects; its arguments are
// WhereArgs.
func (s *Selection) Count() string {
	return "SELECT count(*) FROM " + s.from + " WHERE " + s.where
}

// WhereArgs are the arguments of the condition.
func (s *Selection) WhereArgs() []any { return s.args.list[:s.nWhere] }

// Page reads one page of columns of the rows the condition selects, in
// order; its arguments are PageArgs.
func (s *Selection) Page(columns string) string {
	n := len(s.args.list)
	return "SELECT " + columns + " FROM " + s.from + " WHERE " + s.where + " ORDER BY " + s.order +
		" LIMIT " + s.d.Placeholder(n+1) + " OFFSET " + s.d.Placeholder(n+2)
}

// PageBySeq is Page as a deferred join: the page's seqs are chosen first,
// from the index alone, and only the rows of the page are read. A page
// deep in a large list skips its offset over index entries rather than
// over rows (half the time at an offset of 200k in SQLite). Its
// arguments are PageBySeqArgs.
func (s *Selection) PageBySeq(columns string) string {
	n := len(s.args.list)
	return "SELECT " + columns + " FROM " + s.from + " WHERE " + s.ref + ".seq IN (SELECT " + s.ref + ".seq FROM " + s.from +
		" WHERE " + s.where + " ORDER BY " + s.order + " LIMIT " + s.d.Placeholder(n+1) + " OFFSET " + s.d.Placeholder(n+2) +
		") ORDER BY " + s.order
}

// PageBySeqArgs are the arguments of PageBySeq: Page's, then the order's
// again for the outer ORDER BY, as a dialect with positional placeholders
// (SQLite's "?") binds them; a numbered dialect would use Page's alone.
func (s *Selection) PageBySeqArgs() []any {
	return append(s.PageArgs(), s.args.list[s.nWhere:]...)
}

// PageArgs are the arguments of Page.
func (s *Selection) PageArgs() []any {
	return append(append([]any(nil), s.args.list...), s.Limit, s.Offset)
}

// Page is the LIMIT and OFFSET of the page of at most count rows from the
// startIndex-th, counted from 1 (RFC 7644 §3.4.2.4: a startIndex below 1 is
// 1, a negative count is 0).
func Page(startIndex, count int) (limit, offset int) {
	return max(count, 0), max(startIndex, 1) - 1
}
