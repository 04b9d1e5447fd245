package stateless

// The server half of the stateless backend: the key Secret (generated,
// rotated, pruned) and the JWKS in status, and the authorization server that
// accepts the ids.

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// ReconcileServer keeps the key Secret current and publishes the keys in
// status, then resolves the authorization server that accepts the ids.
func (b *Backend) ReconcileServer(ctx context.Context, obj oauthv1alpha1.ServerObject) (backend.ServerResult, error) {
	st := obj.GetStatus()
	st.Issuer = obj.GetSpec().Stateless.Issuer
	next, err := b.reconcileKeys(ctx, obj)
	if err != nil {
		return backend.ServerResult{}, backend.WithReason(err, oauthv1alpha1.ReasonKeysFailed)
	}
	return backend.ServerResult{
		Ready:        "signing keys are ready and published in status.jwks",
		RequeueAfter: b.reconcileAuthorizationServer(ctx, obj, next),
	}, nil
}

// ForgetServer drops the cached keys and discovery of a deleted server.
func (b *Backend) ForgetServer(uid types.UID) { b.Forget(uid) }

// ServerSecrets names the key Secret.
func (b *Backend) ServerSecrets(obj oauthv1alpha1.ServerObject, clusterNS string) []backend.ServerSecret {
	ref := oauthv1alpha1.StatelessKeySecret(obj, clusterNS)
	return []backend.ServerSecret{{Description: "key Secret " + ref.String(), NamespacedName: ref}}
}

// Keeps is false: a stateless id is kept nowhere.
func (b *Backend) Keeps(*backend.Credentials) bool { return false }

// CheckIssue mints an id for md without keeping it.
func (b *Backend) CheckIssue(ctx context.Context, server oauthv1alpha1.ServerObject, md *metadata.Metadata) error {
	return b.CheckMint(ctx, server, md)
}

// ConfigureEndpoint gives the endpoint the keys and id settings it mints
// with: ids minted over HTTP are used at the authorization server, as the
// reconciler's are.
func (b *Backend) ConfigureEndpoint(ctx context.Context, obj oauthv1alpha1.ServerObject, srv *endpoint.Server) error {
	st := obj.GetSpec().Stateless
	if srv.Storage == endpoint.StorageStateless && st.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionRecipientKey {
		// Ids encrypted to the authorization server's key cannot be read
		// back by the endpoint (RFC 7592 reads), and signed-only ids would
		// need the derivation keys that mode keeps from it.
		return fmt.Errorf("%w: Stateless storage cannot serve encryption.mode RecipientKey; use Stateful storage", backend.ErrEndpointMisconfigured)
	}
	// The keys, minter and verifier the reconciler mints with: parsed and
	// built once per version of the key Secret, for both.
	e, err := b.load(ctx, obj)
	if err != nil {
		return err
	}
	srv.Keys, srv.Crypto = e.keys, e.crypto
	srv.ClientIDIssuer = st.Issuer
	srv.ClientIDAudience = st.EffectiveAudience()
	srv.SigningAlgorithm = st.EffectiveSigningAlgorithm()
	srv.ClientIDLifetime = st.EffectiveLifetime()
	srv.Encrypt = st.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionGenerated
	return nil
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
func (b *Backend) reconcileAuthorizationServer(ctx context.Context, obj oauthv1alpha1.ServerObject, res time.Duration) time.Duration {
	st, gen := obj.GetStatus(), obj.GetGeneration()
	soonest := func(d time.Duration) time.Duration {
		if res <= 0 || d < res {
			res = d
		}
		return res
	}
	eps, err := b.AuthorizationServer(ctx, obj)
	switch {
	case err != nil:
		backend.ConditionFalse(&st.Conditions, gen, oauthv1alpha1.ConditionAuthorizationServerResolved, backend.ReasonOf(err, oauthv1alpha1.ReasonDiscoveryFailed), err.Error())
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
	backend.ConditionTrue(&st.Conditions, gen, oauthv1alpha1.ConditionAuthorizationServerResolved, oauthv1alpha1.ReasonReady,
		fmt.Sprintf("authorization endpoint %q, token endpoint %q (%s)", eps.Authorization, eps.Token, how))
	if eps.Discovered {
		return soonest(authorizationServerRefresh)
	}
	return res
}

// reconcileKeys keeps the key Secret current: an active signing key of the
// configured algorithm (and an encryption key in Generated mode), rotated on
// the interval, retired keys pruned once every id they signed has expired.
// The Secret is written before the status publishes anything. It returns
// when to come back (the next rotation or prune; zero for never).
func (b *Backend) reconcileKeys(ctx context.Context, obj oauthv1alpha1.ServerObject) (time.Duration, error) {
	spec, st, gen := obj.GetSpec().Stateless, obj.GetStatus(), obj.GetGeneration()
	now := b.Clock.Now()
	if spec.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionRecipientKey {
		if _, _, err := RecipientKey(spec); err != nil {
			backend.ConditionFalse(&st.Conditions, gen, oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonInvalidSpec, err.Error())
			return 0, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "%v", err)
		}
	}
	ref := oauthv1alpha1.StatelessKeySecret(obj, b.ClusterResourceNamespace)
	keys, existed, err := b.readKeys(ctx, obj, ref)
	if err != nil {
		return 0, err
	}
	changed, nextRotation, err := b.rotateKeys(obj, keys, now)
	if err != nil {
		return 0, err
	}
	if changed || !existed {
		if err := b.storeKeys(ctx, obj, ref, keys); err != nil {
			return 0, err
		}
	}
	if err := publishKeys(obj, ref, keys, nextRotation); err != nil {
		return 0, err
	}
	next := nextRotation
	if p := keys.NextPrune(); !p.IsZero() && (next.IsZero() || p.Before(next)) {
		next = p
	}
	// Come back for the next rotation or prune.
	if next.IsZero() {
		return 0, nil
	}
	return max(next.Sub(now), time.Second), nil
}

// readKeys reads the key set from the key Secret; an absent Secret is an
// empty set. A Secret the server does not control is left alone.
func (b *Backend) readKeys(ctx context.Context, obj oauthv1alpha1.ServerObject, ref types.NamespacedName) (*sci.KeySet, bool, error) {
	st, gen := obj.GetStatus(), obj.GetGeneration()
	existing, err := b.Secrets.Get(ctx, ref)
	if err != nil {
		return nil, false, err
	}
	if existing != nil && !b.Secrets.Owns(existing, obj.(client.Object)) {
		msg := fmt.Sprintf("key Secret %s exists and is not controlled by this server; it is left untouched", ref)
		backend.ConditionFalse(&st.Conditions, gen, oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonKeySecretConflict, msg)
		return nil, false, &backend.PendingError{Reason: oauthv1alpha1.ReasonKeySecretConflict, Err: fmt.Errorf("%s", msg), RetryAfter: backend.ConflictRecheck}
	}
	if existing == nil || len(existing.Data[KeySetDataKey]) == 0 {
		return &sci.KeySet{}, existing != nil, nil
	}
	keys, err := sci.ParseKeySet(existing.Data[KeySetDataKey])
	if err != nil {
		backend.ConditionFalse(&st.Conditions, gen, oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonKeysFailed, "the key Secret cannot be parsed; delete it to start over (existing ids then stop verifying)")
		return nil, false, backend.Permanent(oauthv1alpha1.ReasonKeysFailed, "parsing key Secret %s: %v", ref, err)
	}
	return keys, true, nil
}

// rotateKeys makes sure keys has an active key of every configured use and
// algorithm, rotates those older than the interval and prunes the retired
// ones no id needs. It reports whether keys changed and when the next
// rotation is due.
func (b *Backend) rotateKeys(obj oauthv1alpha1.ServerObject, keys *sci.KeySet, now time.Time) (bool, time.Time, error) {
	spec := obj.GetSpec().Stateless
	// A retired key stays published for the id lifetime plus a margin, so a
	// verifier that allows clock leeway never sees the key go before its ids.
	lifetime := spec.EffectiveLifetime()
	if lifetime > 0 {
		lifetime += PublishMargin
	}
	interval := spec.EffectiveRotationInterval()
	type want struct {
		use sci.KeyUse
		alg string
	}
	wanted := []want{{use: "sig", alg: spec.EffectiveSigningAlgorithm()}}
	if spec.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionGenerated {
		wanted = append(wanted, want{use: "enc", alg: EncryptionKeyAlgorithm})
	}
	changed := false
	var nextRotation time.Time
	for _, k := range wanted {
		c, err := keys.Ensure(k.use, k.alg, now, lifetime)
		if err != nil {
			return false, time.Time{}, fmt.Errorf("generating %s key: %w", k.use, err)
		}
		changed = changed || c
		if interval <= 0 {
			continue
		}
		active, _ := keys.Active(k.use)
		due := active.CreatedAt.Add(interval)
		if !now.Before(due) {
			if err := keys.Rotate(k.use, k.alg, now, lifetime); err != nil {
				return false, time.Time{}, fmt.Errorf("rotating %s key: %w", k.use, err)
			}
			changed = true
			backend.Eventf(b.Recorder, obj.(runtime.Object), corev1.EventTypeNormal, "KeyRotated", "Rotate", "rotated the %s key", k.use)
			active, _ = keys.Active(k.use)
			due = active.CreatedAt.Add(interval)
		}
		if nextRotation.IsZero() || due.Before(nextRotation) {
			nextRotation = due
		}
	}
	// Drop keys of a use no longer configured once their ids have expired.
	if keys.Prune(now) {
		changed = true
	}
	return changed, nextRotation, nil
}

// storeKeys writes keys to the key Secret.
func (b *Backend) storeKeys(ctx context.Context, obj oauthv1alpha1.ServerObject, ref types.NamespacedName, keys *sci.KeySet) error {
	raw, err := keys.Marshal()
	if err != nil {
		return fmt.Errorf("encoding key set: %w", err)
	}
	desired := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{KeySetDataKey: raw},
	}
	if err := b.Secrets.Write(ctx, obj.(client.Object), desired); err != nil {
		backend.ConditionFalse(&obj.GetStatus().Conditions, obj.GetGeneration(), oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonKeysFailed, "writing the key Secret failed; retrying")
		return err
	}
	logf.FromContext(ctx).Info("stored keys", "server", klog.KObj(obj), "secret", ref.String(), "keys", len(keys.Keys))
	return nil
}

// publishKeys puts the public keys and their states in status.
func publishKeys(obj oauthv1alpha1.ServerObject, ref types.NamespacedName, keys *sci.KeySet, nextRotation time.Time) error {
	st := obj.GetStatus()
	jwks, err := keys.PublicJWKS()
	if err != nil {
		return fmt.Errorf("publishing JWKS: %w", err)
	}
	st.JWKS = compactJSON(jwks)
	st.Keys = keyStatuses(keys)
	st.KeySecretRef = &oauthv1alpha1.SecretReference{Name: ref.Name, Namespace: ref.Namespace}
	st.NextKeyRotationTime = metaTime(nextRotation)
	backend.ConditionTrue(&st.Conditions, obj.GetGeneration(), oauthv1alpha1.ConditionKeysReady, oauthv1alpha1.ReasonKeysReady, fmt.Sprintf("%d key(s) published", len(st.Keys)))
	return nil
}

// keyStatuses lists the keys for status.keys.
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

// compactJSON is b without insignificant white space (b when it is not JSON).
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

// metaTime is t as an API time to the second, or nil when t is zero.
func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.UTC().Truncate(time.Second))
	return &mt
}
