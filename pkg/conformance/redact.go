package conformance

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// droppedHeaders are never written: credentials, and what the transport
// sets for itself.
var droppedHeaders = []string{
	"Authorization", "Proxy-Authorization", "Cookie", "Host", "Content-Length", "Connection",
	"Keep-Alive", "Transfer-Encoding", "Te", "Trailer", "Upgrade", "Accept-Encoding",
	"Proxy-Connection", "Forwarded", "Via", "Expect",
}

// secretHeaderName matches the names of headers that carry credentials.
var secretHeaderName = regexp.MustCompile(`(?i)token|secret|key|auth|session|cookie|passw|signature|credential|^x-forwarded|^x-real-ip`)

// tokenLike matches values that look like a credential: a scheme and a
// token, or a long run of token characters mixing letters and digits.
var (
	schemeToken = regexp.MustCompile(`(?i)^(bearer|basic|token|ssws|digest|negotiate|apikey)\s+\S+`)
	tokenChars  = regexp.MustCompile(`[A-Za-z0-9_\-.~+/=]{20,}`)
)

func looksLikeToken(v string) bool {
	if schemeToken.MatchString(strings.TrimSpace(v)) {
		return true
	}
	for _, run := range tokenChars.FindAllString(v, -1) {
		if strings.ContainsAny(run, "0123456789") && strings.IndexFunc(run, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }) >= 0 {
			return true
		}
	}
	return false
}

// isPasswordAttr reports whether a key or PATCH path names a password.
func isPasswordAttr(a string) bool {
	a = strings.ToLower(a)
	if i := strings.LastIndex(a, ":"); i >= 0 {
		a = a[i+1:]
	}
	return a == "password"
}

// redactPasswords replaces every password in a decoded body by the
// placeholder: keys named password, and the values of PATCH operations on
// the password path. attr is the key v is under.
func redactPasswords(v any, attr string) any {
	switch x := v.(type) {
	case string:
		if isPasswordAttr(attr) {
			return PasswordPlaceholder
		}
		return x
	case []any:
		out := make([]any, len(x))
		for k, e := range x {
			out[k] = redactPasswords(e, attr)
		}
		return out
	case jsonObject:
		var opPath string
		for _, m := range x {
			if strings.EqualFold(m.Key, "path") {
				opPath, _ = m.Value.(string)
			}
		}
		out := make(jsonObject, len(x))
		for k, m := range x {
			key := m.Key
			if strings.EqualFold(key, "value") && isPasswordAttr(opPath) {
				key = "password"
			}
			if isPasswordAttr(key) {
				out[k] = jsonMember{Key: m.Key, Value: PasswordPlaceholder}
				continue
			}
			out[k] = jsonMember{Key: m.Key, Value: redactPasswords(m.Value, m.Key)}
		}
		return out
	}
	if isPasswordAttr(attr) && v != nil {
		return PasswordPlaceholder
	}
	return v
}

// rawPassword finds "password": "..." and password=... in a body that is
// not valid JSON.
var rawPassword = regexp.MustCompile(`(?i)("password"\s*:\s*")((?:[^"\\]|\\.)*)(")|(password=)([^&\s]*)()`)

func redactRawPasswords(s string) string {
	return rawPassword.ReplaceAllString(s, "${1}${4}"+PasswordPlaceholder+"${3}${6}")
}

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
