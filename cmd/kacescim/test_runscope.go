package main

import (
	"context"
	"time"

	"github.com/kacescim/kacescim/pkg/client"
	"github.com/kacescim/kacescim/pkg/conformance"
)

// runRunscope replays the export and reports it as a Result.
func (r *testRun) runRunscope(ctx context.Context, export *conformance.RunscopeExport, key string) *conformance.Result {
	auth := "Bearer " + key
	if r.AuthHeader {
		auth = key
	}
	scale := r.PauseScale
	if r.NoPause {
		scale = 0
	}
	rep := conformance.RunRunscope(ctx, export, conformance.RunscopeOptions{
		BaseURL:       r.base,
		Auth:          auth,
		Only:          r.Only,
		Skip:          r.Skip,
		Transport:     r.transport,
		ClientOptions: []client.Option{client.WithTimeout(r.Timeout), client.WithUserAgent(r.g.userAgent())},
		Pause: func(ctx context.Context, d time.Duration) error {
			return conformance.Sleep(ctx, time.Duration(float64(d)*scale))
		},
	})
	return &conformance.Result{Reports: []*conformance.Report{rep}}
}
