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
	"github.com/clientreg/clientreg/controllers/clientmeta"
	"github.com/clientreg/clientreg/controllers/registration"
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
	obj, gen, conds := p.obj, p.obj.Generation, &p.obj.Status.Conditions
	log := logf.FromContext(ctx)

	state, err := p.r.storedState(ctx, obj, p.ensureFinalizer)
	if err != nil {
		if errors.Is(err, errSecretConflict) {
			return ctrl.Result{}, p.secretConflict()
		}
		return ctrl.Result{}, err
	}
	if err := p.resolvePending(ctx, state); err != nil {
		return ctrl.Result{}, err
	}
	if state.current == nil && obj.Spec.AdoptFrom != nil {
		adopted, err := p.r.adoptedCredentials(ctx, obj)
		if err != nil {
			return ctrl.Result{}, err
		}
		state.current = adopted
		p.adopting = true
	}

	req := &backend.Request{Client: obj, Server: p.server, Metadata: p.metadata, Stored: state.current, Now: p.now}
	obs, err := p.backend.Observe(ctx, req)
	if err != nil {
		if p.adopting {
			return ctrl.Result{}, backend.Permanent(oauthv1alpha1.ReasonAdoptionFailed, "adopting the registration in Secret %q: %v", obj.Spec.AdoptFrom.SecretName, err)
		}
		return ctrl.Result{}, err
	}
	if p.adopting && !obs.Exists {
		return ctrl.Result{}, backend.Permanent(oauthv1alpha1.ReasonAdoptionFailed, "the registration in Secret %q cannot be taken over: %s", obj.Spec.AdoptFrom.SecretName, obs.Message)
	}
	if obs.Refreshed != nil {
		// The server handed out new credentials while being read: store
		// them before anything else, or they are lost.
		state.current = obs.Refreshed
		if err := p.persist(ctx, state); err != nil {
			return ctrl.Result{}, err
		}
	}

	rotateRequest := obj.Annotations[oauthv1alpha1.AnnotationRotate]
	act, why := actionNone, ""
	switch {
	case !obs.Exists && (obs.Gone || state.current == nil || state.current.ClientID == ""):
		act, why = actionCreate, "first registration"
		if obs.Gone {
			why = obs.Message
		}
	case !obs.Exists:
		// Stored credentials no longer work (say why): replace them.
		act, why = actionRotate, obs.Message
	case rotateRequest != "" && rotateRequest != state.rotationSeen:
		act, why = actionRotate, "rotation requested by annotation"
	case p.rotationDue(state.current):
		act, why = actionRotate, "rotation interval elapsed"
	case !renewAt(state.current).IsZero() && !p.now.Before(renewAt(state.current)):
		act, why = actionRotate, "credentials are about to expire"
	case !obs.UpToDate:
		act, why = actionUpdate, obs.Message
	}

	if act != actionNone {
		// Recorded before issuing: the Secret written with the new
		// credentials must say which request they answer.
		prevSeen := state.rotationSeen
		if rotateRequest != "" && act == actionRotate {
			state.rotationSeen = rotateRequest
		}
		if err := p.issue(ctx, req, state, act, why); err != nil {
			state.rotationSeen = prevSeen
			return ctrl.Result{}, err
		}
		log.Info("issued credentials", "oauthclient", klog.KObj(obj), "action", act, "reason", why)
		// The backend says when it wants to look at the new credentials.
		obs.NextCheck = state.current.CheckAfter
	}

	retired := state.previous != nil
	if err := p.retirePrevious(ctx, state); err != nil {
		return ctrl.Result{}, err
	}
	retired = retired && state.previous == nil
	written, rv := false, ""
	if act == actionNone || retired {
		// Issuing persisted the Secret already; otherwise bring it in line
		// (repairs edits, applies secretTemplate changes).
		if err = p.ensureFinalizer(ctx); err == nil {
			written, rv, err = p.r.secrets().write(ctx, obj, p.r.desiredSecret(obj, state))
		}
	}
	if err != nil {
		if errors.Is(err, errSecretConflict) {
			return ctrl.Result{}, p.secretConflict()
		}
		condFalse(conds, gen, oauthv1alpha1.ConditionSecretSynced, oauthv1alpha1.ReasonSecretWriteFailed, err.Error())
		return ctrl.Result{}, err
	}
	p.r.expect(obj, rv)
	if act != actionNone {
		p.r.Metrics.Issued(p.server, string(act))
		reason := map[action]string{actionCreate: "Registered", actionUpdate: "Updated", actionRotate: "Rotated"}[act]
		// A registration made over the embedded endpoint is recorded by the
		// object itself; an Event per HTTP registration would be one more
		// API write each (failures still raise Events).
		if act != actionCreate || obj.Labels[registration.LabelRegisteredVia] != registration.RegisteredViaEndpoint {
			eventf(p.r.Recorder, obj, corev1.EventTypeNormal, reason, string(act), "client %s: credentials in Secret %s (%s)", state.current.ClientIDForHumans(), obj.Spec.SecretName, why)
		}
	} else if written {
		log.V(1).Info("repaired Secret", "oauthclient", klog.KObj(obj))
	}

	// Status mirrors what is stored; nothing secret goes here.
	creds := state.current
	st := &obj.Status
	st.ClientID = creds.ClientID
	st.ShortClientID = creds.ClientIDForHumans()
	st.Issuer = creds.Issuer
	st.RegistrationClientURI = creds.RegistrationClientURI
	st.SecretName = obj.Spec.SecretName
	st.ClientIDIssuedAt = metaTime(creds.IssuedAt)
	st.LastRotationTime = metaTime(creds.IssuedAt)
	st.ClientSecretExpiresAt = metaTime(creds.ExpiresAt)
	st.ObservedRotationRequest = state.rotationSeen
	st.RetiringClientID, st.RetireAt = "", nil
	if state.previous != nil {
		st.RetiringClientID, st.RetireAt = state.previous.ClientID, metaTime(state.retireAt)
	}
	next := p.nextRotation(creds)
	st.NextRotationTime = metaTime(next)

	condTrue(conds, gen, oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ReasonRegistered, "client "+creds.ClientIDForHumans()+" issued by "+string(p.server.ServerKind())+" "+p.server.GetName())
	condTrue(conds, gen, oauthv1alpha1.ConditionSecretSynced, oauthv1alpha1.ReasonSecretSynced, "credentials stored in Secret "+obj.Spec.SecretName)
	// Come back for the next rotation, renewal, resync or retirement.
	return requeueAt(p.now, earliest(next, obs.NextCheck, state.retireAt)), nil
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
		p.obj.Status.PendingRegistration = pr
		condFalse(&p.obj.Status.Conditions, p.obj.Generation, oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ReasonRegistrationIncomplete, msg)
		return backend.Permanent(oauthv1alpha1.ReasonRegistrationIncomplete, "%s", msg)
	}
}

// confirmUnresolved reads the object and its Secret past the cache: it
// returns a requeue when either shows attempt pr resolved (the cache is
// behind), and nil when both agree that its result was lost.
func (p *clientPhase) confirmUnresolved(ctx context.Context, pr *oauthv1alpha1.PendingRegistration) error {
	behind := errCacheBehind
	fresh := &oauthv1alpha1.OAuthClient{}
	if err := p.r.APIReader.Get(ctx, client.ObjectKeyFromObject(p.obj), fresh); err != nil {
		return fmt.Errorf("confirming the in-flight registration mark: %w", err)
	}
	if fp := fresh.UnresolvedRegistration(); fp == nil || fp.ID != pr.ID {
		return behind
	}
	s, err := p.r.secrets().getFresh(ctx, client.ObjectKey{Namespace: p.obj.Namespace, Name: p.obj.Spec.SecretName})
	if err != nil {
		return fmt.Errorf("confirming the in-flight registration mark: %w", err)
	}
	if s != nil && ours(s, p.obj) && s.Annotations[oauthv1alpha1.AnnotationAttemptID] == pr.ID {
		return behind
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
	return nil
}

// issue runs the chosen action and persists its result at once.
func (p *clientPhase) issue(ctx context.Context, req *backend.Request, state *storedState, act action, why string) error {
	obj, gen, conds := p.obj, p.obj.Generation, &p.obj.Status.Conditions
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
		if errors.Is(err, errSecretConflict) {
			return p.secretConflict()
		}
		if p.pending == nil && apierrors.IsConflict(err) {
			// The mark could not be written over a stale copy: nothing was sent.
			return err
		}
		if p.pending != nil && backend.IsUncertain(err) {
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
	if p.pending != nil {
		creds.AttemptID = p.pending.ID
	}
	if act == actionRotate && state.current != nil && state.current.RegistrationClientURI != "" && creds.ClientID != state.current.ClientID {
		// A new client replaced the old one: keep the old one for the overlap.
		if state.previous != nil {
			// An earlier overlap is cut short; its client is deleted now.
			if err := p.deleteRegistration(ctx, state.previous); err != nil {
				return err
			}
		}
		state.previous = state.current
		state.retireAt = p.now.Add(rotationOverlap(obj))
	}
	state.current = creds
	if err := p.persist(ctx, state); err != nil {
		if p.pending != nil {
			// Registered but not storable: take the registration back.
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
		condFalse(conds, gen, oauthv1alpha1.ConditionSecretSynced, oauthv1alpha1.ReasonSecretWriteFailed, err.Error())
		return backend.Transient(oauthv1alpha1.ReasonSecretWriteFailed, err)
	}
	if p.pending != nil {
		p.resolved(p.pending.ID)
	}
	return nil
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

// rotationDue reports whether spec.rotation.interval has elapsed since issue.
func (p *clientPhase) rotationDue(stored *backend.Credentials) bool {
	iv := rotationInterval(p.obj)
	if iv <= 0 || stored == nil || stored.IssuedAt.IsZero() {
		return false
	}
	return !p.now.Before(stored.IssuedAt.Add(iv))
}

// nextRotation is the earlier of interval rotation and renewal before expiry
// of the credentials now stored.
func (p *clientPhase) nextRotation(creds *backend.Credentials) time.Time {
	var next time.Time
	if iv := rotationInterval(p.obj); iv > 0 && !creds.IssuedAt.IsZero() {
		next = creds.IssuedAt.Add(iv)
	}
	if renew := renewAt(creds); !renew.IsZero() && (next.IsZero() || renew.Before(next)) {
		next = renew
	}
	return next
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

func reasonOf(err error, fallback string) string {
	if p, ok := backend.AsPermanent(err); ok {
		return p.Reason
	}
	if p, ok := backend.AsPending(err); ok {
		return p.Reason
	}
	if t, ok := backend.AsTransient(err); ok {
		return t.Reason
	}
	return fallback
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// storedState is what the credentials Secret holds.
type storedState struct {
	current  *backend.Credentials
	previous *backend.Credentials // a replaced registration kept for the rotation overlap
	retireAt time.Time
	// rotationSeen is the rotation request the stored credentials answer.
	rotationSeen string
}

// storedState reads the client's Secret. It returns an empty state when there
// is no Secret, and errSecretConflict when the Secret belongs to someone else.
// beforeAdopt, when not nil, runs before a kept Secret (and its
// registration) is taken over.
func (r *OAuthClientReconciler) storedState(ctx context.Context, obj *oauthv1alpha1.OAuthClient, beforeAdopt func(context.Context) error) (*storedState, error) {
	w, key := r.secrets(), client.ObjectKey{Namespace: obj.Namespace, Name: obj.Spec.SecretName}
	s, err := w.get(ctx, key)
	if err == nil && s == nil && (obj.Status.ClientID != "" || obj.UnresolvedRegistration() != nil) {
		// Credentials were issued before but the cache lacks the Secret (its
		// label was removed, or the cache is behind): read it before anything
		// is issued again.
		s, err = w.getFresh(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	if s, err = r.confirmCache(ctx, obj, s); err != nil {
		return nil, err
	}
	if s == nil {
		return &storedState{}, nil
	}
	if !ours(s, obj) {
		// A Secret an earlier OAuthClient of this name kept (deletionPolicy
		// Orphan) is taken over with its registration; not while this
		// object is being deleted, which would take the registration down.
		if !orphanedFor(s, obj) || !obj.DeletionTimestamp.IsZero() {
			return nil, errSecretConflict
		}
		if beforeAdopt != nil {
			if err := beforeAdopt(ctx); err != nil {
				return nil, err
			}
		}
		if s, err = r.secrets().adopt(ctx, obj, s); err != nil {
			return nil, err
		}
		eventf(r.Recorder, obj, corev1.EventTypeNormal, "Adopted", "Adopt",
			"took over Secret %s and its registration, kept by an earlier OAuthClient of this name (deletionPolicy Orphan)", s.Name)
		r.expect(obj, s.ResourceVersion)
	}
	st := credentialsFromSecret(s, obj.SecretKeyNames(), "")
	state := &storedState{rotationSeen: s.Annotations[oauthv1alpha1.AnnotationRotationRequest]}
	if st.ClientID != "" || st.RegistrationClientURI != "" {
		state.current = st
	}
	prev := credentialsFromSecret(s, oauthv1alpha1.SecretKeys{
		ClientID: oauthv1alpha1.DefaultKeyClientID, ClientSecret: oauthv1alpha1.DefaultKeyClientSecret,
		RegistrationAccessToken: oauthv1alpha1.DefaultKeyRegistrationAccessToken, RegistrationClientURI: oauthv1alpha1.DefaultKeyRegistrationClientURI,
		Issuer: oauthv1alpha1.DefaultKeyIssuer,
	}, oauthv1alpha1.PreviousKeyPrefix)
	if prev.ClientID != "" {
		state.previous = prev
		if t, err := time.Parse(time.RFC3339, s.Annotations[oauthv1alpha1.AnnotationRetireAt]); err == nil {
			state.retireAt = t
		}
	}
	return state, nil
}

// errCacheBehind means the cache does not show a write this controller
// made yet (to the Secret or the object); acting on it could repeat what was
// just done. The reconcile is retried after staleCopyRetry.
var errCacheBehind = errors.New("the cache does not show the last write yet")

// staleCopyRetry is how soon a reconcile that worked from a stale copy of
// the object or its Secret runs again.
const staleCopyRetry = 200 * time.Millisecond

// expect records the resourceVersion of the Secret just written for obj.
func (r *OAuthClientReconciler) expect(obj *oauthv1alpha1.OAuthClient, rv string) {
	if rv != "" {
		r.written.Store(obj.UID, rv)
	}
}

// confirmCache checks the cached Secret against the one last written
// (controller "expectations"). A difference is confirmed with one uncached
// read: the same Secret as cached means someone else changed it (act on it);
// another means the cache is behind (wait for it).
func (r *OAuthClientReconciler) confirmCache(ctx context.Context, obj *oauthv1alpha1.OAuthClient, cached *corev1.Secret) (*corev1.Secret, error) {
	want, ok := r.written.Load(obj.UID)
	if !ok || (cached != nil && cached.ResourceVersion == want.(string)) {
		return cached, nil
	}
	fresh, err := r.secrets().getFresh(ctx, client.ObjectKey{Namespace: obj.Namespace, Name: obj.Spec.SecretName})
	if err != nil {
		return nil, err
	}
	switch {
	case fresh == nil:
		// Deleted by someone: act on that.
		r.written.Delete(obj.UID)
		return nil, nil
	case cached != nil && fresh.ResourceVersion == cached.ResourceVersion:
		// The cache is current; the Secret changed after our write.
		r.written.Delete(obj.UID)
		return cached, nil
	case fresh.ResourceVersion == want.(string):
		return nil, errCacheBehind
	default:
		r.written.Delete(obj.UID)
		return fresh, nil
	}
}

// credentialsFromSecret reads one set of credentials; prefix selects the previous_* set.
func credentialsFromSecret(s *corev1.Secret, k oauthv1alpha1.SecretKeys, prefix string) *backend.Credentials {
	c := &backend.Credentials{
		ClientID:                string(s.Data[prefix+k.ClientID]),
		ClientSecret:            string(s.Data[prefix+k.ClientSecret]),
		RegistrationAccessToken: string(s.Data[prefix+k.RegistrationAccessToken]),
		RegistrationClientURI:   string(s.Data[prefix+k.RegistrationClientURI]),
		Issuer:                  string(s.Data[prefix+k.Issuer]),
		// One CA bundle serves both registrations: they are at one server.
		CABundle: s.Data[oauthv1alpha1.KeyRegistrationCABundle],
	}
	if prefix != "" {
		return c
	}
	c.Digest = s.Annotations[oauthv1alpha1.AnnotationRegistrationDigest]
	c.AttemptID = s.Annotations[oauthv1alpha1.AnnotationAttemptID]
	if t, err := time.Parse(time.RFC3339, s.Annotations[oauthv1alpha1.AnnotationIssuedAt]); err == nil {
		c.IssuedAt = t
	}
	if t, err := time.Parse(time.RFC3339, s.Annotations[oauthv1alpha1.AnnotationExpiresAt]); err == nil {
		c.ExpiresAt = t
	}
	return c
}

// adoptedCredentials reads the registration named by spec.adoptFrom.
func (r *OAuthClientReconciler) adoptedCredentials(ctx context.Context, obj *oauthv1alpha1.OAuthClient) (*backend.Credentials, error) {
	key := client.ObjectKey{Namespace: obj.Namespace, Name: obj.Spec.AdoptFrom.SecretName}
	s, err := r.secrets().getFresh(ctx, key)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, &backend.PendingError{Reason: oauthv1alpha1.ReasonAdoptionFailed, Err: fmt.Errorf("Secret %q named by spec.adoptFrom does not exist", key.Name), RetryAfter: secretConflictRecheck}
	}
	if owner := metav1.GetControllerOf(s); owner != nil && owner.UID != obj.UID {
		return nil, backend.Permanent(oauthv1alpha1.ReasonAdoptionFailed, "Secret %q named by spec.adoptFrom is controlled by %s %s", key.Name, owner.Kind, owner.Name)
	}
	if s.Type != "" && s.Type != corev1.SecretTypeOpaque {
		return nil, backend.Permanent(oauthv1alpha1.ReasonAdoptionFailed, "Secret %q named by spec.adoptFrom has type %s; a registration is taken over only from an Opaque Secret", key.Name, s.Type)
	}
	c := credentialsFromSecret(s, oauthv1alpha1.SecretKeys{
		ClientID: oauthv1alpha1.DefaultKeyClientID, ClientSecret: oauthv1alpha1.DefaultKeyClientSecret,
		RegistrationAccessToken: oauthv1alpha1.DefaultKeyRegistrationAccessToken, RegistrationClientURI: oauthv1alpha1.DefaultKeyRegistrationClientURI,
		Issuer: oauthv1alpha1.DefaultKeyIssuer,
	}, "")
	c.Digest, c.AttemptID, c.IssuedAt, c.ExpiresAt = "", "", time.Time{}, time.Time{}
	if c.ClientID == "" || c.RegistrationAccessToken == "" || c.RegistrationClientURI == "" {
		return nil, backend.Permanent(oauthv1alpha1.ReasonAdoptionFailed, "Secret %q named by spec.adoptFrom must hold client_id, registration_access_token and registration_client_uri", key.Name)
	}
	if key.Name == obj.Spec.SecretName && metav1.GetControllerOf(s) == nil {
		// Adopting the very Secret we write to: take control of it.
		patch := client.MergeFrom(s.DeepCopy())
		if err := controllerutil.SetControllerReference(obj, s, r.Scheme); err != nil {
			return nil, fmt.Errorf("taking over Secret %q: %w", key.Name, err)
		}
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		for k, v := range managedLabels("OAuthClient", obj.Name) {
			s.Labels[k] = v
		}
		if err := r.Patch(ctx, s, patch); err != nil {
			return nil, fmt.Errorf("taking over Secret %q: %w", key.Name, err)
		}
	}
	return c, nil
}

// desiredSecret is the credentials Secret for state. Empty values are left out.
func (r *OAuthClientReconciler) desiredSecret(obj *oauthv1alpha1.OAuthClient, state *storedState) *corev1.Secret {
	creds := state.current
	k := obj.SecretKeyNames()
	data := map[string][]byte{}
	put := func(key, v string) {
		if v != "" {
			data[key] = []byte(v)
		}
	}
	put(k.ClientID, creds.ClientID)
	put(k.ClientSecret, creds.ClientSecret)
	put(k.RegistrationAccessToken, creds.RegistrationAccessToken)
	put(k.RegistrationClientURI, creds.RegistrationClientURI)
	put(k.Issuer, creds.Issuer)
	if len(creds.CABundle) > 0 {
		data[oauthv1alpha1.KeyRegistrationCABundle] = creds.CABundle
	}
	if prev := state.previous; prev != nil {
		pk := oauthv1alpha1.PreviousKeyPrefix
		put(pk+oauthv1alpha1.DefaultKeyClientID, prev.ClientID)
		put(pk+oauthv1alpha1.DefaultKeyClientSecret, prev.ClientSecret)
		put(pk+oauthv1alpha1.DefaultKeyRegistrationAccessToken, prev.RegistrationAccessToken)
		put(pk+oauthv1alpha1.DefaultKeyRegistrationClientURI, prev.RegistrationClientURI)
	}

	labels := map[string]string{}
	annotations := map[string]string{}
	if t := obj.Spec.SecretTemplate; t != nil {
		for k, v := range t.Labels {
			labels[k] = v
		}
		for k, v := range t.Annotations {
			annotations[k] = v
		}
	}
	for k, v := range managedLabels("OAuthClient", obj.Name) {
		labels[k] = v
	}
	annotations[oauthv1alpha1.AnnotationRegistrationDigest] = creds.Digest
	set := func(key, v string) {
		if v != "" {
			annotations[key] = v
		}
	}
	if !creds.IssuedAt.IsZero() {
		set(oauthv1alpha1.AnnotationIssuedAt, creds.IssuedAt.UTC().Format(time.RFC3339))
	}
	if !creds.ExpiresAt.IsZero() {
		set(oauthv1alpha1.AnnotationExpiresAt, creds.ExpiresAt.UTC().Format(time.RFC3339))
	}
	set(oauthv1alpha1.AnnotationRotationRequest, state.rotationSeen)
	set(oauthv1alpha1.AnnotationAttemptID, creds.AttemptID)
	if state.previous != nil {
		set(oauthv1alpha1.AnnotationRetireAt, state.retireAt.UTC().Format(time.RFC3339))
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: obj.Namespace, Name: obj.Spec.SecretName, Labels: labels, Annotations: annotations},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
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
