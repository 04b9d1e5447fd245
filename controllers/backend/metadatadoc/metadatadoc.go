// Package metadatadoc is the backend of servers with
// spec.clientIDMetadataDocument: each OAuthClient's client id is the HTTPS
// URL of a Client ID Metadata Document that the manager serves
// (draft-ietf-oauth-client-id-metadata-document). Nothing is registered
// anywhere: an authorization server fetches the document when it meets the
// client id.
//
// The client half issues the URL and, for private_key_jwt, a key pair: the
// private key goes to the client's Secret (JWK and PEM, with kid and alg),
// the public key into the document. Rotation is staged so that no
// authorization server that caches the document refuses a signature:
//
//  1. Rotate generates the next key and publishes it beside the active one;
//  2. after the document's max-age plus a margin every cache has it, and the
//     Secret switches to it (an Update, decided when Observe says it is due);
//  3. the replaced key stays published for an overlap (clients that have not
//     reloaded the Secret still sign with it), then it is withdrawn.
//
// The state of a rotation is kept in the Secret (key_rotation.json), so a
// restarted manager carries on where it stopped. The document itself is
// projected into the client's status, where every replica's Publisher finds
// it (see publish.go).
package metadatadoc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/internal/clientmeta"
	"github.com/clientreg/clientreg/registrar/cimd"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// Backend issues metadata document client ids and keeps their keys.
type Backend struct {
	// Clock is the time source; nil means the real clock.
	Clock clock.PassiveClock
	// Served says whether this manager runs the HTTPS listener that serves
	// documents (the embedded endpoint); without it no server is Ready.
	Served bool
	// Observer counts answers to document requests (metrics); may be nil.
	Observer cimd.Observer

	publisher
}

var (
	_ backend.Backend         = (*Backend)(nil)
	_ backend.ClientState     = (*Backend)(nil)
	_ backend.ClientValidator = (*Backend)(nil)
	_ backend.Publisher       = (*Backend)(nil)
	_ backend.KeyIssuer       = (*Backend)(nil)
)

func spec(server oauthv1alpha1.ServerObject) *oauthv1alpha1.ClientIDMetadataDocumentServer {
	return server.GetSpec().ClientIDMetadataDocument
}

// clientID is the URL of obj's document at server.
func clientID(server oauthv1alpha1.ServerObject, obj metav1.Object) string {
	return cimd.ClientIDURL(spec(server).BaseURL, obj.GetNamespace(), obj.GetName())
}

// ReconcileServer is Ready when the base URL is usable and this manager
// serves documents.
func (b *Backend) ReconcileServer(_ context.Context, server oauthv1alpha1.ServerObject) (backend.ServerResult, error) {
	s := spec(server)
	if err := cimd.ValidateBaseURL(s.BaseURL); err != nil {
		return backend.ServerResult{}, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "spec.clientIDMetadataDocument.baseURL %s", err.Error())
	}
	if !b.Served {
		return backend.ServerResult{}, backend.Permanent(oauthv1alpha1.ReasonDocumentsNotServed,
			"this manager runs without its HTTPS listener, which serves the documents: set --registration-base-url and its TLS certificate (chart: registration.enabled)")
	}
	server.GetStatus().Issuer = s.Issuer
	return backend.ServerResult{Ready: "documents are served at " + cimd.ClientIDURL(s.BaseURL, "<namespace>", "<name>") + " with max-age " + s.EffectiveMaxAge().String()}, nil
}

// The optional interfaces this backend implements: a changed signature
// would otherwise turn a feature off without a build error.
var (
	_ backend.Backend         = (*Backend)(nil)
	_ backend.ClientState     = (*Backend)(nil)
	_ backend.ClientValidator = (*Backend)(nil)
	_ backend.KeyIssuer       = (*Backend)(nil)
	_ backend.Publisher       = (*Backend)(nil)
)

// IssuesClientKeys is true: a private_key_jwt client without keys of its
// own gets a key pair.
func (b *Backend) IssuesClientKeys() bool { return true }

// ForgetServer has nothing cached per server.
func (b *Backend) ForgetServer(types.UID) {}

// DefaultServer sets nothing: the schema holds the defaults.
func (b *Backend) DefaultServer(oauthv1alpha1.ServerObject) {}

// consumerMinCache is the shortest time one consumer caches a document,
// whatever its max-age says.
const consumerMinCache = 30 * time.Second

// ValidateServer checks spec.clientIDMetadataDocument (at p) beyond the
// schema.
func (b *Backend) ValidateServer(server oauthv1alpha1.ServerObject, p *field.Path) (field.ErrorList, []string) {
	s := spec(server)
	var errs field.ErrorList
	var warnings []string
	if err := cimd.ValidateBaseURL(s.BaseURL); err != nil {
		errs = append(errs, field.Invalid(p.Child("baseURL"), s.BaseURL, err.Error()))
	}
	if s.Issuer != "" {
		errs = append(errs, backend.IssuerErrors(p.Child("issuer"), s.Issuer)...)
	}
	if d := s.CacheMaxAge; d != nil && d.Duration < time.Second {
		errs = append(errs, field.Invalid(p.Child("cacheMaxAge"), d.Duration.String(),
			"must be at least 1s: authorization servers must be able to cache documents (one fetches at most once a second per client, and fails token requests beyond that)"))
	}
	if k := s.Keys; k != nil {
		errs = append(errs, backend.DurationErrors(p.Child("keys", "propagationMargin"), k.PropagationMargin, 0, "")...)
		errs = append(errs, backend.DurationErrors(p.Child("keys", "retiredKeyOverlap"), k.RetiredKeyOverlap, 0, "")...)
	}
	if d := s.EffectivePropagationDelay(); d < consumerMinCache {
		warnings = append(warnings, fmt.Sprintf("cacheMaxAge plus keys.propagationMargin is %s: some authorization servers cache a document for at least %s, and may refuse a new key for that long after a rotation", d, consumerMinCache))
	}
	return errs, warnings
}

// ServerUpdateWarnings says that a new base URL gives every client a new
// client id.
func (b *Backend) ServerUpdateWarnings(old, updated oauthv1alpha1.ServerObject) []string {
	o, n := spec(old), spec(updated)
	if o == nil || n == nil || o.BaseURL == n.BaseURL {
		return nil
	}
	return []string{"changing clientIDMetadataDocument.baseURL changes the client id of every client of this server: authorization servers see new clients, and the old URLs answer 404"}
}

// ServerSecrets is empty: the server needs no Secret.
func (b *Backend) ServerSecrets(oauthv1alpha1.ServerObject, string) []backend.ServerSecret {
	return nil
}

// ConfigureEndpoint refuses: a metadata document server has no registration
// endpoint (its clients are OAuthClient objects).
func (b *Backend) ConfigureEndpoint(context.Context, oauthv1alpha1.ServerObject, *endpoint.Server) error {
	return fmt.Errorf("%w: a clientIDMetadataDocument server has no registration endpoint", backend.ErrEndpointMisconfigured)
}

// Keeps is false: nothing is registered anywhere, so nothing outlives the
// Secret.
func (b *Backend) Keeps(*backend.Credentials) bool { return false }

// CheckIssue reports what a document cannot carry.
func (b *Backend) CheckIssue(_ context.Context, _ oauthv1alpha1.ServerObject, md *metadata.Metadata) error {
	return refusal(cimd.CheckMetadata(md, ""))
}

// refusal turns a document refusal into a permanent error.
func refusal(err error) error {
	var r *cimd.RefusedError
	if errors.As(err, &r) {
		return backend.Permanent(oauthv1alpha1.ReasonInvalidMetadata, "a client metadata document cannot carry this metadata: %s", err.Error())
	}
	return err
}

// ValidateClient refuses, with field paths, the metadata a document cannot
// carry (a client secret, a symmetric method, ...).
func (b *Backend) ValidateClient(server oauthv1alpha1.ServerObject, _, updated *oauthv1alpha1.OAuthClient, md *metadata.Metadata) field.ErrorList {
	err := cimd.CheckMetadata(md, clientID(server, updated))
	var r *cimd.RefusedError
	if !errors.As(err, &r) {
		return nil
	}
	p := field.NewPath("spec")
	if r.Member != "" {
		p = clientmeta.SpecPath(r.Member, -1)
	}
	return field.ErrorList{field.Invalid(p, "", "a client identified by a metadata document: "+r.Detail)}
}

// Digest identifies the document's inputs: the metadata and the server
// settings the document depends on.
func (b *Backend) Digest(req *backend.Request) (string, error) {
	s := spec(req.Server)
	md, err := req.Metadata.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("encoding the metadata: %w", err)
	}
	sum := sha256.New()
	for _, part := range [][]byte{md, []byte(s.BaseURL), []byte(s.Issuer), []byte(s.EffectiveKeyAlgorithm()), []byte(s.EffectiveKeyPublication())} {
		sum.Write(part)
		sum.Write([]byte{0})
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

func (b *Backend) now(req *backend.Request) time.Time {
	if !req.Now.IsZero() {
		return req.Now
	}
	if b.Clock != nil {
		return b.Clock.Now()
	}
	return time.Now()
}

// Observe checks the stored client id and keys against the desired state,
// and says when the next step of a key rotation is due.
func (b *Backend) Observe(_ context.Context, req *backend.Request) (backend.Observation, error) {
	stored, now := req.Stored, b.now(req)
	if stored == nil || stored.ClientID == "" {
		return backend.Observation{Message: "no client id issued yet"}, nil
	}
	if want := clientID(req.Server, req.Client); stored.ClientID != want {
		return backend.Observation{Gone: true, Message: "the server's base URL changed: the client id becomes " + want}, nil
	}
	keys, err := readKeys(stored.Data)
	if err != nil {
		return backend.Observation{Gone: true, Message: err.Error()}, nil
	}
	if cimd.GeneratesKeys(req.Metadata) && keys.active == nil {
		return backend.Observation{Exists: true, Message: "private_key_jwt needs a key pair"}, nil
	}
	obs := backend.Observation{Exists: true, UpToDate: true, NextCheck: keys.nextStep()}
	digest, err := b.Digest(req)
	if err != nil {
		return obs, err
	}
	switch {
	case stored.Digest != digest:
		obs.UpToDate, obs.Message = false, "the metadata changed: publishing a new document"
	case keys.next != nil && !now.Before(keys.next.ActiveAt.Time):
		obs.UpToDate, obs.Message = false, "the next key "+keys.next.key.ID+" has been published for max-age plus the margin: switching the Secret to it"
	case keys.retired != nil && !now.Before(keys.retired.WithdrawAt.Time):
		obs.UpToDate, obs.Message = false, "the overlap of replaced key "+keys.retired.KeyID+" is over: withdrawing it"
	}
	return obs, nil
}

// Create issues the client id and, for private_key_jwt, a key pair.
func (b *Backend) Create(_ context.Context, req *backend.Request) (*backend.Credentials, error) {
	keys := &keySet{}
	if cimd.GeneratesKeys(req.Metadata) {
		k, err := cimd.GenerateKey(cimd.KeyAlgorithm(req.Metadata, spec(req.Server).EffectiveKeyAlgorithm()))
		if err != nil {
			return nil, err
		}
		keys.active = k
	}
	return b.credentials(req, keys, b.now(req))
}

// Update brings the stored client to the desired state: the due steps of a
// key rotation, a key pair added or dropped when the auth method changed,
// a new document for changed metadata.
func (b *Backend) Update(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
	stored, now := req.Stored, b.now(req)
	keys, err := readKeys(stored.Data)
	if err != nil || stored.ClientID != clientID(req.Server, req.Client) {
		return b.Create(ctx, req)
	}
	keys.advance(now, spec(req.Server).EffectiveRetiredKeyOverlap())
	switch wants := cimd.GeneratesKeys(req.Metadata); {
	case wants && keys.active == nil:
		k, err := cimd.GenerateKey(cimd.KeyAlgorithm(req.Metadata, spec(req.Server).EffectiveKeyAlgorithm()))
		if err != nil {
			return nil, err
		}
		keys.active = k
	case !wants:
		*keys = keySet{}
	}
	return b.credentials(req, keys, stored.IssuedAt)
}

// Rotate starts a key rotation: the next key is published now and goes into
// the Secret after max-age plus the margin. A rotation already under way
// keeps its next key and schedule. A client without a generated key has
// nothing to rotate.
func (b *Backend) Rotate(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
	stored, now := req.Stored, b.now(req)
	keys, err := readKeys(stored.Data)
	if err != nil || stored.ClientID != clientID(req.Server, req.Client) {
		return b.Create(ctx, req)
	}
	if cimd.GeneratesKeys(req.Metadata) && keys.active != nil && keys.next == nil {
		k, err := cimd.GenerateKey(cimd.KeyAlgorithm(req.Metadata, spec(req.Server).EffectiveKeyAlgorithm()))
		if err != nil {
			return nil, err
		}
		keys.next = &pendingKey{key: k, ActiveAt: metav1.NewTime(now.Add(spec(req.Server).EffectivePropagationDelay()).UTC().Truncate(time.Second))}
	}
	return b.credentials(req, keys, now)
}

// Delete has nothing to delete: the document is withdrawn with the object.
func (b *Backend) Delete(context.Context, *backend.Request) error { return nil }

// credentials builds the stored form of keys, after checking that the
// document they give can be built.
func (b *Backend) credentials(req *backend.Request, keys *keySet, issuedAt time.Time) (*backend.Credentials, error) {
	s := spec(req.Server)
	id := clientID(req.Server, req.Client)
	if _, _, err := cimd.Build(documentInput(id, req.Metadata, keys, s)); err != nil {
		return nil, refusal(err)
	}
	data, err := keys.data()
	if err != nil {
		return nil, err
	}
	digest, err := b.Digest(req)
	if err != nil {
		return nil, err
	}
	return &backend.Credentials{
		ClientID: id, Issuer: s.Issuer, IssuedAt: issuedAt, Digest: digest, Data: data,
		CheckAfter: keys.nextStep(),
	}, nil
}

func documentInput(id string, md *metadata.Metadata, keys *keySet, s *oauthv1alpha1.ClientIDMetadataDocumentServer) cimd.Input {
	return cimd.Input{ClientID: id, Metadata: md, Keys: keys.published(), JWKSURI: s.EffectiveKeyPublication() == oauthv1alpha1.KeyPublicationJWKSURI}
}

// SecretDataKeys are the key pair's entries and the rotation state.
func (b *Backend) SecretDataKeys() []string {
	return []string{oauthv1alpha1.KeyPrivateKeyJWK, oauthv1alpha1.KeyPrivateKeyPEM, oauthv1alpha1.KeyKeyID, oauthv1alpha1.KeyKeyAlgorithm, oauthv1alpha1.KeyKeyRotation}
}

// ProjectStatus puts the document served, its URL and the state of its keys
// into status.metadataDocument.
func (b *Backend) ProjectStatus(req *backend.Request, st *oauthv1alpha1.OAuthClientStatus) {
	stored := req.Stored
	if stored == nil || stored.ClientID == "" {
		st.MetadataDocument = nil
		return
	}
	out := &oauthv1alpha1.MetadataDocumentStatus{URL: stored.ClientID}
	st.MetadataDocument = out
	keys, err := readKeys(stored.Data)
	if err != nil {
		return
	}
	if doc, jwks, err := cimd.Build(documentInput(stored.ClientID, req.Metadata, keys, spec(req.Server))); err == nil {
		out.Document, out.JWKS = string(doc), string(jwks)
	}
	if keys.active != nil {
		out.ActiveKeyID = keys.active.ID
	}
	if n := keys.next; n != nil {
		out.NextKeyID, out.NextKeyActiveAt = n.key.ID, n.ActiveAt.DeepCopy()
	}
	if r := keys.retired; r != nil {
		out.RetiredKeyID, out.RetiredKeyWithdrawAt = r.KeyID, r.WithdrawAt.DeepCopy()
	}
}

// keySet is a client's keys: the active one (in the Secret), a next one
// published ahead of its use, a replaced one still published.
type keySet struct {
	active  *cimd.Key
	next    *pendingKey
	retired *retiredKey
}

type pendingKey struct {
	key *cimd.Key
	// JWK is the private key (only in the Secret).
	JWK json.RawMessage `json:"jwk"`
	// ActiveAt is when the Secret switches to it.
	ActiveAt metav1.Time `json:"activeAt"`
}

type retiredKey struct {
	KeyID string `json:"kid"`
	// JWK is the public key.
	JWK        json.RawMessage `json:"jwk"`
	WithdrawAt metav1.Time     `json:"withdrawAt"`
}

// rotationState is key_rotation.json.
type rotationState struct {
	Next    *pendingKey `json:"next,omitempty"`
	Retired *retiredKey `json:"retired,omitempty"`
}

// readKeys reads the keys from the Secret's entries; an empty set when there
// are none.
func readKeys(data map[string][]byte) (*keySet, error) {
	ks := &keySet{}
	if raw := data[oauthv1alpha1.KeyPrivateKeyJWK]; len(raw) > 0 {
		k, err := cimd.ParseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("the Secret's %s cannot be used (%v): a new key pair is generated", oauthv1alpha1.KeyPrivateKeyJWK, err)
		}
		ks.active = k
	}
	raw := data[oauthv1alpha1.KeyKeyRotation]
	if len(raw) == 0 {
		return ks, nil
	}
	var rs rotationState
	if err := json.Unmarshal(raw, &rs); err != nil {
		return nil, fmt.Errorf("the Secret's %s is not readable: a new key pair is generated", oauthv1alpha1.KeyKeyRotation)
	}
	if rs.Next != nil {
		k, err := cimd.ParseKey(rs.Next.JWK)
		if err != nil {
			return nil, fmt.Errorf("the next key in the Secret's %s cannot be used: a new key pair is generated", oauthv1alpha1.KeyKeyRotation)
		}
		rs.Next.key = k
		ks.next = rs.Next
	}
	if rs.Retired != nil {
		if _, err := cimd.PublicJWKFromJSON(rs.Retired.JWK); err != nil {
			return nil, fmt.Errorf("the replaced key in the Secret's %s is not readable: a new key pair is generated", oauthv1alpha1.KeyKeyRotation)
		}
		ks.retired = rs.Retired
	}
	return ks, nil
}

// data is the Secret entries of ks.
func (ks *keySet) data() (map[string][]byte, error) {
	if ks.active == nil {
		return nil, nil
	}
	jwk, err := ks.active.PrivateJWK()
	if err != nil {
		return nil, err
	}
	pem, err := ks.active.PrivatePEM()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{
		oauthv1alpha1.KeyPrivateKeyJWK: jwk, oauthv1alpha1.KeyPrivateKeyPEM: pem,
		oauthv1alpha1.KeyKeyID: []byte(ks.active.ID), oauthv1alpha1.KeyKeyAlgorithm: []byte(ks.active.Alg),
	}
	if ks.next == nil && ks.retired == nil {
		return out, nil
	}
	rs := rotationState{Next: ks.next, Retired: ks.retired}
	if ks.next != nil && len(ks.next.JWK) == 0 {
		if ks.next.JWK, err = ks.next.key.PrivateJWK(); err != nil {
			return nil, err
		}
	}
	if out[oauthv1alpha1.KeyKeyRotation], err = json.Marshal(rs); err != nil {
		return nil, fmt.Errorf("encoding the key rotation state: %w", err)
	}
	return out, nil
}

// published is the public keys the document carries: active, next, retired.
func (ks *keySet) published() []jose.JSONWebKey {
	var out []jose.JSONWebKey
	if ks.active != nil {
		out = append(out, ks.active.PublicJWK())
	}
	if ks.next != nil {
		out = append(out, ks.next.key.PublicJWK())
	}
	if ks.retired != nil {
		if k, err := cimd.PublicJWKFromJSON(ks.retired.JWK); err == nil {
			out = append(out, k)
		}
	}
	return out
}

// nextStep is when the next step of a rotation is due (zero: none).
func (ks *keySet) nextStep() time.Time {
	var t time.Time
	if ks.next != nil {
		t = ks.next.ActiveAt.Time
	}
	if ks.retired != nil && (t.IsZero() || ks.retired.WithdrawAt.Time.Before(t)) {
		t = ks.retired.WithdrawAt.Time
	}
	return t
}

// advance takes the steps that are due at now: the next key becomes active
// (the replaced one stays published for overlap), a retired key whose
// overlap is over is withdrawn.
func (ks *keySet) advance(now time.Time, overlap time.Duration) {
	if ks.retired != nil && !now.Before(ks.retired.WithdrawAt.Time) {
		ks.retired = nil
	}
	if ks.next == nil || now.Before(ks.next.ActiveAt.Time) {
		return
	}
	if ks.active != nil {
		pub, err := json.Marshal(ks.active.PublicJWK())
		if err == nil {
			// A key retired by an earlier rotation leaves now: one
			// replaced key is published at a time.
			ks.retired = &retiredKey{KeyID: ks.active.ID, JWK: pub, WithdrawAt: metav1.NewTime(now.Add(overlap).UTC().Truncate(time.Second))}
		}
	}
	ks.active, ks.next = ks.next.key, nil
}
