package directory

import (
	"strings"
	"sync"
	"time"
)

// mapperMemo keeps compiled Mappers by what they were compiled from: a
// provider's optional mappings and the custom fields. Compiling parses
// every mapping's SCIM path, which costs far more than reading the
// mappings; the reads stay, so a mapping changed by another replica is
// seen at once, and only an unchanged set of mappings reuses a Mapper.
// Mappers are immutable once compiled, so one may serve many requests at
// a time.
type mapperMemo struct {
	mu sync.Mutex
	m  map[string]*Mapper
}

// maxMemoMappers bounds the memo: past it, the memo starts afresh. Each
// provider's mappings take one entry (a few more while they change).
const maxMemoMappers = 1024

func newMapperMemo() *mapperMemo { return &mapperMemo{m: map[string]*Mapper{}} }

// mapperKey identifies what a Mapper is compiled from. The custom fields
// count because a mapping's field resolves to its canonical spelling.
func mapperKey(optional []*Mapping, custom []*CustomField) string {
	var b strings.Builder
	for _, m := range optional {
		b.WriteString(m.SCIMPath)
		b.WriteByte(0)
		b.WriteString(m.Field)
		b.WriteByte(0)
	}
	b.WriteByte(1)
	for _, f := range custom {
		b.WriteString(f.Name)
		b.WriteByte(0)
	}
	return b.String()
}

// compile returns the Mapper for optional and custom, compiling it once.
// A nil memo compiles every time.
func (c *mapperMemo) compile(optional []*Mapping, custom []*CustomField) (*Mapper, error) {
	if c == nil {
		return NewMapper(optional, custom)
	}
	key := mapperKey(optional, custom)
	c.mu.Lock()
	m, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return m, nil
	}
	m, err := NewMapper(optional, custom)
	if err != nil {
		return nil, err // not kept: the error may name a field that will be created
	}
	c.mu.Lock()
	if len(c.m) >= maxMemoMappers {
		clear(c.m)
	}
	c.m[key] = m
	c.mu.Unlock()
	return m, nil
}

// providerMappers remembers each provider's Mapper for a second, so that
// a create or a PATCH does not read the provider's mappings (and the
// custom fields) from the store again. Like authMemo it is given only to
// a Service over a store no other process writes (SQLite); a change of
// mappings or custom fields made through the Service empties it at once,
// and a change written by another process is seen within mapperTTL.
// Replicas on PostgreSQL read the mappings on every write.
type providerMappers struct {
	mu  sync.Mutex
	m   map[string]providerMapper
	gen uint64 // bumped by forget, so that a read begun before it is not kept
}

type providerMapper struct {
	m  *Mapper
	at time.Time
}

// mapperTTL is how long a provider's Mapper is reused.
const mapperTTL = time.Second

func newProviderMappers() *providerMappers { return &providerMappers{m: map[string]providerMapper{}} }

// get returns the provider's Mapper if it was read less than mapperTTL
// ago, and the generation to put a fresh one with.
func (c *providerMappers) get(providerID string, now time.Time) (*Mapper, uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[providerID]
	if !ok || now.Sub(e.at) >= mapperTTL || now.Before(e.at) {
		return nil, c.gen
	}
	return e.m, c.gen
}

// put remembers m for the provider, unless forget ran since gen was read.
func (c *providerMappers) put(providerID string, m *Mapper, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.m) >= maxMemoMappers {
		clear(c.m)
	}
	c.m[providerID] = providerMapper{m: m, at: now}
}

// forget empties the memo: mappings or custom fields changed.
func (c *providerMappers) forget() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.m)
}
