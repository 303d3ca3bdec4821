package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestProviderSetFlags checks that `provider set` passes on exactly the
// flags given, so that an unset flag never resets a setting.
func TestProviderSetFlags(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		strict    *bool
		rateLimit *float64
	}{
		{[]string{"Okta", "--strict"}, ptr(true), nil},
		{[]string{"Okta", "--strict=false"}, ptr(false), nil},
		{[]string{"Okta", "--rate-limit", "0"}, nil, ptr(0.0)},
		{[]string{"Okta", "--rate-limit=2.5", "--strict=true"}, ptr(true), ptr(2.5)},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			g := &globalOptions{IO: TestIO(strings.NewReader(""), &out, &errb), Now: time.Now, Version: "test"}
			var got *providerSetOptions
			cmd := NewCmdProviderSet(g, func(_ context.Context, o *providerSetOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			if err := cmd.Execute(); err != nil {
				t.Fatal(err)
			}
			if got.Name != "Okta" || !equalPtr(got.Strict, tc.strict) || !equalPtr(got.RateLimit, tc.rateLimit) {
				t.Fatalf("options: name %q, strict %v, rate limit %v", got.Name, deref(got.Strict), deref(got.RateLimit))
			}
		})
	}
}

func equalPtr[T comparable](a, b *T) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// deref shows *p, or nil.
func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
