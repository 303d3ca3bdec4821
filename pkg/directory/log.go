package directory

import (
	"context"
	"time"
)

// LogEntry is one SCIM request in the provisioning log: the admin's answer
// to "what did Okta just do?". It never holds a body, a header or a key.
type LogEntry struct {
	ID           int64 // increasing; what `logs --follow` resumes from
	Time         time.Time
	ProviderID   string // "" when the key matched no provider
	ProviderName string // filled on reads
	RequestID    string
	Method       string
	Path         string // path and query, as sent
	ResourceID   string // the user or group the request named or created
	Status       int
	Latency      time.Duration
	Error        string // the SCIM error detail, for failed requests
	ClientIP     string // the address the request came from
}

// LogQuery selects log entries, oldest first.
type LogQuery struct {
	ProviderID string
	Since      time.Time // zero for no lower bound
	AfterID    int64     // entries with a greater ID only
	FailedOnly bool      // status >= 400
	// Limit keeps the newest Limit entries that match (0: a default of
	// 100, at most 10,000).
	Limit int
}

// Log returns provisioning-log entries, oldest first; providerName ""
// means every provider (and the requests no key matched).
func (s *Service) Log(ctx context.Context, providerName string, q LogQuery) ([]*LogEntry, error) {
	if providerName != "" {
		p, err := s.Provider(ctx, providerName)
		if err != nil {
			return nil, err
		}
		q.ProviderID = p.ID
	}
	if err := s.FlushLog(ctx); err != nil {
		return nil, err
	}
	return s.Store.FindLog(ctx, q)
}

// RecordRequest appends e to the provisioning log and, when it is a
// provider's successful request, moves the provider's most recent sync
// to e.Time. The entry is queued and written with the others of the
// moment (logbuffer.go): the request's answer need not wait for it, and
// e.ID is set only once it is written.
func (s *Service) RecordRequest(ctx context.Context, e *LogEntry) error {
	if s.logs == nil {
		return s.Store.RecordRequests(ctx, []*LogEntry{e})
	}
	return s.logs.add(ctx, e)
}

// FlushLog returns once the log entries recorded before it are written:
// what Log, the provider's synced counts and last sync then show holds
// them.
func (s *Service) FlushLog(ctx context.Context) error {
	if s.logs == nil {
		return nil
	}
	return s.logs.flush(ctx)
}

// PruneLog deletes the entries older than retention and, beyond them, the
// oldest until at most keep remain. It returns how many it deleted.
func (s *Service) PruneLog(ctx context.Context, retention time.Duration, keep int) (int, error) {
	if err := s.FlushLog(ctx); err != nil {
		return 0, err
	}
	return s.Store.PruneLog(ctx, s.Now().Add(-retention), keep)
}
