package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/internal/clientmeta"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// secretConflictRecheck is how often a client blocked by a foreign Secret
// looks again (deleting a foreign Secret raises no event the cache sees).
const secretConflictRecheck = time.Minute

// clientPhase carries one reconcile of one OAuthClient through its phases.
type clientPhase struct {
	r        *OAuthClientReconciler
	obj      *oauthv1alpha1.OAuthClient
	server   oauthv1alpha1.ServerObject
	backend  backend.Backend
	metadata *metadata.Metadata
	now      time.Time
	// orig is the object as last written; the deferred status write diffs from it.
	orig *oauthv1alpha1.OAuthClient
	// pending is the in-flight mark written during this reconcile, if any.
	pending *oauthv1alpha1.PendingRegistration
	// adopting is true while spec.adoptFrom credentials are being taken over.
	adopting bool
}

// clientMetadata validates the spec with the shared rules and returns the
// metadata to register (as written, without defaults).
func clientMetadata(obj *oauthv1alpha1.OAuthClient, policy metadata.Policy) (*metadata.Metadata, field.ErrorList) {
	return clientmeta.Validate(&obj.Spec, policy)
}

// action is what ensureCredentials decided to do.
type action string

const (
	actionNone   action = ""
	actionCreate action = "Create"
	actionUpdate action = "Update"
	actionRotate action = "Rotate"
)

// eventReason is the reason of the Event that reports a done action.
func (a action) eventReason() string {
	return map[action]string{actionCreate: "Registered", actionUpdate: "Updated", actionRotate: "Rotated"}[a]
}

// rotationPolicy is what the spec says about replacing credentials.
type rotationPolicy struct {
	// interval is spec.rotation.interval; zero means no interval rotation.
	interval time.Duration
	// request is the value of the rotate annotation, if set.
	request string
}

// decision is what ensureCredentials does, and why.
type decision struct {
	action action
	why    string
	// answersRequest is the rotate annotation value the new credentials
	// answer, when they answer one.
	answersRequest string
}

// decide chooses the action from what is stored, what the backend observed,
// the rotation policy and the time. It reads nothing else and changes
// nothing: the first rule that applies wins.
func decide(state *storedState, obs backend.Observation, policy rotationPolicy, now time.Time) decision {
	stored := state.current
	d := decision{}
	switch {
	case !obs.Exists && (obs.Gone || stored == nil || stored.ClientID == ""):
		d.action, d.why = actionCreate, "first registration"
		if obs.Gone {
			d.why = obs.Message
		}
	case !obs.Exists:
		// Stored credentials no longer work (say why): replace them.
		d.action, d.why = actionRotate, obs.Message
	case policy.request != "" && policy.request != state.rotationSeen:
		d.action, d.why = actionRotate, "rotation requested by annotation"
	case stored == nil:
		// Observed as existing with nothing stored: nothing to go by.
	case policy.interval > 0 && !stored.IssuedAt.IsZero() && !now.Before(stored.IssuedAt.Add(policy.interval)):
		d.action, d.why = actionRotate, "rotation interval elapsed"
	case !renewAt(stored).IsZero() && !now.Before(renewAt(stored)):
		d.action, d.why = actionRotate, "credentials are about to expire"
	case !obs.UpToDate:
		d.action, d.why = actionUpdate, obs.Message
	}
	if d.action == actionRotate && policy.request != "" {
		d.answersRequest = policy.request
	}
	return d
}

// ensureCredentials observes the stored credentials, issues or replaces them
// when needed, writes the Secret, and fills the status from what is stored.
//
// A request that creates a registration at a server cannot be repeated
// safely, so: an in-flight mark is persisted before it is sent (see
// markPending); its result is written to the Secret at once (with a context
// that survives the manager shutting down); a result that cannot be stored is
// deleted at the server again; and an in-flight mark found with no stored
// result stops the client until a person says otherwise
// (AnnotationRecoverRegistration).
func (p *clientPhase) ensureCredentials(ctx context.Context) (ctrl.Result, error) {
	state, obs, err := p.observe(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	d := decide(state, obs, p.rotationPolicy(), p.now)
	if err := p.issueDecided(ctx, state, &obs, d); err != nil {
		return ctrl.Result{}, err
	}
	retired := state.previous != nil
	if err := p.retirePrevious(ctx, state); err != nil {
		return ctrl.Result{}, err
	}
	if err := p.syncSecret(ctx, state, d, retired && state.previous == nil); err != nil {
		return ctrl.Result{}, err
	}
	// Come back for the next rotation, renewal, resync or retirement.
	return requeueAt(p.now, earliest(p.projectStatus(state), obs.NextCheck, state.retireAt)), nil
}

// observe reads what is stored (the Secret, an in-flight mark, credentials
// to adopt) and asks the backend how it stands at the server. Credentials
// the server handed out while being read are stored at once.
func (p *clientPhase) observe(ctx context.Context) (*storedState, backend.Observation, error) {
	obj := p.obj
	state, err := p.r.storedState(ctx, obj, p.ensureFinalizer)
	if err != nil {
		if errors.Is(err, errSecretConflict) {
			return nil, backend.Observation{}, p.secretConflict()
		}
		return nil, backend.Observation{}, err
	}
	if err := p.resolvePending(ctx, state); err != nil {
		return nil, backend.Observation{}, err
	}
	if state.current == nil && obj.Spec.AdoptFrom != nil {
		adopted, err := p.r.adoptedCredentials(ctx, obj)
		if err != nil {
			return nil, backend.Observation{}, err
		}
		state.current = adopted
		p.adopting = true
	}
	obs, err := p.backend.Observe(ctx, p.request(state))
	if err != nil {
		if p.adopting {
			return nil, obs, backend.Permanent(oauthv1alpha1.ReasonAdoptionFailed, "adopting the registration in Secret %q: %v", obj.Spec.AdoptFrom.SecretName, err)
		}
		return nil, obs, err
	}
	if p.adopting && !obs.Exists {
		return nil, obs, backend.Permanent(oauthv1alpha1.ReasonAdoptionFailed, "the registration in Secret %q cannot be taken over: %s", obj.Spec.AdoptFrom.SecretName, obs.Message)
	}
	if obs.Refreshed != nil {
		// The server handed out new credentials while being read: store
		// them before anything else, or they are lost.
		state.current = obs.Refreshed
		if err := p.persist(ctx, state); err != nil {
			return nil, obs, err
		}
	}
	return state, obs, nil
}

// request is the backend request for the credentials now in state.
func (p *clientPhase) request(state *storedState) *backend.Request {
	return &backend.Request{Client: p.obj, Server: p.server, Metadata: p.metadata, Stored: state.current, Now: p.now}
}

// rotationPolicy is what of the spec decide needs.
func (p *clientPhase) rotationPolicy() rotationPolicy {
	return rotationPolicy{interval: rotationInterval(p.obj), request: p.obj.Annotations[oauthv1alpha1.AnnotationRotate]}
}

// issueDecided carries out d, if it asks for anything: the new credentials
// are stored in the Secret before it returns.
func (p *clientPhase) issueDecided(ctx context.Context, state *storedState, obs *backend.Observation, d decision) error {
	if d.action == actionNone {
		return nil
	}
	// Recorded before issuing: the Secret written with the new credentials
	// must say which request they answer.
	prevSeen := state.rotationSeen
	if d.answersRequest != "" {
		state.rotationSeen = d.answersRequest
	}
	if err := p.issue(ctx, p.request(state), state, d.action); err != nil {
		state.rotationSeen = prevSeen
		return err
	}
	logf.FromContext(ctx).Info("issued credentials", "oauthclient", klog.KObj(p.obj), "action", d.action, "reason", d.why)
	// The backend says when it wants to look at the new credentials.
	obs.NextCheck = state.current.CheckAfter
	p.r.Metrics.Issued(p.server, string(d.action))
	// A registration made over the embedded endpoint is recorded by the
	// object itself; an Event per HTTP registration would be one more API
	// write each (failures still raise Events).
	if d.action != actionCreate || p.obj.Labels[oauthv1alpha1.LabelRegisteredVia] != oauthv1alpha1.RegisteredViaEndpoint {
		eventf(p.r.Recorder, p.obj, corev1.EventTypeNormal, d.action.eventReason(), string(d.action), "client %s: credentials in Secret %s (%s)", state.current.ClientIDForHumans(), p.obj.Spec.SecretName, d.why)
	}
	return nil
}

// syncSecret brings the Secret in line with state when issuing did not just
// write it, or when a retired registration left it (repairs edits, applies
// secretTemplate changes).
func (p *clientPhase) syncSecret(ctx context.Context, state *storedState, d decision, retired bool) error {
	if d.action != actionNone && !retired {
		return nil
	}
	err := p.ensureFinalizer(ctx)
	written, rv := false, ""
	if err == nil {
		written, rv, err = p.r.secrets().write(ctx, p.obj, p.r.desiredSecret(p.obj, state))
	}
	if err != nil {
		if errors.Is(err, errSecretConflict) {
			return p.secretConflict()
		}
		condFalse(&p.obj.Status.Conditions, p.obj.Generation, oauthv1alpha1.ConditionSecretSynced, oauthv1alpha1.ReasonSecretWriteFailed, err.Error())
		return err
	}
	p.r.expect(p.obj, rv)
	if written {
		logf.FromContext(ctx).V(1).Info("repaired Secret", "oauthclient", klog.KObj(p.obj))
	}
	return nil
}

// resolvePending handles an in-flight mark left by an earlier reconcile
// (obj.UnresolvedRegistration).
func (p *clientPhase) resolvePending(ctx context.Context, state *storedState) error {
	pr := p.obj.UnresolvedRegistration()
	if pr == nil {
		return nil
	}
	recovered := p.obj.Annotations[oauthv1alpha1.AnnotationRecoverRegistration] == pr.ID
	if (state.current == nil || state.current.AttemptID != pr.ID) && !recovered {
		// About to stop the client: first make sure neither the object nor
		// the Secret is only cached from before the writes that resolved it.
		if err := p.confirmUnresolved(ctx, pr); err != nil {
			return err
		}
	}
	switch {
	case state.current != nil && state.current.AttemptID == pr.ID:
		// The result was stored; only the status write after it was lost.
		p.resolved(pr.ID)
		return nil
	case recovered:
		eventf(p.r.Recorder, p.obj, corev1.EventTypeWarning, "RecoveringRegistration", "Register",
			"registering again although the result of attempt %s (sent to %s at %s) was lost, as the annotation %s asks", pr.ID, pr.Endpoint, pr.StartedAt.UTC().Format(time.RFC3339), oauthv1alpha1.AnnotationRecoverRegistration)
		p.resolved(pr.ID)
		return nil
	default:
		msg := fmt.Sprintf("a registration request sent to %s at %s (attempt %s) has no stored result: the server may hold a client this operator cannot see or delete. "+
			"Check the server, then set the annotation %s=%s to register again", pr.Endpoint, pr.StartedAt.UTC().Format(time.RFC3339), pr.ID, oauthv1alpha1.AnnotationRecoverRegistration, pr.ID)
		if prev := p.obj.Status.PendingRegistration; prev == nil || prev.ID != pr.ID {
			// Found now (a manager stopped between the request and its
			// result): an Event records it, as for a request that got no answer.
			eventf(p.r.Recorder, p.obj, corev1.EventTypeWarning, oauthv1alpha1.ReasonRegistrationIncomplete, "Register", "%s", msg)
		}
		p.obj.Status.PendingRegistration = pr
		condFalse(&p.obj.Status.Conditions, p.obj.Generation, oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ReasonRegistrationIncomplete, msg)
		return backend.Permanent(oauthv1alpha1.ReasonRegistrationIncomplete, "%s", msg)
	}
}

// confirmUnresolved reads the object and its Secret past the cache: it
// returns a requeue when either shows attempt pr resolved (the cache is
// behind), and nil when both agree that its result was lost.
func (p *clientPhase) confirmUnresolved(ctx context.Context, pr *oauthv1alpha1.PendingRegistration) error {
	fresh := &oauthv1alpha1.OAuthClient{}
	if err := p.r.APIReader.Get(ctx, client.ObjectKeyFromObject(p.obj), fresh); err != nil {
		return fmt.Errorf("confirming the in-flight registration mark: %w", err)
	}
	if fp := fresh.UnresolvedRegistration(); fp == nil || fp.ID != pr.ID {
		return errCacheBehind
	}
	s := &corev1.Secret{}
	switch err := p.r.APIReader.Get(ctx, client.ObjectKey{Namespace: p.obj.Namespace, Name: p.obj.Spec.SecretName}, s); {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("confirming the in-flight registration mark: %w", err)
	case ours(s, p.obj) && s.Annotations[oauthv1alpha1.AnnotationAttemptID] == pr.ID:
		return errCacheBehind
	}
	return nil
}

// resolved records that the outcome of attempt id is known.
func (p *clientPhase) resolved(id string) {
	p.obj.Status.ResolvedRegistrationAttempt = id
	p.obj.Status.PendingRegistration = nil
}

// markPending persists the in-flight mark before a registration is sent.
//
// The mark is the annotation AnnotationRegistrationAttempt, written with the
// finalizer in one update of the object's metadata, locked on the
// resourceVersion the reconcile read: a reconcile working from a stale copy
// (say, one that does not show an earlier attempt yet) fails here and does
// not register. The mark is not removed afterwards, which would cost a write:
// the Secret (AnnotationAttemptID) and status.resolvedRegistrationAttempt,
// written anyway with the result, say that it was answered. So a
// registration costs three API writes: this one, the Secret, the status.
//
// A foreign Secret of the same name is invisible to the label-selected cache;
// it shows when the result is stored, and the registration is then deleted
// at the server again (see issue).
func (p *clientPhase) markPending(ctx context.Context, endpoint string) error {
	id, err := randomID()
	if err != nil {
		return err
	}
	pr := oauthv1alpha1.PendingRegistration{ID: id, StartedAt: metav1.NewTime(p.now), Endpoint: endpoint}
	err = p.patchMetadata(ctx, "recording the registration attempt", func(o *oauthv1alpha1.OAuthClient) error {
		controllerutil.AddFinalizer(o, oauthv1alpha1.FinalizerOAuthClient)
		return o.SetRegistrationAttempt(pr)
	})
	if err != nil {
		return err
	}
	condFalse(&p.obj.Status.Conditions, p.obj.Generation, oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ReasonRegistering, "sending a registration request to "+endpoint)
	p.pending = &pr
	return nil
}

// confirmLatest returns errCacheBehind when the object is cached from before
// this controller's last write to it (one uncached read decides when the
// resourceVersions differ): a write locked on the cached copy would be
// refused, and a refused write costs the API server as much as a write.
func (p *clientPhase) confirmLatest(ctx context.Context) error {
	wrote, ok := p.r.wroteObject.Load(client.ObjectKeyFromObject(p.obj))
	if !ok || wrote.(string) == p.obj.ResourceVersion {
		return nil
	}
	fresh := &oauthv1alpha1.OAuthClient{}
	if err := p.r.APIReader.Get(ctx, client.ObjectKeyFromObject(p.obj), fresh); err != nil {
		return fmt.Errorf("reading the object before the in-flight mark: %w", err)
	}
	if fresh.ResourceVersion != p.obj.ResourceVersion {
		return errCacheBehind
	}
	return nil
}

// ensureFinalizer adds the finalizer, if missing, before the first state
// that deletion must clean up exists: a Secret, or a registration taken over.
// A registration sent to a server gets it with its in-flight mark instead.
func (p *clientPhase) ensureFinalizer(ctx context.Context) error {
	if controllerutil.ContainsFinalizer(p.obj, oauthv1alpha1.FinalizerOAuthClient) {
		return nil
	}
	return p.patchMetadata(ctx, "adding the finalizer", func(o *oauthv1alpha1.OAuthClient) error {
		controllerutil.AddFinalizer(o, oauthv1alpha1.FinalizerOAuthClient)
		return nil
	})
}

// patchMetadata applies change to the object's metadata in one patch locked
// on its resourceVersion (merge patches replace lists such as finalizers
// whole, so a concurrent writer must fail rather than be overwritten). The
// status this reconcile has built so far is kept for its deferred write.
func (p *clientPhase) patchMetadata(ctx context.Context, what string, change func(*oauthv1alpha1.OAuthClient) error) error {
	if err := p.confirmLatest(ctx); err != nil {
		return err
	}
	base := p.obj.DeepCopy()
	if err := change(p.obj); err != nil {
		return err
	}
	if err := p.r.Patch(ctx, p.obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		base.DeepCopyInto(p.obj)
		return fmt.Errorf("%s: %w", what, err)
	}
	// The answer carries the stored status: keep the one being built.
	p.obj.Status = *base.Status.DeepCopy()
	p.orig.ObjectMeta = *p.obj.ObjectMeta.DeepCopy()
	p.r.wroteObject.Store(client.ObjectKeyFromObject(p.obj), p.obj.ResourceVersion)
	return nil
}

// issue runs the chosen action and persists its result at once.
func (p *clientPhase) issue(ctx context.Context, req *backend.Request, state *storedState, act action) error {
	// Backends call it only right before they really register (Create,
	// Rotate, or an Update that has to re-register).
	req.BeforeRegister = p.markPending
	var creds *backend.Credentials
	var err error
	switch act {
	case actionCreate:
		creds, err = p.backend.Create(ctx, req)
	case actionUpdate:
		creds, err = p.backend.Update(ctx, req)
	case actionRotate:
		creds, err = p.backend.Rotate(ctx, req)
	}
	if err != nil {
		return p.issueFailed(err, act)
	}
	if p.pending != nil {
		creds.AttemptID = p.pending.ID
	}
	cutShort := p.keepForOverlap(state, creds, act)
	state.current = creds
	if err := p.persist(ctx, state); err != nil {
		return p.persistFailed(ctx, err, creds, act)
	}
	if p.pending != nil {
		p.resolved(p.pending.ID)
	}
	if cutShort != nil {
		// Only now that the new credentials are stored: an earlier overlap
		// is cut short and its client deleted. A failure leaves it at the
		// server, and says so; it does not lose what was just issued.
		if err := p.deleteRegistration(ctx, cutShort); err != nil {
			eventf(p.r.Recorder, p.obj, corev1.EventTypeWarning, "OrphanedRegistration", string(act),
				"previous client %s, replaced before its overlap ended, could not be deleted at the server; delete it there: %v", cutShort.ClientIDForHumans(), err)
		}
	}
	return nil
}

// keepForOverlap moves the stored credentials to state.previous when creds,
// from a rotation, are a new client at a server that keeps registrations:
// the old client stays valid for the overlap. It returns the credentials of
// an earlier overlap this one cuts short, to delete once creds are stored.
func (p *clientPhase) keepForOverlap(state *storedState, creds *backend.Credentials, act action) *backend.Credentials {
	if act != actionRotate || state.current == nil || state.current.RegistrationClientURI == "" || creds.ClientID == state.current.ClientID {
		return nil
	}
	cutShort := state.previous
	state.previous = state.current
	state.retireAt = p.now.Add(rotationOverlap(p.obj))
	return cutShort
}

// issueFailed records a failed issue: a request that got no answer keeps
// the in-flight mark and stops the client; anything else was not registered.
func (p *clientPhase) issueFailed(err error, act action) error {
	obj, gen, conds := p.obj, p.obj.Generation, &p.obj.Status.Conditions
	switch {
	case errors.Is(err, errSecretConflict):
		return p.secretConflict()
	case p.pending == nil && staleCopy(err):
		// The mark could not be written over a stale copy: nothing was sent.
		return err
	case p.pending != nil && backend.IsUncertain(err):
		// Sent, unanswered: the mark stays, and so does the client.
		pr := p.pending
		obj.Status.PendingRegistration = pr
		msg := fmt.Sprintf("the registration request sent to %s (attempt %s) got no answer: the server may have registered a client this operator cannot see or delete. "+
			"Check the server, then set the annotation %s=%s to register again", pr.Endpoint, pr.ID, oauthv1alpha1.AnnotationRecoverRegistration, pr.ID)
		condFalse(conds, gen, oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ReasonRegistrationIncomplete, msg)
		eventf(p.r.Recorder, obj, corev1.EventTypeWarning, oauthv1alpha1.ReasonRegistrationIncomplete, string(act), "%s", msg)
		return backend.Permanent(oauthv1alpha1.ReasonRegistrationIncomplete, "%s", msg)
	}
	// Nothing was registered: the mark is answered.
	if p.pending != nil {
		p.resolved(p.pending.ID)
	}
	condFalse(conds, gen, oauthv1alpha1.ConditionRegistered, reasonOf(err, oauthv1alpha1.ReasonMintFailed), err.Error())
	eventf(p.r.Recorder, obj, corev1.EventTypeWarning, "RegistrationFailed", string(act), "%v", err)
	return err
}

// persistFailed handles new credentials that could not be stored: a
// registration is taken back at the server, or, when that fails too, its
// mark stays and an Event names the client to delete by hand.
func (p *clientPhase) persistFailed(ctx context.Context, err error, creds *backend.Credentials, act action) error {
	obj := p.obj
	if p.pending == nil && staleCopy(err) {
		// The finalizer could not be added over a stale copy: nothing that
		// needs cleaning up exists (credentials minted here are kept
		// nowhere); the reconcile runs again.
		return err
	}
	if p.pending != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistTimeout)
		defer cancel()
		if derr := p.backend.Delete(dctx, &backend.Request{Client: obj, Server: p.server, Stored: creds, Now: p.now}); derr == nil {
			p.resolved(p.pending.ID)
		} else {
			obj.Status.PendingRegistration = p.pending
			eventf(p.r.Recorder, obj, corev1.EventTypeWarning, "OrphanedRegistration", string(act),
				"client %s was registered but could neither be stored nor deleted; delete it at the server", creds.ClientIDForHumans())
		}
	}
	if errors.Is(err, errSecretConflict) {
		return p.secretConflict()
	}
	condFalse(&obj.Status.Conditions, obj.Generation, oauthv1alpha1.ConditionSecretSynced, oauthv1alpha1.ReasonSecretWriteFailed, err.Error())
	return backend.Transient(oauthv1alpha1.ReasonSecretWriteFailed, err)
}

// persistTimeout bounds writing a fresh result, even while the manager stops.
const persistTimeout = 30 * time.Second

// persist writes the Secret now, with a context that outlives a cancelled
// reconcile (a stopping manager still stores what a server handed out), and
// retries briefly.
func (p *clientPhase) persist(ctx context.Context, state *storedState) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistTimeout)
	defer cancel()
	if err := p.ensureFinalizer(wctx); err != nil {
		return err
	}
	desired := p.r.desiredSecret(p.obj, state)
	var err error
	for attempt := 0; attempt < 4; attempt++ {
		var rv string
		if _, rv, err = p.r.secrets().write(wctx, p.obj, desired); err == nil || errors.Is(err, errSecretConflict) {
			p.r.expect(p.obj, rv)
			return err
		}
		select {
		case <-wctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 250 * time.Millisecond):
		}
	}
	return err
}

// retirePrevious deletes the previous registration once its overlap ended.
func (p *clientPhase) retirePrevious(ctx context.Context, state *storedState) error {
	if state.previous == nil || p.now.Before(state.retireAt) {
		return nil
	}
	if err := p.deleteRegistration(ctx, state.previous); err != nil {
		return err
	}
	eventf(p.r.Recorder, p.obj, corev1.EventTypeNormal, "Retired", "Delete", "previous client %s deleted after the rotation overlap", state.previous.ClientIDForHumans())
	state.previous, state.retireAt = nil, time.Time{}
	return nil
}

func (p *clientPhase) deleteRegistration(ctx context.Context, c *backend.Credentials) error {
	if err := p.backend.Delete(ctx, &backend.Request{Client: p.obj, Server: p.server, Stored: c, Now: p.now}); err != nil {
		return fmt.Errorf("deleting previous client %s: %w", c.ClientIDForHumans(), err)
	}
	return nil
}

func rotationOverlap(obj *oauthv1alpha1.OAuthClient) time.Duration {
	if obj.Spec.Rotation != nil && obj.Spec.Rotation.Overlap != nil {
		return obj.Spec.Rotation.Overlap.Duration
	}
	return time.Hour
}

func earliest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if !t.IsZero() && (out.IsZero() || t.Before(out)) {
			out = t
		}
	}
	return out
}

func randomID() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating an attempt id: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// secretConflict records that the Secret belongs to someone else and returns
// a PendingError: nothing is written, and the client looks again slowly
// (deleting a foreign Secret raises no event the label-selected cache sees).
func (p *clientPhase) secretConflict() error {
	msg := fmt.Sprintf("Secret %q exists and is not controlled by this OAuthClient; it is left untouched", p.obj.Spec.SecretName)
	condFalse(&p.obj.Status.Conditions, p.obj.Generation, oauthv1alpha1.ConditionSecretSynced, oauthv1alpha1.ReasonSecretConflict, msg)
	return &backend.PendingError{Reason: oauthv1alpha1.ReasonSecretConflict, Err: errors.New(msg), RetryAfter: secretConflictRecheck}
}

// renewAt is when credentials that expire are replaced: after two thirds of
// their lifetime (cert-manager's default), so a failing renewal has a third
// of the lifetime to be noticed and fixed. Zero when they never expire.
func renewAt(c *backend.Credentials) time.Time {
	if c.ExpiresAt.IsZero() || c.IssuedAt.IsZero() {
		return time.Time{}
	}
	return c.IssuedAt.Add(c.ExpiresAt.Sub(c.IssuedAt) * 2 / 3)
}

func rotationInterval(obj *oauthv1alpha1.OAuthClient) time.Duration {
	if obj.Spec.Rotation == nil || obj.Spec.Rotation.Interval == nil {
		return 0
	}
	return obj.Spec.Rotation.Interval.Duration
}

func reasonOf(err error, fallback string) string { return backend.ReasonOf(err, fallback) }

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// isReady reports whether a Ready condition is True for the current generation.
func isReady(conds []metav1.Condition, generation int64) bool {
	for _, c := range conds {
		if c.Type == oauthv1alpha1.ConditionReady {
			return c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
		}
	}
	return false
}
