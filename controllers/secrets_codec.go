package controllers

// The credentials Secret as the OAuthClient reconciler reads and writes it:
// what it holds (storedState), how credentials are encoded in it, and the
// cache expectations that keep a reconcile from acting on its own stale
// writes.

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

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
		if s, err = r.adoptSecret(ctx, obj, s, beforeAdopt); err != nil {
			return nil, err
		}
	}
	return r.decodeStoredState(s, obj), nil
}

// adoptSecret takes over a Secret that is not obj's: one an earlier
// OAuthClient of this name kept (deletionPolicy Orphan) is taken over with
// its registration; not while obj is being deleted, which would take the
// registration down. Any other Secret is errSecretConflict.
func (r *OAuthClientReconciler) adoptSecret(ctx context.Context, obj *oauthv1alpha1.OAuthClient, s *corev1.Secret, beforeAdopt func(context.Context) error) (*corev1.Secret, error) {
	if !orphanedFor(s, obj) || !obj.DeletionTimestamp.IsZero() {
		return nil, errSecretConflict
	}
	if beforeAdopt != nil {
		if err := beforeAdopt(ctx); err != nil {
			return nil, err
		}
	}
	s, err := r.secrets().adopt(ctx, obj, s)
	if err != nil {
		return nil, err
	}
	eventf(r.Recorder, obj, corev1.EventTypeNormal, "Adopted", "Adopt",
		"took over Secret %s and its registration, kept by an earlier OAuthClient of this name (deletionPolicy Orphan)", s.Name)
	r.expect(obj, s.ResourceVersion)
	return s, nil
}

// decodeStoredState reads the credentials of obj's own Secret s.
func (r *OAuthClientReconciler) decodeStoredState(s *corev1.Secret, obj *oauthv1alpha1.OAuthClient) *storedState {
	st := credentialsFromSecret(s, obj.SecretKeyNames(), "")
	for _, k := range r.Backends.SecretDataKeys() {
		if v, ok := s.Data[k]; ok {
			if st.Data == nil {
				st.Data = map[string][]byte{}
			}
			st.Data[k] = v
		}
	}
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
	return state
}

// errCacheBehind means the cache does not show a write this controller
// made yet (to the Secret or the object); acting on it could repeat what was
// just done. The reconcile is retried after staleCopyRetry.
var errCacheBehind = errors.New("the cache does not show the last write yet")

// staleCopy reports whether err says the reconcile worked from a copy older
// than a write already made (often its own): a reason to read again, not a
// failure.
func staleCopy(err error) bool {
	return errors.Is(err, errCacheBehind) || apierrors.IsConflict(err)
}

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
		return nil, &backend.PendingError{Reason: oauthv1alpha1.ReasonAdoptionFailed, Err: fmt.Errorf("the Secret %q named by spec.adoptFrom does not exist", key.Name), RetryAfter: secretConflictRecheck}
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
	for k, v := range creds.Data {
		if _, taken := data[k]; !taken && len(v) > 0 {
			data[k] = v
		}
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
	if next := nextRotation(rotationInterval(obj), creds); !next.IsZero() {
		set(oauthv1alpha1.AnnotationNextRotation, next.UTC().Format(time.RFC3339))
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
