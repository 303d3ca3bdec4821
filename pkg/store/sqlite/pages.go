package sqlite

import (
	"slices"
	"sync"
)

// Deep pages without deep offsets. Identity providers import a directory
// by walking GET /Users?startIndex=1, 101, 201, … to the end, and an
// OFFSET of n skips n index entries: page k costs k, the walk of a million
// users costs their square. pageMarks remembers, for each provider's
// unfiltered list in creation order, where the pages served ended: "the
// users from offset o on are those with seq > s". The next page then
// starts from that seq with an offset of the few pages in between (the
// pages a walk's concurrent requests have not finished yet), whatever its
// depth.
//
// A mark holds while the provider's users_gen (0005) is the one it was
// taken at, which is read in the same snapshot as the page: a deletion
// bumps it in the deleting transaction and so voids every mark taken
// before; creates append at the end and move no offset. So a page read
// from a mark is exactly the page an OFFSET would give.

// maxMarksPerProvider bounds a provider's marks; past it, they start
// afresh (a walk leaves one mark a page).
const maxMarksPerProvider = 4096

// maxMarkProviders bounds the providers with marks.
const maxMarkProviders = 256

type pageMarks struct {
	mu sync.Mutex
	m  map[string]*providerMarks
}

// providerMarks are the marks of one provider at one users_gen, by
// offset.
type providerMarks struct {
	gen     int64
	offsets []int // sorted
	seqs    []int64
}

func newPageMarks() *pageMarks { return &pageMarks{m: map[string]*providerMarks{}} }

// from returns the mark nearest below offset for the provider at gen: the
// users from markOffset on are those with seq > afterSeq. Without one it
// returns 0, 0: the list from its start.
func (p *pageMarks) from(providerID string, gen int64, offset int) (markOffset int, afterSeq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pm := p.m[providerID]
	if pm == nil || pm.gen != gen {
		return 0, 0
	}
	i, found := slices.BinarySearch(pm.offsets, offset)
	if !found {
		i--
	}
	if i < 0 {
		return 0, 0
	}
	return pm.offsets[i], pm.seqs[i]
}

// mark records that, at gen, the users from offset on are those with
// seq > afterSeq.
func (p *pageMarks) mark(providerID string, gen int64, offset int, afterSeq int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pm := p.m[providerID]
	if pm == nil || pm.gen != gen || len(pm.offsets) >= maxMarksPerProvider {
		if pm == nil && len(p.m) >= maxMarkProviders {
			clear(p.m)
		}
		if pm != nil && pm.gen > gen {
			return // taken in an older snapshot than the marks kept
		}
		pm = &providerMarks{gen: gen}
		p.m[providerID] = pm
	}
	i, found := slices.BinarySearch(pm.offsets, offset)
	if found {
		return
	}
	pm.offsets = slices.Insert(pm.offsets, i, offset)
	pm.seqs = slices.Insert(pm.seqs, i, afterSeq)
}
