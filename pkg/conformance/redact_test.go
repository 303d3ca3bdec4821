package conformance

import (
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	r := newRedactor(nil, "Bearer s3cr3t-token", "", "abc")
	got := r.Redact("sent Bearer s3cr3t-token; server echoed s3cr3t-token; abc is too short to matter")
	if strings.Contains(got, "s3cr3t") || !strings.Contains(got, "abc is") {
		t.Errorf("got %q", got)
	}
}
