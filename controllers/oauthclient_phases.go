package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/controllers/clientmeta"
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
func (p *clientPhase) ensureCredentials(ctx context.Context) (ctrl.Result, error) {
	obj, gen, conds := p.obj, p.obj.Generation, &p.obj.Status.Conditions
	log := logf.FromContext(ctx)

	stored, rotationSeen, err := p.r.storedCredentials(ctx, obj)
	if err != nil {
		if errors.Is(err, errSecretConflict) {
			return ctrl.Result{}, p.secretConflict()
		}
		return ctrl.Result{}, err
	}
	req := &backend.Request{Client: obj, Server: p.server, Metadata: p.metadata, Stored: stored, Now: p.now}
	obs, err := p.backend.Observe(ctx, req)
	if err != nil {
		return ctrl.Result{}, err
	}

	rotateRequest := obj.Annotations[oauthv1alpha1.AnnotationRotate]
	act, why := actionNone, ""
	switch {
	case !obs.Exists:
		act, why = actionCreate, "first registration"
		if stored != nil && stored.ClientID != "" {
			// Stored credentials no longer work (say why): replace them.
			act, why = actionRotate, obs.Message
		}
	case rotateRequest != "" && rotateRequest != rotationSeen:
		act, why = actionRotate, "rotation requested by annotation"
	case p.rotationDue(stored):
		act, why = actionRotate, "rotation interval elapsed"
	case stored != nil && !renewAt(stored).IsZero() && !p.now.Before(renewAt(stored)):
		act, why = actionRotate, "credentials are about to expire"
	case !obs.UpToDate:
		act, why = actionUpdate, obs.Message
	}

	creds := stored
	if act != actionNone {
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
			condFalse(conds, gen, oauthv1alpha1.ConditionRegistered, reasonOf(err, oauthv1alpha1.ReasonMintFailed), err.Error())
			p.r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, "IssueFailed", string(act), "could not issue credentials: %v", err)
			return ctrl.Result{}, err
		}
		log.Info("issued credentials", "oauthclient", klog.KObj(obj), "action", act, "reason", why)
	}
	if rotateRequest != "" && act == actionRotate {
		rotationSeen = rotateRequest
	}

	desired := p.r.desiredSecret(obj, creds, rotationSeen)
	written, err := p.r.secrets().write(ctx, obj, desired)
	if err != nil {
		if errors.Is(err, errSecretConflict) {
			return ctrl.Result{}, p.secretConflict()
		}
		condFalse(conds, gen, oauthv1alpha1.ConditionSecretSynced, oauthv1alpha1.ReasonSecretWriteFailed, err.Error())
		return ctrl.Result{}, err
	}
	if act != actionNone {
		reason := map[action]string{actionCreate: "Issued", actionUpdate: "Updated", actionRotate: "Rotated"}[act]
		p.r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, string(act), "credentials %s in Secret %s: %s", map[action]string{actionCreate: "issued", actionUpdate: "re-issued", actionRotate: "rotated"}[act], obj.Spec.SecretName, why)
	} else if written {
		log.V(1).Info("repaired Secret", "oauthclient", klog.KObj(obj))
	}

	// Status mirrors what is stored; nothing secret goes here.
	st := &obj.Status
	st.ClientID = creds.ClientID
	st.Issuer = creds.Issuer
	st.RegistrationClientURI = creds.RegistrationClientURI
	st.SecretName = obj.Spec.SecretName
	st.ClientIDIssuedAt = metaTime(creds.IssuedAt)
	st.LastRotationTime = metaTime(creds.IssuedAt)
	st.ClientSecretExpiresAt = metaTime(creds.ExpiresAt)
	st.ObservedRotationRequest = rotationSeen
	next := p.nextRotation(creds)
	st.NextRotationTime = metaTime(next)

	condTrue(conds, gen, oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ReasonRegistered, "client id issued by "+string(p.server.ServerKind())+" "+p.server.GetName())
	condTrue(conds, gen, oauthv1alpha1.ConditionSecretSynced, oauthv1alpha1.ReasonSecretSynced, "credentials stored in Secret "+obj.Spec.SecretName)
	// Come back when the next rotation or renewal is due.
	return requeueAt(p.now, next), nil
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
	return fallback
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}

// storedCredentials reads the credentials from the client's Secret. It
// returns nil credentials when there is no Secret, and errSecretConflict when
// the Secret belongs to someone else. The second result is the rotation
// request the stored credentials answer.
func (r *OAuthClientReconciler) storedCredentials(ctx context.Context, obj *oauthv1alpha1.OAuthClient) (*backend.Credentials, string, error) {
	w, key := r.secrets(), client.ObjectKey{Namespace: obj.Namespace, Name: obj.Spec.SecretName}
	s, err := w.get(ctx, key)
	if err == nil && s == nil && obj.Status.ClientID != "" {
		// Credentials were issued before but the cache lacks the Secret (its
		// label was removed, or the cache is behind): read it before anything
		// is issued again.
		s, err = w.getFresh(ctx, key)
	}
	if err != nil {
		return nil, "", err
	}
	if s == nil {
		return nil, "", nil
	}
	if !metav1.IsControlledBy(s, obj) {
		return nil, "", errSecretConflict
	}
	k := obj.SecretKeyNames()
	c := &backend.Credentials{
		ClientID:                string(s.Data[k.ClientID]),
		ClientSecret:            string(s.Data[k.ClientSecret]),
		RegistrationAccessToken: string(s.Data[k.RegistrationAccessToken]),
		RegistrationClientURI:   string(s.Data[k.RegistrationClientURI]),
		Issuer:                  string(s.Data[k.Issuer]),
		Digest:                  s.Annotations[oauthv1alpha1.AnnotationRegistrationDigest],
	}
	if t, err := time.Parse(time.RFC3339, s.Annotations[oauthv1alpha1.AnnotationIssuedAt]); err == nil {
		c.IssuedAt = t
	}
	if t, err := time.Parse(time.RFC3339, s.Annotations[oauthv1alpha1.AnnotationExpiresAt]); err == nil {
		c.ExpiresAt = t
	}
	return c, s.Annotations[oauthv1alpha1.AnnotationRotationRequest], nil
}

// desiredSecret is the credentials Secret for creds. Empty values are left out.
func (r *OAuthClientReconciler) desiredSecret(obj *oauthv1alpha1.OAuthClient, creds *backend.Credentials, rotationSeen string) *corev1.Secret {
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
	if !creds.IssuedAt.IsZero() {
		annotations[oauthv1alpha1.AnnotationIssuedAt] = creds.IssuedAt.UTC().Format(time.RFC3339)
	}
	if !creds.ExpiresAt.IsZero() {
		annotations[oauthv1alpha1.AnnotationExpiresAt] = creds.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if rotationSeen != "" {
		annotations[oauthv1alpha1.AnnotationRotationRequest] = rotationSeen
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
