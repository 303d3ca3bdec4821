package directory

import (
	"context"
	"time"
)

// Service is the directory's behaviour over a Store: providers and their
// keys, custom fields and mappings, the SCIM users and groups with their
// rules, the directory entries and the provisioning log. pkg/server is its
// HTTP face and calls nothing else. It holds no global state; Now is
// injected so that tests of "most recent sync" are exact.
type Service struct {
	Store Store
	Now   func() time.Time
	// TokenLifetime is how long the access tokens of the token endpoint
	// live (DefaultTokenLifetime when 0).
	TokenLifetime time.Duration
	// JWT verifies the JWTs of workload identity federation
	// (federation.go); nil refuses them.
	JWT JWTVerifier

	mappers *mapperMemo // nil in a Service built by hand: no memo
	// logs queues the provisioning log (logbuffer.go); nil in a Service
	// built by hand, which writes each entry at once.
	logs *logBuffer
	// auth remembers the providers keys authenticated lately
	// (authcache.go); nil in a Service built by hand.
	auth *authMemo
	// providerMappers remembers each provider's Mapper (mappermemo.go);
	// nil in a Service built by hand and over a store replicas share.
	providerMappers *providerMappers
}

// NewService returns a Service over store with the real clock.
func NewService(store Store) *Service {
	s := &Service{Store: store, Now: func() time.Time { return time.Now().UTC() }, mappers: newMapperMemo(), logs: newLogBuffer(store)}
	// Replicas sharing a database must see a disabled or rotated key at
	// once: only a store no other process writes lets Authenticate
	// remember keys.
	if sh, ok := store.(interface{ SharedByReplicas() bool }); !ok || !sh.SharedByReplicas() {
		s.auth = newAuthMemo()
		s.providerMappers = newProviderMappers()
	}
	return s
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// Ping checks that the store answers, for readiness probes.
func (s *Service) Ping(ctx context.Context) error { return s.Store.Ping(ctx) }

// OnLogError tells f about provisioning-log entries that could not be
// written after their requests were answered (a full disk, say): the
// server logs them. Call it before the service is used.
func (s *Service) OnLogError(f func(error)) {
	if s.logs != nil {
		s.logs.onError.Store(&f)
	}
}

// Close writes the provisioning-log entries still queued and closes the
// store.
func (s *Service) Close() error {
	if s.logs != nil {
		s.logs.close()
	}
	return s.Store.Close()
}
