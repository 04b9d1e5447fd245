package controllers

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	dynamicbackend "github.com/clientreg/clientreg/controllers/backend/dynamic"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/controllers/metrics"
	"github.com/clientreg/clientreg/controllers/registration"
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
	// Policy is the metadata validation policy.
	Policy metadata.Policy
	// NewRegistrar builds RFC 7591/7592 clients (tests inject fault
	// injection); nil means registrar/dcr's real client.
	NewRegistrar func(dcr.Config) (dcr.Registrar, error)
	// Endpoint, when set, serves the embedded registration endpoint.
	Endpoint *EndpointOptions
	// MetricsRegisterer receives the operator's own collectors; nil means
	// controller-runtime's metrics.Registry, served by the manager.
	MetricsRegisterer prometheus.Registerer
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
	sel := labels.SelectorFromSet(labels.Set{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue})
	return cache.Options{ByObject: map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Label: sel},
	}}
}

// Setup registers every reconciler with mgr.
func Setup(ctx context.Context, mgr ctrl.Manager, opts Options) error {
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
		return err
	}
	stateless := &statelessbackend.Backend{
		Reader:                   mgr.GetClient(),
		ClusterResourceNamespace: opts.ClusterResourceNamespace,
		Clock:                    clk,
	}
	dynamic := &dynamicbackend.Backend{
		Reader:                   mgr.GetAPIReader(),
		ClusterResourceNamespace: opts.ClusterResourceNamespace,
		Clock:                    clk,
		NewRegistrar:             instrumentedRegistrar(opts.NewRegistrar, m),
	}
	for _, kind := range []oauthv1alpha1.ServerKind{oauthv1alpha1.KindAuthorizationServer, oauthv1alpha1.KindClusterAuthorizationServer} {
		r := &ServerReconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
			Recorder: recorder, Clock: clk, Kind: kind,
			ClusterResourceNamespace: opts.ClusterResourceNamespace, Stateless: stateless, Dynamic: dynamic,
			EndpointBaseURL: endpointBaseURL(opts),
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return fmt.Errorf("setting up %s controller: %w", kind, err)
		}
	}
	cr := &OAuthClientReconciler{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
		Recorder: recorder, Clock: clk,
		Backends:                backend.Registry{Stateless: stateless, DynamicRegistration: dynamic},
		Policy:                  opts.Policy,
		MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
		Metrics:                 m,
	}
	if err := cr.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up OAuthClient controller: %w", err)
	}
	if e := opts.Endpoint; e != nil {
		if err := setupEndpoint(ctx, mgr, opts, clk, m); err != nil {
			return err
		}
	}
	return nil
}

// setupEndpoint adds the registration endpoint as a runnable that serves on
// every replica (not only the leader).
func setupEndpoint(ctx context.Context, mgr ctrl.Manager, opts Options, clk clock.PassiveClock, m *metrics.Metrics) error {
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
	}
	resolver := &registration.Resolver{
		Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		BaseURL: strings.TrimSuffix(e.BaseURL, "/"), ClusterResourceNamespace: opts.ClusterResourceNamespace, Clock: clk,
	}
	store := &registration.Store{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Resolver: resolver}
	// Registrations are answered on the cache event that shows them done.
	if err := store.WatchCache(ctx, mgr.GetCache()); err != nil {
		return fmt.Errorf("setting up the registration endpoint: %w", err)
	}
	log := mgr.GetLogger().WithName("registration-endpoint")
	h := &endpoint.Handler{Resolver: resolver, Store: store, Clock: clk, Log: func(msg string, kv ...any) { log.V(1).Info(msg, kv...) }}
	// The older OpenID Connect registration drafts (client_associate /
	// client_update) are served by the same endpoint.
	h.LegacyHandler = &legacy.Handler{Core: h}
	runner := &endpoint.ServerRunner{
		Addr: e.Addr, CertFile: e.CertFile, KeyFile: e.KeyFile, Insecure: e.Insecure, Listener: e.Listener,
		Handler: m.InstrumentEndpoint(h),
	}
	if fromSecret {
		certs := &registration.TLSSecret{
			Reader: mgr.GetAPIReader(), Key: e.TLSSecret, Interval: e.TLSSecretInterval, Clock: clk,
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

// instrumentedRegistrar builds RFC 7591/7592 clients with newRegistrar (nil
// means registrar/dcr's real client) and times their calls.
func instrumentedRegistrar(newRegistrar func(dcr.Config) (dcr.Registrar, error), m *metrics.Metrics) func(dcr.Config) (dcr.Registrar, error) {
	if newRegistrar == nil {
		newRegistrar = func(c dcr.Config) (dcr.Registrar, error) { return dcr.NewClient(c) }
	}
	return func(c dcr.Config) (dcr.Registrar, error) {
		r, err := newRegistrar(c)
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
