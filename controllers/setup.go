package controllers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	dynamicbackend "github.com/clientreg/clientreg/controllers/backend/dynamic"
	"github.com/clientreg/clientreg/controllers/backend/metadatadoc"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/controllers/metrics"
	"github.com/clientreg/clientreg/internal/registration"
	"github.com/clientreg/clientreg/registrar/dcr"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/endpoint/legacy"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// Options configure the reconcilers.
type Options struct {
	// ClusterResourceNamespace holds Secrets of cluster-scoped servers
	// (cert-manager's --cluster-resource-namespace).
	ClusterResourceNamespace string
	// Clock is injected for tests; nil means the real clock.
	Clock clock.PassiveClock
	// MaxConcurrentReconciles bounds parallel OAuthClient reconciles.
	MaxConcurrentReconciles int
	// DeletionTimeout is how long deleting a registration at an unreachable
	// or refusing server is retried (the manager's --deletion-timeout);
	// zero means DefaultDeletionTimeout.
	DeletionTimeout time.Duration
	// Policy is the metadata validation policy.
	Policy metadata.Policy
	// NewRegistrar builds RFC 7591/7592 clients (tests inject fault
	// injection); nil means registrar/dcr's real client.
	NewRegistrar func(dcr.Config) (dcr.Registrar, error)
	// Backends, when set, replaces the built-in backends (tests); see
	// NewBackends.
	Backends *backend.Registry
	// Endpoint, when set, serves the embedded registration endpoint.
	Endpoint *EndpointOptions
	// MetricsRegisterer receives the operator's own collectors; nil means
	// controller-runtime's metrics.Registry, served by the manager.
	MetricsRegisterer prometheus.Registerer
	// SecretNamespaces, when not empty, are the only namespaces (with
	// ClusterResourceNamespace) whose Secrets the operator reads or writes
	// (the manager's --secret-namespaces): the Secret cache covers only
	// them, and an object that needs a Secret elsewhere is refused with the
	// reason SecretNamespaceNotAllowed before any request is made. Empty
	// means every namespace. Give the same Options to CacheOptionsFor.
	SecretNamespaces []string
}

// EndpointOptions configure the embedded registration endpoint.
type EndpointOptions struct {
	// Addr is the listen address, e.g. ":8443".
	Addr string
	// BaseURL is the endpoint's external URL (issuers are BaseURL + server path).
	BaseURL string
	// CertFile and KeyFile are the TLS certificate and key, reloaded when they change.
	CertFile, KeyFile string
	// TLSSecret, instead of CertFile and KeyFile, names a kubernetes.io/tls
	// Secret (tls.crt, tls.key) read every TLSSecretInterval (default 10s);
	// see registration.TLSSecret.
	TLSSecret         types.NamespacedName
	TLSSecretInterval time.Duration
	// Insecure serves plain HTTP: for local use only.
	Insecure bool
	// Listener, when set, is used instead of Addr (tests).
	Listener net.Listener
}

// CacheOptions returns the manager cache options: only Secrets the operator
// manages (label-selected) are cached, so memory does not grow with every
// Secret in the cluster.
func CacheOptions() cache.Options {
	return CacheOptionsFor(Options{})
}

// CacheOptionsFor is CacheOptions for opts: with opts.SecretNamespaces set,
// the Secret cache also covers only those namespaces and
// opts.ClusterResourceNamespace, so the manager lists and watches Secrets
// nowhere else (and needs no cluster-wide RBAC on Secrets).
func CacheOptionsFor(opts Options) cache.Options {
	sel := labels.SelectorFromSet(labels.Set{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue})
	byObject := cache.ByObject{Label: sel}
	if ns := newSecretScope(opts.SecretNamespaces, opts.ClusterResourceNamespace).list(); ns != nil {
		byObject.Namespaces = map[string]cache.Config{}
		for _, n := range ns {
			byObject.Namespaces[n] = cache.Config{LabelSelector: sel}
		}
	}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}: byObject,
	}}
}

// BackendDeps is what the built-in backends are built from.
type BackendDeps struct {
	// Cached reads through the manager's cache; Uncached reads past it.
	Cached, Uncached client.Reader
	// ClusterResourceNamespace holds Secrets of cluster-scoped servers.
	ClusterResourceNamespace string
	Clock                    clock.PassiveClock
	// NewRegistrar builds RFC 7591/7592 clients; nil means registrar/dcr's.
	NewRegistrar func(dcr.Config) (dcr.Registrar, error)
	// Metrics instruments the registration clients.
	Metrics *metrics.Metrics
	// Recorder and Secrets serve the backends' server halves.
	Recorder events.EventRecorder
	Secrets  backend.SecretStore
	// ServesHTTPS says whether the manager runs its HTTPS listener (the
	// embedded endpoint), where metadata documents are served.
	ServesHTTPS bool
}

// NewBackends registers the built-in backends, one line each, under the
// member of the server spec union each serves. A new backend is one more
// line here (see package backend).
func NewBackends(d BackendDeps) *backend.Registry {
	return new(backend.Registry).
		MustRegister(oauthv1alpha1.MemberStateless, &statelessbackend.Backend{Reader: d.Cached, ClusterResourceNamespace: d.ClusterResourceNamespace, Clock: d.Clock, NewRegistrar: d.NewRegistrar, Secrets: d.Secrets, Recorder: d.Recorder}).
		MustRegister(oauthv1alpha1.MemberDynamicRegistration, &dynamicbackend.Backend{Reader: d.Uncached, ClusterResourceNamespace: d.ClusterResourceNamespace, Clock: d.Clock, NewRegistrar: instrumentedRegistrar(d.NewRegistrar, d.Metrics), SpreadFirstReads: true}).
		MustRegister(oauthv1alpha1.MemberClientIDMetadataDocument, &metadatadoc.Backend{Clock: d.Clock, Served: d.ServesHTTPS, Observer: d.Metrics})
}

// Setup registers every reconciler with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
	_, err := SetupWithBackends(ctx, mgr, opts)
	return err
}

// SetupWithBackends is Setup, and returns the backends the reconcilers use
// (the webhook validates server specs with the same).
func SetupWithBackends(ctx context.Context, mgr ctrl.Manager, opts Options) (*backend.Registry, error) {
	clk := opts.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	recorder := mgr.GetEventRecorder("clientreg")
	reg := opts.MetricsRegisterer
	if reg == nil {
		reg = ctrlmetrics.Registry
	}
	m, err := metrics.New(reg)
	if err != nil {
		return nil, err
	}
	// Every Secret access goes through clients that refuse namespaces
	// outside the scope before the request is made.
	scope := newSecretScope(opts.SecretNamespaces, opts.ClusterResourceNamespace)
	c, apiReader := scope.scopeClient(mgr.GetClient()), scope.scopeReader(mgr.GetAPIReader())
	backends := opts.Backends
	if backends == nil {
		backends = NewBackends(BackendDeps{
			Cached: c, Uncached: apiReader, ClusterResourceNamespace: opts.ClusterResourceNamespace, Clock: clk,
			NewRegistrar: opts.NewRegistrar, Metrics: m, Recorder: recorder,
			Secrets:     serverSecrets{w: &secretWriter{client: c, apiReader: apiReader, scheme: mgr.GetScheme()}},
			ServesHTTPS: opts.Endpoint != nil,
		})
	}
	for _, kind := range []oauthv1alpha1.ServerKind{oauthv1alpha1.KindAuthorizationServer, oauthv1alpha1.KindClusterAuthorizationServer} {
		r := &ServerReconciler{
			Client: c, APIReader: apiReader, Scheme: mgr.GetScheme(),
			Recorder: recorder, Clock: clk, Kind: kind, secretScope: scope,
			ClusterResourceNamespace: opts.ClusterResourceNamespace, Backends: backends,
			EndpointBaseURL: endpointBaseURL(opts),
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return nil, fmt.Errorf("setting up %s controller: %w", kind, err)
		}
	}
	cr := &OAuthClientReconciler{
		Client: c, APIReader: apiReader, Scheme: mgr.GetScheme(),
		Recorder: recorder, Clock: clk, secretScope: scope,
		Backends:                backends,
		Policy:                  opts.Policy,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		DeletionTimeout:         opts.DeletionTimeout,
		Metrics:                 m,
	}
	if err := cr.SetupWithManager(ctx, mgr); err != nil {
		return nil, fmt.Errorf("setting up OAuthClient controller: %w", err)
	}
	if e := opts.Endpoint; e != nil {
		if err := setupEndpoint(ctx, mgr, opts, scope, c, apiReader, clk, m, backends); err != nil {
			return nil, err
		}
	}
	return backends, nil
}

// setupEndpoint adds the registration endpoint as a runnable that serves on
// every replica (not only the leader).
// c and apiReader are the manager's clients, already limited to scope.
func setupEndpoint(ctx context.Context, mgr ctrl.Manager, opts Options, scope secretScope, c client.Client, apiReader client.Reader, clk clock.PassiveClock, m *metrics.Metrics, backends *backend.Registry) error {
	e := opts.Endpoint
	if e.BaseURL == "" {
		return fmt.Errorf("the registration endpoint needs a base URL")
	}
	fromSecret := e.TLSSecret.Name != ""
	switch {
	case fromSecret && (e.CertFile != "" || e.KeyFile != "" || e.Insecure):
		return fmt.Errorf("the registration endpoint takes its TLS certificate from files or from a Secret, not both (and a Secret excludes insecure plain HTTP)")
	case fromSecret && e.TLSSecret.Namespace == "":
		return fmt.Errorf("the registration endpoint's TLS Secret needs a namespace (<namespace>/<name>)")
	case !fromSecret && !e.Insecure && (e.CertFile == "" || e.KeyFile == ""):
		return fmt.Errorf("the registration endpoint needs a TLS certificate and key, or a TLS Secret (or insecure plain HTTP for local use)")
	case fromSecret && !scope.allows(e.TLSSecret.Namespace):
		return fmt.Errorf("the registration endpoint's TLS Secret: %w", scope.refuse(e.TLSSecret.Namespace, "Secret "+e.TLSSecret.String()))
	}
	resolver := &registration.Resolver{
		Client: c, APIReader: apiReader,
		BaseURL: strings.TrimSuffix(e.BaseURL, "/"), ClusterResourceNamespace: opts.ClusterResourceNamespace, Clock: clk,
		Backends: backends, Policy: opts.Policy,
	}
	store := &registration.Store{Client: c, APIReader: apiReader, Resolver: resolver}
	// Registrations are answered on the cache event that shows them done.
	if err := store.WatchCache(ctx, mgr.GetCache()); err != nil {
		return fmt.Errorf("setting up the registration endpoint: %w", err)
	}
	log := mgr.GetLogger().WithName("registration-endpoint")
	h := &endpoint.Handler{Resolver: resolver, Store: store, Clock: clk, Log: func(msg string, kv ...any) { log.V(1).Info(msg, kv...) }}
	// The older OpenID Connect registration drafts (client_associate /
	// client_update) are served by the same endpoint.
	h.LegacyHandler = &legacy.Handler{Core: h}
	handler, err := withPublishers(ctx, mgr, backends, m.InstrumentEndpoint(h))
	if err != nil {
		return err
	}
	runner := &endpoint.ServerRunner{
		Addr: e.Addr, CertFile: e.CertFile, KeyFile: e.KeyFile, Insecure: e.Insecure, Listener: e.Listener,
		Handler: handler,
	}
	if fromSecret {
		certs := &registration.TLSSecret{
			Reader: apiReader, Key: e.TLSSecret, Interval: e.TLSSecretInterval, Clock: clk,
			Recorder: mgr.GetEventRecorder("clientreg"), Log: mgr.GetLogger().WithName("registration-endpoint-tls"),
		}
		if err := mgr.Add(certs); err != nil {
			return fmt.Errorf("adding the registration endpoint's TLS Secret reader: %w", err)
		}
		runner.Certificates = certs
	}
	if err := mgr.Add(runner); err != nil {
		return fmt.Errorf("adding the registration endpoint: %w", err)
	}
	return nil
}

// withPublishers starts the backends that serve over the HTTPS listener
// (metadata documents) on this replica's cache, and puts them in front of
// next: a request one of them serves is answered by it, any other by next.
func withPublishers(ctx context.Context, mgr ctrl.Manager, backends *backend.Registry, next http.Handler) (http.Handler, error) {
	pubs := backends.Publishers()
	for _, p := range pubs {
		if err := p.Publish(ctx, mgr.GetCache()); err != nil {
			return nil, err
		}
	}
	if len(pubs) == 0 {
		return next, nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range pubs {
			if p.Serves(r) {
				p.ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	}), nil
}

// instrumentedRegistrar builds RFC 7591/7592 clients with newRegistrar (nil
// means registrar/dcr's real client) and times their calls.
func instrumentedRegistrar(newRegistrar func(dcr.Config) (dcr.Registrar, error), m *metrics.Metrics) func(dcr.Config) (dcr.Registrar, error) {
	return func(c dcr.Config) (dcr.Registrar, error) {
		r, err := backend.NewRegistrar(newRegistrar, c)
		if err != nil {
			return nil, err
		}
		return m.InstrumentRegistrar(r), nil
	}
}

func endpointBaseURL(opts Options) string {
	if opts.Endpoint == nil {
		return ""
	}
	return strings.TrimSuffix(opts.Endpoint.BaseURL, "/")
}
