// Package metrics holds the operator's own Prometheus series, next to the
// ones controller-runtime exports (reconcile counts and latency, work queues,
// client-go requests).
//
// Nothing is registered at init: New registers the collectors with the
// Registerer it is given (controllers.Setup passes controller-runtime's
// metrics.Registry, which the manager's metrics server exposes). A nil
// *Metrics records nothing, so reconcilers built without one (unit tests)
// need no special case.
//
// Label values are bounded: kinds, backends, actions, condition reasons,
// protocol operations and outcomes, HTTP status codes. Client ids never
// appear; the expiry gauge is one series per OAuthClient (namespace, name),
// deleted with the object.
package metrics

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// Namespace prefixes every series of this package.
const Namespace = "clientreg"

// Label values for the backend label.
const (
	// BackendStateless is the stateless backend (spec.stateless).
	BackendStateless = oauthv1alpha1.MemberStateless
	// BackendDynamicRegistration is the RFC 7591 backend (spec.dynamicRegistration).
	BackendDynamicRegistration = oauthv1alpha1.MemberDynamicRegistration
	// BackendUnknown is used when the server (and so its backend) is not known,
	// e.g. while it does not exist yet.
	BackendUnknown = "unknown"
)

// Metrics are the operator's own collectors.
type Metrics struct {
	registrations    *prometheus.CounterVec
	failures         *prometheus.CounterVec
	remoteDuration   *prometheus.HistogramVec
	secretExpiry     *prometheus.GaugeVec
	endpointRequests *prometheus.CounterVec
	documentRequests *prometheus.CounterVec
}

// New creates the collectors and registers them with reg. A collector
// registered already (a second manager in the same process, as in tests) is
// reused, so every Metrics built for one Registerer counts into the same
// series.
func New(reg prometheus.Registerer) (*Metrics, error) {
	r := &registering{reg: reg}
	m := &Metrics{
		registrations: add(r, counter("registrations_total",
			"Credentials issued for OAuthClients, by server kind, backend and action (create, update, rotate).",
			"server_kind", "backend", "action")),
		failures: add(r, counter("registration_failures_total",
			"OAuthClient reconciles that ended with Ready=False, by backend and condition reason.",
			"backend", "reason")),
		remoteDuration: add(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Name:      "remote_request_duration_seconds",
			Help:      "Duration of calls to remote authorization servers (discovery, RFC 7591 register, RFC 7592 read, update, delete), by operation and outcome.",
			Buckets:   []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"operation", "outcome"})),
		secretExpiry: add(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: Namespace,
			Name:      "client_secret_expires_timestamp_seconds",
			Help:      "When the credentials of an OAuthClient expire (status.clientSecretExpiresAt), in Unix seconds; absent when they never expire.",
		}, []string{"namespace", "name"})),
		endpointRequests: add(r, counter("endpoint_requests_total",
			"Requests served by the embedded registration endpoint, by operation (register, read, update, delete, discovery, jwks, other) and HTTP status code.",
			"operation", "code")),
		documentRequests: add(r, counter("metadata_document_requests_total",
			"Requests for Client ID Metadata Documents (and their JWK Sets) answered by this replica, by server (<Kind>/[<namespace>/]<name>) and HTTP status code: 200 documents served, 304 not modified, 404, 429 over the server's rate.",
			"server", "code")),
	}
	if r.err != nil {
		return nil, r.err
	}
	return m, nil
}

// counter is a counter of the operator's namespace.
func counter(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
}

// registering registers collectors with reg until one fails; err is that
// failure.
type registering struct {
	reg prometheus.Registerer
	err error
}

// add registers c with r.reg (see register) unless an earlier one failed.
func add[C prometheus.Collector](r *registering, c C) C {
	if r.err != nil {
		return c
	}
	got, err := register(r.reg, c)
	r.err = err
	return got
}

// register registers c, or returns the collector registered before under the
// same description.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		var zero C
		return zero, fmt.Errorf("registering metrics: %w", err)
	}
	return c, nil
}

// BackendOf returns the backend label of a server object.
func BackendOf(server oauthv1alpha1.ServerObject) string {
	if server == nil {
		return BackendUnknown
	}
	if m := server.GetSpec().BackendMember(); m != "" {
		return m
	}
	return BackendUnknown
}

// Issued counts credentials issued for a client; action is create, update
// or rotate (any case; stored lower-case).
func (m *Metrics) Issued(server oauthv1alpha1.ServerObject, action string) {
	if m == nil {
		return
	}
	kind := ""
	if server != nil {
		kind = string(server.ServerKind())
	}
	m.registrations.WithLabelValues(kind, BackendOf(server), strings.ToLower(action)).Inc()
}

// Failed counts a reconcile of an OAuthClient that ended with Ready=False
// for reason (a condition reason constant of api/v1alpha1).
func (m *Metrics) Failed(backend, reason string) {
	if m == nil {
		return
	}
	m.failures.WithLabelValues(backend, reason).Inc()
}

// SetSecretExpiry records when the credentials of the OAuthClient
// namespace/name expire; nil (never) removes the series.
func (m *Metrics) SetSecretExpiry(namespace, name string, expiresAt *metav1.Time) {
	if m == nil {
		return
	}
	if expiresAt == nil || expiresAt.IsZero() {
		m.secretExpiry.DeleteLabelValues(namespace, name)
		return
	}
	m.secretExpiry.WithLabelValues(namespace, name).Set(float64(expiresAt.Unix()))
}

// ForgetClient removes the series of a deleted OAuthClient.
func (m *Metrics) ForgetClient(namespace, name string) {
	if m == nil {
		return
	}
	m.secretExpiry.DeleteLabelValues(namespace, name)
}

// observeRemote records one remote call.
func (m *Metrics) observeRemote(operation, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.remoteDuration.WithLabelValues(operation, outcome).Observe(d.Seconds())
}

// Served counts one answer to a metadata document request (it implements
// registrar/cimd's Observer).
func (m *Metrics) Served(server string, status int) {
	if m == nil {
		return
	}
	m.documentRequests.WithLabelValues(server, strconv.Itoa(status)).Inc()
}
