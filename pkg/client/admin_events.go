package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/kacescim/kacescim/pkg/adminapi"
)

// EventQuery selects events of the change feed; the zero value selects
// the newest 100 of every provider.
type EventQuery struct {
	// After is the cursor to read on from (0: the oldest kept); nil
	// asks for the newest Limit events instead.
	After    *int64
	Provider string // a provider's name; "" for every provider
	User     string // a directory user's email or SCIM id; "" for all
	Limit    int    // 0 for the server's default (100)
}

// Events returns the events q selects, oldest first, with the cursor to
// read on from and the feed's newest. A cursor the feed has pruned is an
// *Error with Code "gone": resync, then follow from a new cursor.
func (a *Admin) Events(ctx context.Context, q EventQuery) (*adminapi.EventList, error) {
	v := url.Values{}
	if q.After != nil {
		v.Set("after", strconv.FormatInt(*q.After, 10))
	}
	if q.Provider != "" {
		v.Set("provider", q.Provider)
	}
	if q.User != "" {
		v.Set("user", q.User)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var list adminapi.EventList
	if err := a.callQuery(ctx, http.MethodGet, "/events", nil, v, nil, &list); err != nil {
		return nil, err
	}
	return &list, nil
}

// Snapshot returns the directory users and groups of provider ("" for
// every provider) as of the feed cursor it gives: what to read after a
// cursor is gone, before following the feed again from that cursor.
func (a *Admin) Snapshot(ctx context.Context, provider string) (*adminapi.Snapshot, error) {
	v := url.Values{}
	if provider != "" {
		v.Set("provider", provider)
	}
	var snap adminapi.Snapshot
	if err := a.callQuery(ctx, http.MethodGet, "/snapshot", nil, v, nil, &snap); err != nil {
		return nil, err
	}
	return &snap, nil
}
