package server

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/kacescim/kacescim/pkg/scim"
)

// Bounded text. What a client sends reaches the provisioning log and the
// error answers only cut to a bound, with the cut marked, and with the
// credentials a query may carry (a key sent as ?access_token=) replaced.
const (
	// maxLogText bounds the URI and the error detail a provisioning-log
	// entry keeps.
	maxLogText = 2 << 10
	// maxErrorDetail bounds the detail of a SCIM error answer.
	maxErrorDetail = 1 << 10
)

// sensitiveParams are the query parameters whose values are credentials.
var sensitiveParams = map[string]bool{
	"access_token": true, "token": true, "key": true, "api_key": true, "apikey": true,
	"password": true, "secret": true, "client_secret": true, "authorization": true, "code": true,
}

// logURI is u's path and query as the provisioning log keeps it: the
// values of credential parameters replaced by REDACTED, cut to max bytes.
func logURI(u *url.URL, max int) string {
	uri := u.EscapedPath()
	if u.RawQuery != "" {
		parts := strings.Split(u.RawQuery, "&")
		for i, part := range parts {
			name, _, hasValue := strings.Cut(part, "=")
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
			if hasValue && sensitiveParams[strings.ToLower(name)] {
				parts[i] = part[:strings.IndexByte(part, '=')+1] + "REDACTED"
			}
		}
		uri += "?" + strings.Join(parts, "&")
	}
	return clipText(uri, max)
}

// clipText is s cut to at most max bytes (at a rune boundary) with a
// marker saying how much was cut, or s itself when it fits.
func clipText(s string, max int) string {
	if len(s) <= max {
		return s
	}
	marker := fmt.Sprintf("…[%d bytes cut]", len(s)-max)
	return scim.CutRunes(s, max-len(marker)) + marker
}
