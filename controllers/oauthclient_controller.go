package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/controllers/metrics"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// serverRecheck is how often a client waiting for its server looks again,
// besides the server's own events re-triggering it (a safety net: a missed
// event must not leave a client waiting forever).
const serverRecheck = time.Minute

// serverRefIndex indexes OAuthClients by "<kind>/<name>" of their server.
const serverRefIndex = "spec.serverRef"

// OAuthClientReconciler reconciles OAuthClient objects: it obtains credentials
// from the server's backend, writes them to the client's Secret, keeps them
// current (metadata changes, rotation, expiry), and cleans up on deletion.
type OAuthClientReconciler struct {
	client.Client
	// APIReader reads uncached (Secrets outside the managed-label cache).
	APIReader client.Reader
	Scheme    *runtime.Scheme
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	Backends  *backend.Registry
	// Policy is the metadata validation policy.
	Policy metadata.Policy
	// MaxConcurrentReconciles bounds parallel reconciles (default 4).
	MaxConcurrentReconciles int
	// DeletionTimeout is how long deleting a registration at the server is
	// retried, from the first failure, before the client reports
	// DeletionBlocked; zero means DefaultDeletionTimeout.
	DeletionTimeout time.Duration
	// Metrics records issued credentials, failures and expiry; nil records nothing.
	Metrics *metrics.Metrics
	// secretScope is where clients' Secrets may be (--secret-namespaces).
	secretScope secretScope

	// written maps an OAuthClient's UID to the resourceVersion of the
	// Secret last written for it (see confirmCache).
	written sync.Map
	// wroteObject maps an OAuthClient's namespaced name to the
	// resourceVersion this controller last wrote to the object (status or
	// metadata), so a reconcile working from a cached copy older than that
	// does not send a write locked on it only to have it refused (see
	// confirmLatest). Keyed by name so that it can be dropped when the
	// object is gone, whether or not it had a finalizer.
	wroteObject sync.Map
}

// +kubebuilder:rbac:groups=oauth.clientreg.dev,resources=oauthclients,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=oauth.clientreg.dev,resources=oauthclients/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=oauth.clientreg.dev,resources=oauthclients/finalizers,verbs=update
// +kubebuilder:rbac:groups=oauth.clientreg.dev,resources=authorizationservers;clusterauthorizationservers,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile brings one OAuthClient to its desired state.
func (r *OAuthClientReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	obj := &oauthv1alpha1.OAuthClient{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.Metrics.ForgetClient(req.Namespace, req.Name)
			r.wroteObject.Delete(req.NamespacedName)
		}
		// Gone: nothing to do; its Secret is garbage collected or orphaned already.
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !r.secretScope.allows(obj.Namespace) {
		// Its Secret is out of reach (--secret-namespaces): say so, touch
		// nothing (no finalizer, no Secret, no registration).
		return r.refuseNamespace(ctx, obj)
	}
	if !obj.DeletionTimestamp.IsZero() {
		// Being deleted: clean up, then release the finalizer.
		return r.reconcileDelete(ctx, obj)
	}
	// The finalizer is added later, right before the first state that needs
	// cleaning up exists (with the in-flight mark of a registration, or
	// before the first Secret write): see clientPhase.ensureFinalizer.

	orig := obj.DeepCopy()
	defer func() {
		// The one status write of this reconcile, only when something changed.
		if err := r.patchStatus(ctx, orig, obj); err != nil {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	res, err := r.reconcileNormal(ctx, obj, orig)
	r.Metrics.SetSecretExpiry(obj.Namespace, obj.Name, obj.Status.ClientSecretExpiresAt)
	return res, err
}

// refuseNamespace reports that obj's namespace is not among the manager's
// Secret namespaces: Ready=False and Stalled=True with the reason
// SecretNamespaceNotAllowed. Nothing else is read or written; restarting the
// manager with the namespace listed reconciles it. An object being deleted
// keeps its finalizer (its registration could not be deleted) until the
// namespace is listed or the finalizer is removed by hand.
func (r *OAuthClientReconciler) refuseNamespace(ctx context.Context, obj *oauthv1alpha1.OAuthClient) (ctrl.Result, error) {
	orig := obj.DeepCopy()
	err := r.secretScope.refuse(obj.Namespace, "OAuthClient "+obj.Namespace+"/"+obj.Name)
	markNotReady(&obj.Status.Conditions, obj.Generation, oauthv1alpha1.ReasonSecretNamespaceNotAllowed, err.Error(), true)
	r.Metrics.Failed(r.backendOf(ctx, obj), oauthv1alpha1.ReasonSecretNamespaceNotAllowed)
	if perr := r.patchStatus(ctx, orig, obj); perr != nil {
		return ctrl.Result{}, perr
	}
	// Terminal: only a restart with another --secret-namespaces can help.
	return ctrl.Result{}, reconcile.TerminalError(err)
}

func (r *OAuthClientReconciler) patchStatus(ctx context.Context, orig, obj *oauthv1alpha1.OAuthClient) error {
	obj.Status.ObservedGeneration = obj.Generation
	if equality.Semantic.DeepEqual(orig.Status, obj.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("patching status: %w", err)
	}
	r.wroteObject.Store(client.ObjectKeyFromObject(obj), obj.ResourceVersion)
	return nil
}

// reconcileNormal runs the phases; each sets its conditions. It returns the
// lowest requeue any phase asked for.
func (r *OAuthClientReconciler) reconcileNormal(ctx context.Context, obj, orig *oauthv1alpha1.OAuthClient) (ctrl.Result, error) {
	gen := obj.Generation
	conds := &obj.Status.Conditions

	server, err := r.resolveServer(ctx, obj)
	if err != nil {
		return r.fail(ctx, obj, err)
	}
	be, err := r.Backends.For(server)
	if err != nil {
		return r.fail(ctx, obj, err)
	}
	md, ferrs := clientMetadata(obj, backend.ClientPolicy(be, r.Policy))
	if len(ferrs) > 0 {
		return r.fail(ctx, obj, backend.Permanent(oauthv1alpha1.ReasonInvalidMetadata, "%s", ferrs.ToAggregate().Error()))
	}

	p := &clientPhase{r: r, obj: obj, orig: orig, server: server, backend: be, metadata: md, now: r.Clock.Now()}
	res, err := p.ensureCredentials(ctx)
	if err != nil {
		return r.fail(ctx, obj, err)
	}
	markReady(conds, gen, oauthv1alpha1.ReasonReady, "credentials are current in Secret "+obj.Spec.SecretName)
	return res, nil
}

// fail records err on the conditions and classifies it: permanent errors stop
// (terminal), pending ones requeue after a delay, others go back for backoff.
func (r *OAuthClientReconciler) fail(ctx context.Context, obj *oauthv1alpha1.OAuthClient, err error) (ctrl.Result, error) {
	gen := obj.Generation
	conds := &obj.Status.Conditions
	if staleCopy(err) {
		// Working from a copy older than a write already made (often our
		// own): read again shortly. Nothing is wrong, so nothing is reported.
		logf.FromContext(ctx).V(1).Info("stale copy, reading again", "reason", err.Error())
		return ctrl.Result{RequeueAfter: staleCopyRetry}, nil
	}
	if p, ok := backend.AsPending(err); ok {
		// A foreign Secret in the way needs a person: Stalled, though rechecked.
		markNotReady(conds, gen, p.Reason, p.Error(), p.Reason == oauthv1alpha1.ReasonSecretConflict)
		if p.Reason != oauthv1alpha1.ReasonReconciling {
			r.Metrics.Failed(r.backendOf(ctx, obj), p.Reason)
		}
		// Waiting on something that will tell us (a watch) or a short recheck.
		return ctrl.Result{RequeueAfter: p.RetryAfter}, nil
	}
	if p, ok := backend.AsPermanent(err); ok {
		markNotReady(conds, gen, p.Reason, p.Error(), true)
		r.Metrics.Failed(r.backendOf(ctx, obj), p.Reason)
		if p.Reason == oauthv1alpha1.ReasonInvalidMetadata || p.Reason == oauthv1alpha1.ReasonInvalidSpec {
			condFalse(conds, gen, oauthv1alpha1.ConditionRegistered, p.Reason, p.Error())
		}
		// A spec or server change re-triggers; retrying cannot help.
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	reason := oauthv1alpha1.ReasonReconciling
	if t, ok := backend.AsTransient(err); ok {
		reason = t.Reason
	}
	markNotReady(conds, gen, reason, "retrying: "+err.Error(), false)
	r.Metrics.Failed(r.backendOf(ctx, obj), reason)
	logf.FromContext(ctx).V(1).Info("reconcile failed, retrying", "error", err.Error())
	// Transient: backoff.
	return ctrl.Result{}, err
}

// resolveServer returns the referenced server, or a PendingError while it is
// missing or not Ready (server watches re-trigger the client).
func (r *OAuthClientReconciler) resolveServer(ctx context.Context, obj *oauthv1alpha1.OAuthClient) (oauthv1alpha1.ServerObject, error) {
	ref := obj.Spec.ServerRef
	server, key := oauthv1alpha1.ServerFor(obj.Spec.ServerRef, obj.Namespace)
	if err := r.Get(ctx, key, server.(client.Object)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &backend.PendingError{Reason: oauthv1alpha1.ReasonServerNotFound, Err: fmt.Errorf("%s %q does not exist", oauthv1alpha1.ServerKindOf(ref), ref.Name), RetryAfter: serverRecheck}
		}
		return nil, fmt.Errorf("reading %s %q: %w", oauthv1alpha1.ServerKindOf(ref), ref.Name, err)
	}
	if !isReady(server.GetStatus().Conditions, server.GetGeneration()) {
		return nil, &backend.PendingError{Reason: oauthv1alpha1.ReasonServerNotReady, Err: fmt.Errorf("%s %q is not Ready", oauthv1alpha1.ServerKindOf(ref), ref.Name), RetryAfter: serverRecheck}
	}
	return server, nil
}

// backendOf is the backend label of obj's server for metrics, read from the
// cache (only on failures); unknown when the server cannot be read.
func (r *OAuthClientReconciler) backendOf(ctx context.Context, obj *oauthv1alpha1.OAuthClient) string {
	if r.Metrics == nil {
		return metrics.BackendUnknown
	}
	server, key := oauthv1alpha1.ServerFor(obj.Spec.ServerRef, obj.Namespace)
	if err := r.Get(ctx, key, server.(client.Object)); err != nil {
		return metrics.BackendUnknown
	}
	return metrics.BackendOf(server)
}

// Deleting a registration at an unreachable or refusing server is retried
// with capped exponential backoff for a budget of time (DeletionTimeout from
// the first failed attempt), then the client stops (DeletionBlocked) and says
// how to let go (AnnotationAbandonRegistration).
const (
	// DefaultDeletionTimeout is the default deletion budget: long enough for
	// an authorization server's outage or maintenance window to pass
	// without help.
	DefaultDeletionTimeout = time.Hour
	// deletionBackoffBase and deletionBackoffCap bound the pause after a
	// failed attempt: 1s, 2s, 4s, ... up to 2 minutes, so a server that comes
	// back is tried again within 2 minutes.
	deletionBackoffBase = time.Second
	deletionBackoffCap  = 2 * time.Minute
)

// deletionBackoff is the pause after the n-th failed attempt (n >= 1).
func deletionBackoff(n int32) time.Duration {
	d := deletionBackoffBase
	for i := int32(1); i < n && d < deletionBackoffCap; i++ {
		d *= 2
	}
	return min(d, deletionBackoffCap)
}

// reconcileDelete removes the registration per deletionPolicy and handles the
// Secret: deleted with Delete, kept (owner reference removed) with Orphan.
func (r *OAuthClientReconciler) reconcileDelete(ctx context.Context, obj *oauthv1alpha1.OAuthClient) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(obj, oauthv1alpha1.FinalizerOAuthClient) {
		return ctrl.Result{}, nil
	}
	log := logf.FromContext(ctx)
	w := r.secrets()
	key := client.ObjectKey{Namespace: obj.Namespace, Name: obj.Spec.SecretName}
	abandon := obj.Annotations[oauthv1alpha1.AnnotationAbandonRegistration] == "true"
	switch obj.Spec.DeletionPolicy {
	case oauthv1alpha1.DeletionPolicyOrphan:
		if err := w.orphan(ctx, obj, key); err != nil {
			return ctrl.Result{}, err
		}
	default:
		if !abandon {
			if err := r.deleteUpstream(ctx, obj); err != nil {
				return r.deletionFailed(ctx, obj, err)
			}
		} else {
			eventf(r.Recorder, obj, corev1.EventTypeWarning, "Abandoned", "Delete", "registration left at the server as the annotation %s asks", oauthv1alpha1.AnnotationAbandonRegistration)
		}
		if err := w.deleteIfControlled(ctx, obj, key); err != nil {
			return ctrl.Result{}, err
		}
	}
	patch := client.MergeFrom(obj.DeepCopy())
	controllerutil.RemoveFinalizer(obj, oauthv1alpha1.FinalizerOAuthClient)
	if err := r.Patch(ctx, obj, patch); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
	}
	r.written.Delete(obj.UID)
	r.Metrics.ForgetClient(obj.Namespace, obj.Name)
	eventf(r.Recorder, obj, corev1.EventTypeNormal, "Deleted", "Delete", "registration removed (deletionPolicy %s)", obj.Spec.DeletionPolicy)
	if pr := obj.UnresolvedRegistration(); pr != nil {
		// The object was the only record of that request: say what may be
		// left at the server before it goes.
		eventf(r.Recorder, obj, corev1.EventTypeWarning, "RegistrationLeftAtServer", "Delete",
			"deleted with registration attempt %s unresolved (sent to %s at %s, no result stored): the server may hold a client it created, which the operator cannot see or delete; check the server",
			pr.ID, pr.Endpoint, pr.StartedAt.UTC().Format(time.RFC3339))
	}
	log.V(1).Info("deleted", "oauthclient", klog.KObj(obj), "deletionPolicy", obj.Spec.DeletionPolicy)
	return ctrl.Result{}, nil
}

// deleteUpstream deletes the current and any retiring registration at the
// server. Without the server object, a stored registration client URI still
// allows the delete (RFC 7592 needs only the URI and the token).
func (r *OAuthClientReconciler) deleteUpstream(ctx context.Context, obj *oauthv1alpha1.OAuthClient) error {
	state, err := r.storedState(ctx, obj, nil)
	if errors.Is(err, errSecretConflict) {
		return nil // nothing of ours to delete
	}
	if err != nil {
		return err
	}
	server, err := r.resolveServerForDelete(ctx, obj)
	if err != nil {
		return err
	}
	be, kept := r.Backends.Keeping(state.current)
	switch {
	case kept:
		// A registration the backend deletes with what is stored, whatever
		// the server object says now (gone, or made again with another
		// backend).
	case server != nil:
		if be, err = r.Backends.For(server); err != nil {
			return nil // a backend this build lacks keeps nothing we could delete
		}
	default:
		return nil
	}
	for _, c := range []*backend.Credentials{state.current, state.previous} {
		if c == nil {
			continue
		}
		if err := be.Delete(ctx, &backend.Request{Client: obj, Server: server, Stored: c, Now: r.Clock.Now()}); err != nil {
			return fmt.Errorf("deleting client %s at the server: %w", c.ClientIDForHumans(), err)
		}
	}
	return nil
}

// deletionFailed records a failed upstream delete in status and schedules the
// next attempt with capped exponential backoff, the last one at the end of
// the deletion budget, which starts at the first failure
// (status.deletionDeadline). Once it is spent the client is DeletionBlocked
// (Stalled) and makes one more attempt whenever it is reconciled again (an
// annotation change, an event of its server, a manager restart).
func (r *OAuthClientReconciler) deletionFailed(ctx context.Context, obj *oauthv1alpha1.OAuthClient, cause error) (ctrl.Result, error) {
	orig := obj.DeepCopy()
	now := r.Clock.Now()
	st := &obj.Status
	st.DeletionAttempts++
	if st.DeletionDeadline == nil {
		st.DeletionDeadline = &metav1.Time{Time: now.Add(r.deletionTimeout()).Truncate(time.Second)}
	}
	deadline := st.DeletionDeadline.UTC().Format(time.RFC3339)
	reason, res := oauthv1alpha1.ReasonDeleting, ctrl.Result{}
	var msg string
	if now.Before(st.DeletionDeadline.Time) {
		res.RequeueAfter = min(deletionBackoff(st.DeletionAttempts), st.DeletionDeadline.Sub(now))
		msg = fmt.Sprintf("deleting the registration at the server failed (attempt %d; next attempt in %s, giving up at %s): %v",
			st.DeletionAttempts, res.RequeueAfter, deadline, cause)
	} else {
		reason = oauthv1alpha1.ReasonDeletionBlocked
		msg = fmt.Sprintf("deleting the registration at the server failed (attempt %d; gave up at %s): %v. "+
			"Set the annotation %s=true to delete this object and leave the registration at the server, or change any annotation to try once more",
			st.DeletionAttempts, deadline, cause, oauthv1alpha1.AnnotationAbandonRegistration)
	}
	markNotReady(&st.Conditions, obj.Generation, reason, msg, reason == oauthv1alpha1.ReasonDeletionBlocked)
	st.ObservedGeneration = obj.Generation
	r.Metrics.Failed(r.backendOf(ctx, obj), reason)
	if err := r.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, kerrors.NewAggregate([]error{cause, fmt.Errorf("patching status: %w", err)})
	}
	eventf(r.Recorder, obj, corev1.EventTypeWarning, "DeletionFailed", "Delete", "%s", msg)
	if reason == oauthv1alpha1.ReasonDeletionBlocked {
		// No more scheduled retries; a later reconcile tries once more.
		return ctrl.Result{}, reconcile.TerminalError(cause)
	}
	// The pause is ours (the workqueue's per-item backoff starts at
	// milliseconds): the error is reported in the condition, the event and here.
	logf.FromContext(ctx).Info("deleting the registration failed; will retry", "oauthclient", klog.KObj(obj),
		"attempt", st.DeletionAttempts, "retryAfter", res.RequeueAfter, "giveUpAt", deadline, "error", cause.Error())
	return res, nil
}

func (r *OAuthClientReconciler) deletionTimeout() time.Duration {
	if r.DeletionTimeout > 0 {
		return r.DeletionTimeout
	}
	return DefaultDeletionTimeout
}

// resolveServerForDelete returns the server, Ready or not, or nil when it is
// gone: deleting a registration does not need a Ready server (what it needs
// is kept with the credentials), and a server that is not Ready may only be
// failing its probe for a moment.
func (r *OAuthClientReconciler) resolveServerForDelete(ctx context.Context, obj *oauthv1alpha1.OAuthClient) (oauthv1alpha1.ServerObject, error) {
	server, key := oauthv1alpha1.ServerFor(obj.Spec.ServerRef, obj.Namespace)
	if err := r.Get(ctx, key, server.(client.Object)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s %q: %w", oauthv1alpha1.ServerKindOf(obj.Spec.ServerRef), obj.Spec.ServerRef.Name, err)
	}
	return server, nil
}

func (r *OAuthClientReconciler) secrets() *secretWriter {
	return &secretWriter{client: r.Client, apiReader: r.APIReader, scheme: r.Scheme}
}

// SetupWithManager registers the controller, its index and its watches.
func (r *OAuthClientReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &oauthv1alpha1.OAuthClient{}, serverRefIndex, func(o client.Object) []string {
		c := o.(*oauthv1alpha1.OAuthClient)
		return []string{string(oauthv1alpha1.ServerKindOf(c.Spec.ServerRef)) + "/" + c.Spec.ServerRef.Name}
	}); err != nil {
		return fmt.Errorf("indexing OAuthClients by server: %w", err)
	}
	workers := r.MaxConcurrentReconciles
	if workers <= 0 {
		workers = 4
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&oauthv1alpha1.OAuthClient{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			userAnnotationsChanged(),
			deletionPredicate(),
		))).
		// The Secret's creation is our own write; its edits and deletion are
		// someone else's and must be repaired. Skipping create events saves a
		// reconcile per issued client (cache start-up lists arrive as creates,
		// but every OAuthClient is reconciled at start-up anyway).
		Owns(&corev1.Secret{}, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
		})).
		Watches(&oauthv1alpha1.AuthorizationServer{}, handler.EnqueueRequestsFromMapFunc(r.clientsOfServer)).
		Watches(&oauthv1alpha1.ClusterAuthorizationServer{}, handler.EnqueueRequestsFromMapFunc(r.clientsOfServer)).
		WithOptions(controller.Options{MaxConcurrentReconciles: workers}).
		Named("oauthclient").
		Complete(r)
}

// clientsOfServer maps a server event to the clients that reference it.
func (r *OAuthClientReconciler) clientsOfServer(ctx context.Context, o client.Object) []reconcile.Request {
	s, ok := o.(oauthv1alpha1.ServerObject)
	if !ok {
		return nil
	}
	opts := []client.ListOption{client.MatchingFields{serverRefIndex: string(s.ServerKind()) + "/" + o.GetName()}}
	if s.ServerKind() == oauthv1alpha1.KindAuthorizationServer {
		opts = append(opts, client.InNamespace(o.GetNamespace()))
	}
	list := &oauthv1alpha1.OAuthClientList{}
	if err := r.List(ctx, list, opts...); err != nil {
		logf.FromContext(ctx).Error(err, "listing clients of server", "server", klog.KObj(o))
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// deletionPredicate passes updates that set a deletion timestamp.
func deletionPredicate() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectNew != nil && !e.ObjectNew.GetDeletionTimestamp().IsZero() && (e.ObjectOld == nil || e.ObjectOld.GetDeletionTimestamp().IsZero())
	}}
}

// userAnnotationsChanged passes updates that change an annotation other than
// the in-flight mark: the mark is this controller's own write, made in the
// middle of a reconcile that goes on to store the result.
func userAnnotationsChanged() predicate.Funcs {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		if e.ObjectOld == nil || e.ObjectNew == nil {
			return false
		}
		oldA, newA := maps.Clone(e.ObjectOld.GetAnnotations()), maps.Clone(e.ObjectNew.GetAnnotations())
		delete(oldA, oauthv1alpha1.AnnotationRegistrationAttempt)
		delete(newA, oauthv1alpha1.AnnotationRegistrationAttempt)
		return !maps.Equal(oldA, newA)
	}}
}

// requeueAt returns a Result that requeues at t (or none when t is zero).
func requeueAt(now, t time.Time) ctrl.Result {
	if t.IsZero() {
		return ctrl.Result{}
	}
	d := t.Sub(now)
	if d < time.Second {
		d = time.Second
	}
	return ctrl.Result{RequeueAfter: d}
}
