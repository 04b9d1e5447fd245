package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/internal/registration"
)

// ServerReconciler reconciles one of the two server kinds: the backend of the
// server's spec (Backends) brings it to Ready; the reconciler adds what every
// server has (the endpoint's issuer, the Secret scope, the Ready condition)
// and writes the status once.
type ServerReconciler struct {
	client.Client
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	// Kind is the server kind this instance reconciles.
	Kind oauthv1alpha1.ServerKind
	// ClusterResourceNamespace holds Secrets of cluster-scoped servers.
	ClusterResourceNamespace string
	// Backends serve the members of the server spec's backend union.
	Backends *backend.Registry
	// EndpointBaseURL is the embedded registration endpoint's external URL,
	// or empty when it is not served.
	EndpointBaseURL string
	// secretScope is where the server's Secrets may be (--secret-namespaces).
	secretScope secretScope
}

// +kubebuilder:rbac:groups=oauth.clientreg.dev,resources=authorizationservers;clusterauthorizationservers,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=oauth.clientreg.dev,resources=authorizationservers/status;clusterauthorizationservers/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=oauth.clientreg.dev,resources=authorizationservers/finalizers;clusterauthorizationservers/finalizers,verbs=update

// Reconcile brings one server object to its desired state.
func (r *ServerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	obj := oauthv1alpha1.NewServer(r.Kind)
	if err := r.Get(ctx, req.NamespacedName, obj.(client.Object)); err != nil {
		// Gone: its Secrets are garbage collected with it.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		if be, err := r.Backends.For(obj); err == nil {
			be.ForgetServer(obj.GetUID())
		}
		// Nothing to clean up ourselves: owned Secrets are garbage collected.
		return ctrl.Result{}, nil
	}
	orig := obj.(client.Object).DeepCopyObject().(oauthv1alpha1.ServerObject)
	defer func() {
		// The one status write of this reconcile, only when something changed.
		st := obj.GetStatus()
		st.ObservedGeneration = obj.GetGeneration()
		if equality.Semantic.DeepEqual(orig.GetStatus(), st) {
			return
		}
		if err := r.Status().Patch(ctx, obj.(client.Object), client.MergeFrom(orig.(client.Object))); err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, fmt.Errorf("patching status: %w", err)})
		}
	}()

	spec, st, gen := obj.GetSpec(), obj.GetStatus(), obj.GetGeneration()
	st.EndpointIssuer = ""
	if spec.RegistrationEndpoint != nil && r.EndpointBaseURL != "" {
		st.EndpointIssuer = r.EndpointBaseURL + registration.ServerPath(obj)
	}
	be, err := r.Backends.For(obj)
	if err != nil {
		// A member this build does not serve, or none (the API server's
		// validation normally prevents that): nothing to do until the spec
		// changes.
		markNotReady(&st.Conditions, gen, reasonOf(err, oauthv1alpha1.ReasonInvalidSpec), err.Error(), true)
		return ctrl.Result{}, nil
	}
	// A Secret outside --secret-namespaces is refused before any request.
	if err := r.secretScope.checkServerSecrets(be, obj, r.ClusterResourceNamespace); err != nil {
		return serverFailed(obj, err, oauthv1alpha1.ReasonSecretNamespaceNotAllowed)
	}
	res, err := be.ReconcileServer(ctx, obj)
	if err != nil {
		return serverFailed(obj, err, oauthv1alpha1.ReasonServerUnavailable)
	}
	markReady(&st.Conditions, gen, oauthv1alpha1.ReasonReady, res.Ready)
	return ctrl.Result{RequeueAfter: res.RequeueAfter}, nil
}

// serverFailed records err on Ready and classifies it: permanent errors stop
// (the spec must change; its update re-triggers), pending ones requeue after
// their delay (say, a foreign Secret to be removed), others back off.
func serverFailed(obj oauthv1alpha1.ServerObject, err error, fallbackReason string) (ctrl.Result, error) {
	st := obj.GetStatus()
	_, permanent := backend.AsPermanent(err)
	reason := reasonOf(err, fallbackReason)
	// A foreign key Secret in the way needs a person, as a permanent error does.
	markNotReady(&st.Conditions, obj.GetGeneration(), reason, err.Error(), permanent || reason == oauthv1alpha1.ReasonKeySecretConflict)
	if permanent {
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	if p, ok := backend.AsPending(err); ok {
		return ctrl.Result{RequeueAfter: p.RetryAfter}, nil
	}
	return ctrl.Result{}, err
}

// SetupWithManager registers the controller for r.Kind.
func (r *ServerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(oauthv1alpha1.NewServer(r.Kind).(client.Object), builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
		))).
		Owns(&corev1.Secret{}).
		Named(string(r.Kind)).
		Complete(r)
}
