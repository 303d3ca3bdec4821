package server

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kacescim/kacescim/pkg/directory"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the server's Prometheus series, in a registry of its own
// (a process may run several servers: the tests do). Their labels hold
// provider names (which the administrator chose), route templates,
// methods and status classes: never a key, a user id, a userName or a
// client address, so that neither secrets nor user data reach a scrape and
// no client can grow the series without bound.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	authFails *prometheus.CounterVec
	limited   *prometheus.CounterVec
	paced     *prometheus.CounterVec
	webhooks  *prometheus.CounterVec
}

func newMetrics(st directory.Store) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kacescim_scim_requests_total",
			Help: "SCIM requests answered, by provider (\"\" when none authenticated), method, route template and status class.",
		}, []string{"provider", "method", "route", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "kacescim_scim_request_duration_seconds",
			Help:    "Time to answer a SCIM request, by method and route template.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		authFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kacescim_auth_failures_total",
			Help: "SCIM requests refused at authentication, by reason: missing (no Authorization header), invalid (no provider has that key), disabled (the provider is disabled), expired (the key expired or its rotation grace period ended).",
		}, []string{"reason"}),
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kacescim_rate_limited_total",
			Help: "SCIM requests answered 429, by limit: auth_failures (a client address's failed authentications) or provider (the provider's --rate-limit).",
		}, []string{"limit"}),
		paced: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kacescim_auth_failure_pace_total",
			Help: "Answers to failed authentications past the pace of --auth-failure-rate, by outcome: waited (held for their turn) or closed (answered at once with the connection closed: too many waiting, or a turn over 10 s away or past the request's deadline).",
		}, []string{"outcome"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kacescim_webhook_deliveries_total",
			Help: "Webhook deliveries, by outcome: delivered (answered 2xx) or failed (an error, a timeout or another status; tried again after a back-off).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.authFails, m.limited, m.paced, m.webhooks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if ws, ok := st.(directory.WriteStatser); ok {
		m.reg.MustRegister(writeStatsCollector{ws})
	}
	// The series an operator alerts on exist from the start, at 0, so that
	// rate() and absent() behave before the first failure.
	for _, reason := range []string{"missing", "invalid", "disabled", "expired"} {
		m.authFails.WithLabelValues(reason)
	}
	for _, limit := range []string{"auth_failures", "provider"} {
		m.limited.WithLabelValues(limit)
	}
	for _, outcome := range []string{"waited", "closed"} {
		m.paced.WithLabelValues(outcome)
	}
	for _, outcome := range []string{"delivered", "failed"} {
		m.webhooks.WithLabelValues(outcome)
	}
	return m
}

// writeStatsCollector reports a store's WriteStats, read at each scrape.
type writeStatsCollector struct{ st directory.WriteStatser }

var (
	storeCommitsDesc = prometheus.NewDesc("kacescim_store_commits_total",
		"Write transactions the store committed; on SQLite each is a group commit of several requests' writes.", nil, nil)
	storeWritesDesc = prometheus.NewDesc("kacescim_store_committed_writes_total",
		"Writes those transactions held: rate(writes) / rate(commits) is the group commit's batch size.", nil, nil)
	storeCommitSecondsDesc = prometheus.NewDesc("kacescim_store_commit_seconds_total",
		"Time the committed write transactions took, start to commit, the sync included: rate(seconds) / rate(commits) is a commit's latency.", nil, nil)
	storeQueuedDesc = prometheus.NewDesc("kacescim_store_writes_queued",
		"Writes waiting for their turn now (SQLite: for the committer; PostgreSQL: running or waiting for a connection).", nil, nil)
)

func (c writeStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- storeCommitsDesc
	ch <- storeWritesDesc
	ch <- storeCommitSecondsDesc
	ch <- storeQueuedDesc
}

func (c writeStatsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.st.WriteStats()
	ch <- prometheus.MustNewConstMetric(storeCommitsDesc, prometheus.CounterValue, float64(s.Commits))
	ch <- prometheus.MustNewConstMetric(storeWritesDesc, prometheus.CounterValue, float64(s.Writes))
	ch <- prometheus.MustNewConstMetric(storeCommitSecondsDesc, prometheus.CounterValue, s.CommitTime.Seconds())
	ch <- prometheus.MustNewConstMetric(storeQueuedDesc, prometheus.GaugeValue, float64(s.Queued))
}

// handler serves the registry in Prometheus's text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observe counts one answered SCIM request.
func (m *metrics) observe(provider, method, path string, status int, took time.Duration) {
	method, route := metricMethod(method), scimRoute(path)
	m.requests.WithLabelValues(provider, method, route, statusClass(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(took.Seconds())
}

// metricMethod is method when it is one SCIM uses, else "other": a
// client's made-up methods must not make series.
func metricMethod(method string) string {
	switch method {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD":
		return method
	}
	return "other"
}

// statusClass is 2xx, 3xx, 4xx or 5xx.
func statusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return strconv.Itoa(status/100) + "xx"
}

// scimRoute is the route template of a path below SCIMPrefix, as
// routeSCIM reads it ("/Users/{id}", "/Groups/.search"), or "other" for
// a path that names no endpoint.
func scimRoute(path string) string {
	rest := strings.Trim(strings.TrimPrefix(path, SCIMPrefix), "/")
	first, id, nested := rest, "", false
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		first, id = rest[:i], rest[i+1:]
		nested = strings.Contains(id, "/")
	}
	if rest == "" || nested {
		return "other"
	}
	switch strings.ToLower(first) {
	case "users", "groups":
		base := "/Users"
		if strings.EqualFold(first, "groups") {
			base = "/Groups"
		}
		switch {
		case id == "":
			return base
		case strings.EqualFold(id, ".search"):
			return base + "/.search"
		}
		return base + "/{id}"
	case ".search":
		if id == "" {
			return "/.search"
		}
	case "bulk":
		if id == "" {
			return "/Bulk"
		}
	case "serviceproviderconfig":
		if id == "" {
			return "/ServiceProviderConfig"
		}
	case "resourcetypes":
		if id == "" {
			return "/ResourceTypes"
		}
		return "/ResourceTypes/{id}"
	case "schemas":
		if id == "" {
			return "/Schemas"
		}
		return "/Schemas/{id}"
	}
	return "other"
}
