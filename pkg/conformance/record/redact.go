package record

import (
	"regexp"
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
