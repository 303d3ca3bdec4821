package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kacescim/kacescim/pkg/adminapi"
)

// LogQuery selects provisioning-log entries; the zero value selects the
// newest 100 of every provider.
type LogQuery struct {
	Provider string // "" for every provider and the requests no key matched
	// Since is an RFC 3339 time, or a duration such as 1h meaning that long
	// before the server's clock (not the caller's); "" for no lower bound.
	Since      string
	AfterID    int64 // only entries with a greater ID: what a follower has seen
	FailedOnly bool  // only status 400 and above
	Limit      int   // keep the newest Limit; 0 for the server's default
}

// Logs returns the newest provisioning-log entries that match q, oldest
// first.
func (a *Admin) Logs(ctx context.Context, q LogQuery) ([]adminapi.LogEntry, error) {
	v := url.Values{}
	if q.Provider != "" {
		v.Set("provider", q.Provider)
	}
	if q.Since != "" {
		v.Set("since", q.Since)
	}
	if q.AfterID > 0 {
		v.Set("after", strconv.FormatInt(q.AfterID, 10))
	}
	if q.FailedOnly {
		v.Set("failed", "true")
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var list adminapi.LogList
	if err := a.callQuery(ctx, http.MethodGet, "/logs", nil, v, nil, &list); err != nil {
		return nil, err
	}
	return list.Entries, nil
}
