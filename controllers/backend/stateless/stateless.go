// Package stateless is the backend for servers with spec.stateless: it mints
// client ids itself (package registrar/stateless) with the keys the server
// reconciler keeps in the server's key Secret. Nothing is stored anywhere but
// the client's own credentials Secret.
package stateless

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/dcr"
	"github.com/clientreg/clientreg/registrar/metadata"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// KeySetDataKey is the data key of the key Secret that holds the key set.
const KeySetDataKey = "keys.json"

// DefaultClientIDLifetime applies when spec.stateless.clientIDLifetime is unset.
const DefaultClientIDLifetime = oauthv1alpha1.DefaultClientIDLifetime

// DefaultKeyRotationInterval applies when spec.stateless.keyRotationInterval is unset.
const DefaultKeyRotationInterval = oauthv1alpha1.DefaultKeyRotationInterval

// PublishMargin is how much longer than the id lifetime a retired key stays
// published, so a verifier that allows clock leeway never sees a key go
// before its ids.
const PublishMargin = 5 * time.Minute

// EncryptionKeyAlgorithm is the key management algorithm of generated encryption keys.
const EncryptionKeyAlgorithm = "ECDH-ES+A256KW"

// RecipientKey parses and checks spec.stateless.encryption.recipientKey: a
// public EC P-256 key (ECDH-ES+A256KW) or an RSA key of at least 2048 bits
// (RSA-OAEP-256). A missing kid defaults to the key's RFC 7638 thumbprint.
// Every key the minter would refuse is refused here, so the server reports
// InvalidSpec instead of its clients failing one by one.
func RecipientKey(s *oauthv1alpha1.StatelessServer) (*jose.JSONWebKey, string, error) {
	r, err := recipientOf(s)
	if err != nil {
		return nil, "", err
	}
	return &r.Key, r.Algorithm, nil
}

func recipientOf(s *oauthv1alpha1.StatelessServer) (*sci.Recipient, error) {
	if s.Encryption == nil || s.Encryption.RecipientKey == nil {
		return nil, errors.New("spec.stateless.encryption.recipientKey is required for mode RecipientKey")
	}
	return sci.ParseRecipient("spec.stateless.encryption.recipientKey", s.Encryption.RecipientKey.Raw)
}

// Backend mints stateless client ids. It is safe for concurrent use.
type Backend struct {
	// Reader reads key Secrets (the manager's cache, which holds managed Secrets).
	Reader client.Reader
	// ClusterResourceNamespace holds the key Secrets of ClusterAuthorizationServers.
	ClusterResourceNamespace string
	// Clock stamps iat and exp.
	Clock clock.PassiveClock
	// NewRegistrar builds the client that discovers the metadata of the
	// authorization server accepting the ids (spec.stateless.
	// authorizationServer); nil means registrar/dcr's real client.
	NewRegistrar func(dcr.Config) (dcr.Registrar, error)
	// Secrets reads (past the cache) and writes the servers' key Secrets.
	Secrets backend.SecretStore
	// Recorder records key rotations on the server objects.
	Recorder events.EventRecorder

	mu      sync.Mutex
	entries map[types.UID]*entry
	// discovered caches the authorization server endpoints per server.
	discovered map[types.UID]discovery
}

var (
	_ backend.Backend                     = (*Backend)(nil)
	_ backend.RegistrationChangeValidator = (*Backend)(nil)
)

// entry caches the minter and verifier built from one version of a key Secret
// and server spec, so 1000 clients do not parse keys 1000 times.
type entry struct {
	version string
	keys    *sci.KeySet
	// crypto's Verifier is nil when ids are encrypted to a key the operator
	// does not hold.
	crypto     *sci.Crypto
	issuer     string
	lifetime   time.Duration
	settingsID string
}

func (b *Backend) load(ctx context.Context, server oauthv1alpha1.ServerObject) (*entry, error) {
	spec := server.GetSpec().Stateless
	if spec == nil {
		return nil, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "server %s has no stateless configuration", server.GetName())
	}
	ref := oauthv1alpha1.StatelessKeySecret(server, b.ClusterResourceNamespace)
	secret := &corev1.Secret{}
	if err := b.Reader.Get(ctx, ref, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &backend.PendingError{Reason: oauthv1alpha1.ReasonServerNotReady, Err: fmt.Errorf("key Secret %s of server %s does not exist yet", ref, server.GetName()), RetryAfter: 5 * time.Second}
		}
		return nil, fmt.Errorf("reading key Secret %s: %w", ref, err)
	}
	version := fmt.Sprintf("%s/%s/%d", secret.UID, secret.ResourceVersion, server.GetGeneration())

	b.mu.Lock()
	if e, ok := b.entries[server.GetUID()]; ok && e.version == version {
		b.mu.Unlock()
		return e, nil
	}
	b.mu.Unlock()

	keys, err := sci.ParseKeySet(secret.Data[KeySetDataKey])
	if err != nil {
		return nil, fmt.Errorf("parsing key Secret %s: %w", ref, err)
	}
	alg := spec.EffectiveSigningAlgorithm()
	e := &entry{version: version, issuer: spec.Issuer, lifetime: spec.EffectiveLifetime(), keys: keys}
	settings := map[string]any{"iss": spec.Issuer, "aud": spec.EffectiveAudience(), "alg": alg, "lifetime": e.lifetime.String(), "enc": string(spec.EffectiveEncryptionMode())}
	ids := sci.IDSettings{Issuer: spec.Issuer, Audience: spec.EffectiveAudience(), Lifetime: e.lifetime, Algorithm: alg, Clock: b.Clock,
		EncryptToKeySet: spec.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionGenerated}
	if ids.Recipient, err = recipient(spec, settings); err != nil {
		return nil, err
	}
	switch e.crypto, err = sci.NewCrypto(keys, ids); {
	case errors.Is(err, sci.ErrKeysNotReady):
		return nil, &backend.PendingError{Reason: oauthv1alpha1.ReasonServerNotReady, Err: fmt.Errorf("server %s: %w", server.GetName(), err), RetryAfter: 5 * time.Second}
	case err != nil && ids.Recipient != nil:
		return nil, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "spec.stateless.encryption.recipientKey cannot be used: %v", err)
	case err != nil:
		return nil, fmt.Errorf("server %s: %w", server.GetName(), err)
	}
	raw, _ := json.Marshal(settings)
	e.settingsID = string(raw)

	b.mu.Lock()
	if b.entries == nil {
		b.entries = map[types.UID]*entry{}
	}
	b.entries[server.GetUID()] = e
	b.mu.Unlock()
	return e, nil
}

// recipient is the key ids are encrypted to in mode RecipientKey (nil in
// the other modes), and records its thumbprint in settings.
func recipient(spec *oauthv1alpha1.StatelessServer, settings map[string]any) (*sci.EncryptionConfig, error) {
	if spec.EffectiveEncryptionMode() != oauthv1alpha1.EncryptionRecipientKey {
		return nil, nil
	}
	r, err := recipientOf(spec)
	if err != nil {
		return nil, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "%v", err)
	}
	settings["recipient"] = r.Thumbprint
	return &sci.EncryptionConfig{Recipient: r.Key, KeyID: r.Key.KeyID}, nil
}

// Forget drops cached state of a deleted server.
func (b *Backend) Forget(uid types.UID) {
	b.mu.Lock()
	delete(b.entries, uid)
	delete(b.discovered, uid)
	b.mu.Unlock()
}

// Digest hashes the registered metadata with the server settings that shape an id.
func (b *Backend) Digest(req *backend.Request) (string, error) {
	reg, err := req.Metadata.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("encoding metadata: %w", err)
	}
	spec := req.Server.GetSpec().Stateless
	if spec == nil {
		return "", backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "server has no stateless configuration")
	}
	h := sha256.New()
	settings, _ := json.Marshal(map[string]string{"iss": spec.Issuer, "aud": spec.EffectiveAudience(), "alg": spec.EffectiveSigningAlgorithm(), "lifetime": spec.EffectiveLifetime().String(), "enc": string(spec.EffectiveEncryptionMode())})
	h.Write(settings)
	h.Write([]byte{0})
	if spec.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionRecipientKey && spec.Encryption.RecipientKey != nil {
		h.Write(spec.Encryption.RecipientKey.Raw)
	}
	h.Write([]byte{0})
	h.Write(reg)
	return "sha256:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}

// Observe verifies the stored id and secret with the server's keys (when the
// operator holds the keys to read them) and compares the digest.
func (b *Backend) Observe(ctx context.Context, req *backend.Request) (backend.Observation, error) {
	if req.Stored == nil || req.Stored.ClientID == "" {
		return backend.Observation{Message: "no client id issued yet"}, nil
	}
	e, err := b.load(ctx, req.Server)
	if err != nil {
		return backend.Observation{}, err
	}
	obs := backend.Observation{Exists: true, UpToDate: true}
	if e.crypto.Verifier != nil {
		c, err := e.crypto.Verifier.Verify(req.Stored.ClientID)
		if err != nil {
			return backend.Observation{Message: "the stored client id no longer verifies with the server's keys"}, nil
		}
		if req.Metadata != nil && metadata.RFCDefaults(req.Metadata).NeedsSecret() {
			if req.Stored.ClientSecret == "" || e.crypto.Verifier.CheckSecret(c, req.Stored.ClientSecret) != nil {
				return backend.Observation{Message: "the stored client secret does not match the client id"}, nil
			}
		}
		if !c.ExpiresAt.IsZero() {
			req.Stored.ExpiresAt = c.ExpiresAt
		}
	}
	want, err := b.Digest(req)
	if err != nil {
		return backend.Observation{}, err
	}
	if req.Stored.Digest != want {
		obs.UpToDate = false
		obs.Message = "the metadata or the server settings changed"
	}
	return obs, nil
}

// Create mints a new client id.
func (b *Backend) Create(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
	return b.mint(ctx, req)
}

// Update mints a new client id: a stateless registration cannot change in place.
func (b *Backend) Update(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
	return b.mint(ctx, req)
}

// Rotate mints a new client id (and with it a new secret).
func (b *Backend) Rotate(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
	return b.mint(ctx, req)
}

// Delete does nothing: the server keeps no state about a stateless client.
func (b *Backend) Delete(context.Context, *backend.Request) error { return nil }

// ErrUnusableClientKeys marks a CheckMint refusal of the client's jwks or
// jwks_uri as its cnf claim (sci.ConfirmationFor).
var ErrUnusableClientKeys = backend.ErrUnusableClientKeys

// keyError is a sci.ConfirmationFor refusal; it matches ErrUnusableClientKeys.
type keyError struct{ err error }

func (e *keyError) Error() string        { return "spec.jwks: " + e.err.Error() }
func (e *keyError) Unwrap() error        { return e.err }
func (e *keyError) Is(target error) bool { return target == ErrUnusableClientKeys }

// CheckMint mints a client id for md at server with the server's current
// keys and settings, exactly as Create would, and discards it: minting has
// no side effects. The registration endpoint calls it before it stores a
// registration of a stateless server, so metadata that cannot become a
// client id is refused before anything exists. It returns nil, an error
// matching sci.ErrTooLarge (the id would exceed sci.MaxClientIDLength), an
// error matching ErrUnusableClientKeys, or the error that keeps the server
// from minting at all (no keys yet, an invalid spec).
func (b *Backend) CheckMint(ctx context.Context, server oauthv1alpha1.ServerObject, md *metadata.Metadata) error {
	_, _, err := b.mintID(ctx, server, md)
	return err
}

// mintID mints a client id for md at server; errors are not yet mapped to
// conditions (see mint).
func (b *Backend) mintID(ctx context.Context, server oauthv1alpha1.ServerObject, md *metadata.Metadata) (*entry, *sci.Minted, error) {
	e, err := b.load(ctx, server)
	if err != nil {
		return nil, nil, err
	}
	reg, err := md.MarshalJSON()
	if err != nil {
		return nil, nil, fmt.Errorf("encoding metadata: %w", err)
	}
	defaulted := metadata.RFCDefaults(md)
	cnf, err := sci.ConfirmationFor(defaulted.TokenEndpointAuthMethod, md.JWKS, md.JWKSURI)
	if err != nil {
		return nil, nil, &keyError{err}
	}
	m, err := e.crypto.Minter.Mint(sci.MintRequest{Reg: reg, Confidential: defaulted.NeedsSecret(), Confirmation: cnf})
	if err != nil {
		return nil, nil, fmt.Errorf("minting client id: %w", err)
	}
	return e, m, nil
}

func (b *Backend) mint(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
	e, m, err := b.mintID(ctx, req.Server, req.Metadata)
	if err != nil {
		var ke *keyError
		switch {
		case errors.As(err, &ke):
			return nil, backend.Permanent(oauthv1alpha1.ReasonInvalidMetadata, "%v", ke)
		case errors.Is(err, sci.ErrTooLarge):
			return nil, backend.Permanent(oauthv1alpha1.ReasonInvalidMetadata, "the client id would exceed %d bytes; shorten the metadata", sci.MaxClientIDLength)
		}
		return nil, err
	}
	digest, err := b.Digest(req)
	if err != nil {
		return nil, err
	}
	return &backend.Credentials{
		ClientID:     m.ClientID,
		ClientSecret: m.ClientSecret,
		Issuer:       e.issuer,
		IssuedAt:     m.IssuedAt,
		ExpiresAt:    m.ExpiresAt,
		Digest:       digest,
	}, nil
}
