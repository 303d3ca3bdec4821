package directory

import (
	"time"
)

// Service is the directory's behaviour over a Store: provider management
// and key handling (providers.go) and the SCIM resources (in pkg/server for
// the wire, here for the rules). It holds no global state; Now is injected so
// that tests of "most recent sync" are exact.
type Service struct {
	Store Store
	Now   func() time.Time

	mappers *mapperMemo // nil in a Service built by hand: no memo
}

// NewService returns a Service over store with the real clock.
func NewService(store Store) *Service {
	return &Service{Store: store, Now: func() time.Time { return time.Now().UTC() }, mappers: newMapperMemo()}
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }
