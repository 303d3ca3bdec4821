package conformance

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// A Redactor hides secrets (keys, tokens, Authorization values) in text
// that is shown or written: reports, notes, errors. Each secret is hidden
// as written, as it would appear in a URL or a quoted string, and, for
// "Bearer <token>" or "SSWS <token>", the token alone too. The runners
// make one for their key; a command adds what it knows of (an admin
// token) and passes everything it prints through the same one. The zero
// value hides nothing.
type Redactor struct {
	secrets []string
	// urlForm, when set, is one more form of a secret: how the client
	// writes it into a request URL.
	urlForm func(string) string
}

// minSecret is the shortest string redacted: shorter ones would mangle
// the report and protect nothing.
const minSecret = 4

// NewRedactor returns a Redactor hiding secrets; blank and very short
// ones (under 4 characters) are ignored.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

func newRedactor(urlForm func(string) string, auths ...string) Redactor {
	r := Redactor{urlForm: urlForm}
	r.Add(auths...)
	return r
}

// Add hides more secrets.
func (r *Redactor) Add(secrets ...string) {
	add := func(s string) {
		s = strings.TrimSpace(s)
		if len(s) < minSecret {
			return
		}
		// As written, and as it would appear in a URL or a quoted string.
		quoted := strconv.Quote(s)
		forms := []string{s, url.PathEscape(s), url.QueryEscape(s), quoted[1 : len(quoted)-1]}
		if r.urlForm != nil {
			forms = append(forms, r.urlForm(s))
		}
		for _, v := range forms {
			if !slices.Contains(r.secrets, v) {
				r.secrets = append(r.secrets, v)
			}
		}
	}
	for _, a := range secrets {
		add(a)
		// "Bearer <token>", "SSWS <token>": the token alone may show up too.
		if _, tok, ok := strings.Cut(strings.TrimSpace(a), " "); ok {
			add(tok)
		}
	}
	// Longest first, so that a whole header value goes before its token.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
}

// Redact returns s with every secret replaced by [REDACTED].
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
	}
	return s
}

func (t *Transcript) redact(r *Redactor) {
	t.Request = r.Redact(t.Request)
	t.RequestBody = r.Redact(t.RequestBody)
	t.Response = r.Redact(t.Response)
	for i := range t.RequestHeaders {
		t.RequestHeaders[i] = r.Redact(t.RequestHeaders[i])
	}
	for i := range t.ResponseHeaders {
		t.ResponseHeaders[i] = r.Redact(t.ResponseHeaders[i])
	}
}
