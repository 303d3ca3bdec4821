package conformance

import (
	"context"
	"net/http"
	"time"
)

// Sleep waits for d, or until ctx is done, whose error it then returns:
// the pause of a Runscope step, as RunRunscope takes it unless
// RunscopeOptions.Pause says otherwise.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ownTransport returns rt, or when it is nil a clone of
// http.DefaultTransport that the caller owns (and closes the idle
// connections of when done).
func ownTransport(rt http.RoundTripper) (http.RoundTripper, bool) {
	if rt != nil {
		return rt, false
	}
	return http.DefaultTransport.(*http.Transport).Clone(), true
}

// headerTransport sends every request with header's values replacing the
// request's own.
type headerTransport struct {
	base   http.RoundTripper
	header http.Header
}

func (t *headerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	for name, values := range t.header {
		switch name {
		case "Host":
			req.Host = values[0]
		case "Content-Length":
			// The transport computes it from the body.
		default:
			req.Header[name] = values
		}
	}
	return t.base.RoundTrip(req)
}
