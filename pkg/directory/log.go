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
	// KeyID is the security key that authenticated the request; the log
	// does not keep it, it moves the key's LastUsed.
	KeyID string
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

// LogRetention is what the provisioning log keeps: entries younger than
// MaxAge, at most MaxEntries of them, and at most MaxBytes of them as
// LogEntrySize counts (0: no bound of that kind).
type LogRetention struct {
	MaxAge     time.Duration
	MaxEntries int
	MaxBytes   int64
}

// LogLimits is a LogRetention at a moment: the store deletes the entries
// older than Before, then the oldest until at most MaxEntries remain and
// the sizes of those that remain add up to MaxBytes at most.
type LogLimits struct {
	Before     time.Time
	MaxEntries int
	MaxBytes   int64
}

// LogEntryOverhead is what LogEntrySize adds to an entry's text for its
// numbers, its row and its index entries: about what a store spends.
const LogEntryOverhead = 64

// LogEntrySize is the size that a LogRetention's MaxBytes counts: the
// bytes of the entry's text plus LogEntryOverhead. The stores compute
// the same figure in SQL.
func LogEntrySize(e *LogEntry) int64 {
	return int64(LogEntryOverhead + len(e.RequestID) + len(e.Method) + len(e.Path) + len(e.ResourceID) + len(e.Error) + len(e.ClientIP))
}

// PruneLog deletes the entries beyond r, the oldest first, and returns how
// many it deleted.
func (s *Service) PruneLog(ctx context.Context, r LogRetention) (int, error) {
	if err := s.FlushLog(ctx); err != nil {
		return 0, err
	}
	l := LogLimits{MaxEntries: r.MaxEntries, MaxBytes: r.MaxBytes}
	if r.MaxAge > 0 {
		l.Before = s.Now().Add(-r.MaxAge)
	}
	return s.Store.PruneLog(ctx, l)
}
