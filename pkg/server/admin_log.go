package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/kacescim/kacescim/pkg/adminapi"
	"github.com/kacescim/kacescim/pkg/directory"
)

func adminLogEntry(e *directory.LogEntry) adminapi.LogEntry {
	return adminapi.LogEntry{
		ID:         e.ID,
		Time:       e.Time.UTC(),
		Provider:   e.ProviderName,
		RequestID:  e.RequestID,
		ClientIP:   e.ClientIP,
		Method:     e.Method,
		Path:       e.Path,
		ResourceID: e.ResourceID,
		Status:     e.Status,
		LatencyMs:  float64(e.Latency) / float64(time.Millisecond),
		Error:      e.Error,
	}
}

func (s *Server) adminListLog(w http.ResponseWriter, r *http.Request) error {
	q, provider, err := s.logQuery(r)
	if err != nil {
		return err
	}
	infoFrom(r.Context()).provider = provider
	entries, err := s.dir.Log(r.Context(), provider, q)
	if err != nil {
		return err
	}
	list := adminapi.LogList{Entries: make([]adminapi.LogEntry, 0, len(entries))}
	for _, e := range entries {
		list.Entries = append(list.Entries, adminLogEntry(e))
	}
	return s.adminJSON(w, r, http.StatusOK, list)
}

// logQuery reads the query of GET /admin/v1/logs: provider, since (an RFC
// 3339 time, or a duration before the directory's clock), after (an entry
// id), failed=true|false and limit (default 100, at most 10,000: the
// newest that match).
func (s *Server) logQuery(r *http.Request) (directory.LogQuery, string, error) {
	v := r.URL.Query()
	q := directory.LogQuery{Limit: adminapi.DefaultLogLimit}
	if since := v.Get("since"); since != "" {
		t, err := adminapi.ParseSince(since, s.dir.Now())
		if err != nil {
			return q, "", directory.Errorf(directory.EINVALID, "since %v", err)
		}
		q.Since = t
	}
	if after := v.Get("after"); after != "" {
		id, err := strconv.ParseInt(after, 10, 64)
		if err != nil || id < 0 {
			return q, "", directory.Errorf(directory.EINVALID, "after must be a log entry id (0 or more), not %q", after)
		}
		q.AfterID = id
	}
	if failed := v.Get("failed"); failed != "" {
		b, err := strconv.ParseBool(failed)
		if err != nil {
			return q, "", directory.Errorf(directory.EINVALID, "failed must be true or false, not %q", failed)
		}
		q.FailedOnly = b
	}
	if limit := v.Get("limit"); limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 {
			return q, "", directory.Errorf(directory.EINVALID, "limit must be a whole number from 1 to %d, not %q", adminapi.MaxLogLimit, limit)
		}
		q.Limit = min(n, adminapi.MaxLogLimit)
	}
	return q, strings.TrimSpace(v.Get("provider")), nil
}
