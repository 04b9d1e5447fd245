package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	dynamicbackend "github.com/clientreg/clientreg/controllers/backend/dynamic"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/registrar/dcr"
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
	stateless := &statelessbackend.Backend{
		Reader:                   mgr.GetClient(),
		ClusterResourceNamespace: opts.ClusterResourceNamespace,
		Clock:                    clk,
	}
	dynamic := &dynamicbackend.Backend{
		Reader:                   mgr.GetAPIReader(),
		ClusterResourceNamespace: opts.ClusterResourceNamespace,
		Clock:                    clk,
		NewRegistrar:             opts.NewRegistrar,
	}
	for _, kind := range []oauthv1alpha1.ServerKind{oauthv1alpha1.KindAuthorizationServer, oauthv1alpha1.KindClusterAuthorizationServer} {
		r := &ServerReconciler{
			Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Scheme: mgr.GetScheme(),
			Recorder: recorder, Clock: clk, Kind: kind,
			ClusterResourceNamespace: opts.ClusterResourceNamespace, Stateless: stateless, Dynamic: dynamic,
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
	}
	if err := cr.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up OAuthClient controller: %w", err)
	}
	return nil
}
