package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	dynamicbackend "github.com/clientreg/clientreg/controllers/backend/dynamic"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/controllers/registration"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// ServerReconciler reconciles one of the two server kinds: for a stateless
// server it generates, rotates and prunes keys in the key Secret and publishes
// the JWKS in status.
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
	// Stateless is told when a server goes away so cached keys are dropped.
	Stateless *statelessbackend.Backend
	// Dynamic probes dynamicRegistration servers.
	Dynamic *dynamicbackend.Backend
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
		if apierrors.IsNotFound(err) && r.Stateless != nil {
			// Gone: its key Secret is garbage collected with it.
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		if r.Stateless != nil {
			r.Stateless.Forget(obj.GetUID())
		}
		if r.Dynamic != nil {
			r.Dynamic.Forget(obj.GetUID())
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
	// A Secret outside --secret-namespaces is refused before any request.
	if err := r.secretScope.checkServerSecrets(obj, r.ClusterResourceNamespace); err != nil {
		return serverFailed(obj, err, oauthv1alpha1.ReasonSecretNamespaceNotAllowed)
	}
	switch {
	case spec.Stateless != nil:
		st.Issuer = spec.Stateless.Issuer
		res, err := r.reconcileStatelessKeys(ctx, obj)
		if err != nil {
			return serverFailed(obj, err, oauthv1alpha1.ReasonKeysFailed)
		}
		markReady(&st.Conditions, gen, oauthv1alpha1.ReasonReady, "signing keys are ready and published in status.jwks")
		return r.reconcileStatelessAuthorizationServer(ctx, obj, res), nil
	case spec.DynamicRegistration != nil:
		st.Issuer = string(spec.DynamicRegistration.IssuerURL)
		if r.Dynamic == nil {
			markNotReady(&st.Conditions, gen, oauthv1alpha1.ReasonBackendUnsupported, "dynamic registration is not available in this build", true)
			// Nothing this build can do.
			return ctrl.Result{}, nil
		}
		return r.reconcileDynamic(ctx, obj)
	default:
		markNotReady(&st.Conditions, gen, oauthv1alpha1.ReasonInvalidSpec, "exactly one of dynamicRegistration or stateless must be set", true)
		// The API server's validation normally prevents this.
		return ctrl.Result{}, nil
	}
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

// reconcileDynamic resolves the server's endpoints (discovery, cached and
// refreshed on failure) and is Ready only when the registration endpoint
// answers. It looks again every resync interval.
func (r *ServerReconciler) reconcileDynamic(ctx context.Context, obj oauthv1alpha1.ServerObject) (ctrl.Result, error) {
	st, gen := obj.GetStatus(), obj.GetGeneration()
	info, err := r.Dynamic.Probe(ctx, obj)
	if err != nil {
		return serverFailed(obj, err, oauthv1alpha1.ReasonServerUnavailable)
	}
	st.RegistrationEndpoint, st.TokenEndpoint, st.AuthorizationEndpoint = info.RegistrationEndpoint, info.TokenEndpoint, info.AuthorizationEndpoint
	markReady(&st.Conditions, gen, oauthv1alpha1.ReasonReady, "registration endpoint "+info.RegistrationEndpoint+" answers")
	// Look again after a resync interval.
	return ctrl.Result{RequeueAfter: obj.GetSpec().DynamicRegistration.EffectiveResyncInterval()}, nil
}

// Rechecks of the authorization server named by spec.stateless.authorizationServer.
const (
	authorizationServerRefresh = time.Hour
	authorizationServerRetry   = time.Minute
)

// reconcileStatelessAuthorizationServer publishes the endpoints of the
// authorization server that accepts the ids (status.authorizationEndpoint,
// status.tokenEndpoint; the embedded endpoint's discovery documents carry
// them). A failed discovery keeps the endpoints last published and is
// reported on its own condition, not on Ready (ids are minted regardless),
// and is tried again in a minute; discovered endpoints are refreshed hourly.
func (r *ServerReconciler) reconcileStatelessAuthorizationServer(ctx context.Context, obj oauthv1alpha1.ServerObject, res ctrl.Result) ctrl.Result {
	st, gen := obj.GetStatus(), obj.GetGeneration()
	soonest := func(d time.Duration) ctrl.Result {
		if res.RequeueAfter <= 0 || d < res.RequeueAfter {
			res.RequeueAfter = d
		}
		return res
	}
	eps, err := r.Stateless.AuthorizationServer(ctx, obj)
	switch {
	case err != nil:
		condFalse(&st.Conditions, gen, oauthv1alpha1.ConditionAuthorizationServerResolved, reasonOf(err, oauthv1alpha1.ReasonDiscoveryFailed), err.Error())
		return soonest(authorizationServerRetry)
	case eps == nil:
		st.AuthorizationEndpoint, st.TokenEndpoint = "", ""
		meta.RemoveStatusCondition(&st.Conditions, oauthv1alpha1.ConditionAuthorizationServerResolved)
		return res
	}
	st.AuthorizationEndpoint, st.TokenEndpoint = eps.Authorization, eps.Token
	how := "given in spec.stateless.authorizationServer"
	if eps.Discovered {
		how = "discovered from " + obj.GetSpec().Stateless.Issuer
	}
	condTrue(&st.Conditions, gen, oauthv1alpha1.ConditionAuthorizationServerResolved, oauthv1alpha1.ReasonReady,
		fmt.Sprintf("authorization endpoint %q, token endpoint %q (%s)", eps.Authorization, eps.Token, how))
	if eps.Discovered {
		return soonest(authorizationServerRefresh)
	}
	return res
}

// reconcileStatelessKeys keeps the key Secret current: an active signing key
// of the configured algorithm (and an encryption key in Generated mode),
// rotated on the interval, retired keys pruned once every id they signed has
// expired. The Secret is written before the status publishes anything.
func (r *ServerReconciler) reconcileStatelessKeys(ctx context.Context, obj oauthv1alpha1.ServerObject) (ctrl.Result, error) {
	spec, st, gen := obj.GetSpec().Stateless, obj.GetStatus(), obj.GetGeneration()
	now := r.Clock.Now()
	mode := spec.EffectiveEncryptionMode()
	if mode == oauthv1alpha1.EncryptionRecipientKey {
		if _, _, err := statelessbackend.RecipientKey(spec); err != nil {
			condFalse(&st.Conditions, gen, oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonInvalidSpec, err.Error())
			return ctrl.Result{}, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "%v", err)
		}
	}

	ref := oauthv1alpha1.StatelessKeySecret(obj, r.ClusterResourceNamespace)
	w := &secretWriter{client: r.Client, apiReader: r.APIReader, scheme: r.Scheme}
	existing, err := w.getFresh(ctx, ref)
	if err != nil {
		return ctrl.Result{}, err
	}
	if existing != nil && !ours(existing, obj.(client.Object)) {
		msg := fmt.Sprintf("key Secret %s exists and is not controlled by this server; it is left untouched", ref)
		condFalse(&st.Conditions, gen, oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonKeySecretConflict, msg)
		return ctrl.Result{}, &backend.PendingError{Reason: oauthv1alpha1.ReasonKeySecretConflict, Err: fmt.Errorf("%s", msg), RetryAfter: secretConflictRecheck}
	}
	keys := &sci.KeySet{}
	if existing != nil && len(existing.Data[statelessbackend.KeySetDataKey]) > 0 {
		if keys, err = sci.ParseKeySet(existing.Data[statelessbackend.KeySetDataKey]); err != nil {
			condFalse(&st.Conditions, gen, oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonKeysFailed, "the key Secret cannot be parsed; delete it to start over (existing ids then stop verifying)")
			return ctrl.Result{}, backend.Permanent(oauthv1alpha1.ReasonKeysFailed, "parsing key Secret %s: %v", ref, err)
		}
	}

	// A retired key stays published for the id lifetime plus a margin, so a
	// verifier that allows clock leeway never sees the key go before its ids.
	lifetime := spec.EffectiveLifetime()
	if lifetime > 0 {
		lifetime += statelessbackend.PublishMargin
	}
	interval := spec.EffectiveRotationInterval()
	type want struct {
		use sci.KeyUse
		alg string
	}
	wanted := []want{{use: "sig", alg: spec.EffectiveSigningAlgorithm()}}
	if mode == oauthv1alpha1.EncryptionGenerated {
		wanted = append(wanted, want{use: "enc", alg: statelessbackend.EncryptionKeyAlgorithm})
	}
	changed := false
	var nextRotation time.Time
	for _, k := range wanted {
		c, err := keys.Ensure(k.use, k.alg, now, lifetime)
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("generating %s key: %w", k.use, err)
		}
		changed = changed || c
		active, _ := keys.Active(k.use)
		if interval > 0 {
			due := active.CreatedAt.Add(interval)
			if !now.Before(due) {
				if err := keys.Rotate(k.use, k.alg, now, lifetime); err != nil {
					return ctrl.Result{}, fmt.Errorf("rotating %s key: %w", k.use, err)
				}
				changed = true
				eventf(r.Recorder, obj.(runtime.Object), corev1.EventTypeNormal, "KeyRotated", "Rotate", "rotated the %s key", k.use)
				active, _ = keys.Active(k.use)
				due = active.CreatedAt.Add(interval)
			}
			if nextRotation.IsZero() || due.Before(nextRotation) {
				nextRotation = due
			}
		}
	}
	// Drop keys of a use no longer configured once their ids have expired.
	if keys.Prune(now) {
		changed = true
	}

	if changed || existing == nil {
		raw, err := keys.Marshal()
		if err != nil {
			return ctrl.Result{}, fmt.Errorf("encoding key set: %w", err)
		}
		desired := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name, Labels: managedLabels(string(obj.ServerKind()), obj.GetName())},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{statelessbackend.KeySetDataKey: raw},
		}
		if _, _, err := w.write(ctx, obj.(client.Object), desired); err != nil {
			condFalse(&st.Conditions, gen, oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonKeysFailed, "writing the key Secret failed; retrying")
			return ctrl.Result{}, err
		}
		logf.FromContext(ctx).Info("stored keys", "server", klog.KObj(obj), "secret", ref.String(), "keys", len(keys.Keys))
	}

	jwks, err := keys.PublicJWKS()
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("publishing JWKS: %w", err)
	}
	st.JWKS = compactJSON(jwks)
	st.Keys = keyStatuses(keys)
	st.KeySecretRef = &oauthv1alpha1.SecretReference{Name: ref.Name, Namespace: ref.Namespace}
	st.NextKeyRotationTime = metaTime(nextRotation)
	condTrue(&st.Conditions, gen, oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonKeysReady, fmt.Sprintf("%d key(s) published", len(st.Keys)))

	next := nextRotation
	if p := keys.NextPrune(); !p.IsZero() && (next.IsZero() || p.Before(next)) {
		next = p
	}
	// Come back for the next rotation or prune.
	return requeueAt(now, next), nil
}

func keyStatuses(s *sci.KeySet) []oauthv1alpha1.KeyStatus {
	out := make([]oauthv1alpha1.KeyStatus, 0, len(s.Keys))
	for _, k := range s.Keys {
		ks := oauthv1alpha1.KeyStatus{KeyID: k.ID, Use: string(k.Use), Algorithm: k.Algorithm, CreatedAt: *metaTime(k.CreatedAt)}
		if k.RetiredAt != nil {
			ks.RetiredAt = metaTime(*k.RetiredAt)
		}
		if k.PublishUntil != nil {
			ks.PublishUntil = metaTime(*k.PublishUntil)
		}
		out = append(out, ks)
	}
	return out
}

func compactJSON(b []byte) string {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return string(b)
	}
	return string(out)
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
