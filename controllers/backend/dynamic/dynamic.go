// Package dynamic is the backend for servers with spec.dynamicRegistration:
// it registers clients at a remote authorization server with RFC 7591 and
// keeps them in sync with RFC 7592 (package registrar/dcr speaks the
// protocol). Policy decisions live here: what a 401 means, when to read
// again, how to rotate where the protocol cannot.
package dynamic

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/dcr"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// Defaults for unset spec fields (the CRD defaults them too).
const (
	DefaultResyncInterval = oauthv1alpha1.DefaultResyncInterval
	DefaultTimeout        = oauthv1alpha1.DefaultRegistrationTimeout
)

// UserAgent identifies the operator to authorization servers.
const UserAgent = backend.UserAgent

// Backend registers clients at remote authorization servers. It is safe for
// concurrent use.
type Backend struct {
	// Reader reads the Secrets a server references (initial access token,
	// software statement). They are the user's, so this is an uncached reader.
	Reader client.Reader
	// ClusterResourceNamespace is where a ClusterAuthorizationServer's
	// secret references point when they name no namespace.
	ClusterResourceNamespace string
	Clock                    clock.PassiveClock
	// NewRegistrar builds the protocol client for a server; nil means dcr.NewClient.
	NewRegistrar func(dcr.Config) (dcr.Registrar, error)
	// SpreadFirstReads puts every RFC 7592 read of a client on its read
	// points (readPoint: one per resync interval, at an offset its UID
	// chooses): the first read of each client this process sees (10,000
	// clients would otherwise be 10,000 reads at the server when the
	// manager starts) and the reads after a burst of registrations (which
	// would otherwise come back as a burst every interval). See Observe.
	SpreadFirstReads bool

	mu      sync.Mutex
	servers map[types.UID]*serverEntry
	// reads holds when each client was last read at its server, in memory:
	// recording it in the API would write every resync.
	reads map[types.UID]time.Time
}

var _ backend.Backend = (*Backend)(nil)

// serverEntry caches what one generation of a server object needs.
type serverEntry struct {
	generation int64
	registrar  dcr.Registrar
	probe      *http.Client
	issuer     string
	// caBundle is spec.dynamicRegistration.caBundle, kept with every
	// credentials the backend hands out.
	caBundle []byte
	timeout  time.Duration
	// discovered is nil until discovery succeeded; dropped after failures so
	// the next call discovers again.
	discovered *dcr.ServerMetadata
	endpoint   string // explicit override, or from discovery
	resync     time.Duration
	policy     oauthv1alpha1.UnauthorizedPolicy
}

// Info is what a server's reconciler publishes.
type Info struct {
	Issuer, RegistrationEndpoint, TokenEndpoint, AuthorizationEndpoint string
}

func (b *Backend) now() time.Time {
	if b.Clock == nil {
		return time.Now()
	}
	return b.Clock.Now()
}

// entry returns the cached state of server, rebuilding it for a new generation.
func (b *Backend) entry(server oauthv1alpha1.ServerObject) (*serverEntry, error) {
	spec := server.GetSpec().DynamicRegistration
	if spec == nil {
		return nil, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "server %s has no dynamicRegistration", server.GetName())
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e, ok := b.servers[server.GetUID()]; ok && e.generation == server.GetGeneration() {
		return e, nil
	}
	timeout := spec.EffectiveTimeout()
	cfg := clientConfig(spec.CABundle, timeout)
	reg, err := backend.NewRegistrar(b.NewRegistrar, cfg)
	if err != nil {
		return nil, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "spec.dynamicRegistration: %v", err)
	}
	// The probe is a plain GET, with the registrar's HTTP settings.
	probe, err := dcr.NewHTTPClient(cfg)
	if err != nil {
		return nil, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "spec.dynamicRegistration.caBundle: %v", err)
	}
	e := &serverEntry{
		generation: server.GetGeneration(),
		registrar:  reg,
		probe:      probe,
		issuer:     string(spec.IssuerURL),
		caBundle:   spec.CABundle,
		timeout:    timeout,
		endpoint:   string(spec.RegistrationEndpoint),
		resync:     spec.EffectiveResyncInterval(),
		policy:     spec.EffectiveOnUnauthorized(),
	}
	if b.servers == nil {
		b.servers = map[types.UID]*serverEntry{}
	}
	b.servers[server.GetUID()] = e
	return e, nil
}

// Forget drops the cached state of a deleted server.
func (b *Backend) Forget(uid types.UID) {
	b.mu.Lock()
	delete(b.servers, uid)
	b.mu.Unlock()
}

// discover returns the server metadata, discovering it once and again after failures.
func (b *Backend) discover(ctx context.Context, e *serverEntry) (*dcr.ServerMetadata, error) {
	b.mu.Lock()
	d := e.discovered
	b.mu.Unlock()
	if d != nil {
		return d, nil
	}
	d, err := e.registrar.Discover(ctx, e.issuer)
	if err != nil {
		return nil, classify("discovering "+e.issuer, err, oauthv1alpha1.ReasonDiscoveryFailed)
	}
	b.mu.Lock()
	e.discovered = d
	b.mu.Unlock()
	return d, nil
}

// forgetDiscovery makes the next call discover again (the endpoint may have moved).
func (b *Backend) forgetDiscovery(e *serverEntry) {
	b.mu.Lock()
	e.discovered = nil
	b.mu.Unlock()
}

func (b *Backend) registrationEndpoint(ctx context.Context, e *serverEntry) (string, error) {
	if e.endpoint != "" {
		return e.endpoint, nil
	}
	d, err := b.discover(ctx, e)
	if err != nil {
		return "", err
	}
	if d.RegistrationEndpoint == "" {
		return "", backend.Permanent(oauthv1alpha1.ReasonDiscoveryFailed, "%s publishes no registration_endpoint; set spec.dynamicRegistration.registrationEndpoint", e.issuer)
	}
	return d.RegistrationEndpoint, nil
}

// Probe resolves the server's endpoints and checks that the registration
// endpoint answers HTTP at all (any status below 500: a GET on it usually
// gets 401, 404 or 405).
func (b *Backend) Probe(ctx context.Context, server oauthv1alpha1.ServerObject) (Info, error) {
	e, err := b.entry(server)
	if err != nil {
		return Info{}, err
	}
	if err := checkSecretRefs(server); err != nil {
		return Info{}, err
	}
	info := Info{Issuer: e.issuer}
	if d, err := b.discover(ctx, e); err == nil {
		info.TokenEndpoint, info.AuthorizationEndpoint = d.TokenEndpoint, d.AuthorizationEndpoint
	} else if e.endpoint == "" {
		return Info{}, err
	}
	if info.RegistrationEndpoint, err = b.registrationEndpoint(ctx, e); err != nil {
		return Info{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, info.RegistrationEndpoint, nil)
	if err != nil {
		return Info{}, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "registration endpoint %q: %v", info.RegistrationEndpoint, err)
	}
	req.Header.Set("User-Agent", UserAgent)
	resp, err := e.probe.Do(req)
	if err != nil {
		b.forgetDiscovery(e)
		return Info{}, backend.Transient(oauthv1alpha1.ReasonServerUnavailable, fmt.Errorf("registration endpoint %s does not answer: %w", info.RegistrationEndpoint, err))
	}
	_ = resp.Body.Close()
	if resp.StatusCode >= 500 {
		b.forgetDiscovery(e)
		return Info{}, backend.Transient(oauthv1alpha1.ReasonServerUnavailable, fmt.Errorf("registration endpoint %s answers %d", info.RegistrationEndpoint, resp.StatusCode))
	}
	return info, nil
}

// checkSecretRefs keeps a namespaced server's secret references in its own
// namespace (the admission webhook refuses the same with SecretRefErrors).
func checkSecretRefs(server oauthv1alpha1.ServerObject) error {
	if errs := SecretRefErrors(server); len(errs) > 0 {
		return backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "%s", errs.ToAggregate().Error())
	}
	return nil
}

// SecretRefErrors returns one error per secret reference of a namespaced
// server's dynamicRegistration that names another namespace: an
// AuthorizationServer may only read Secrets in its own namespace.
func SecretRefErrors(server oauthv1alpha1.ServerObject) field.ErrorList {
	spec := server.GetSpec().DynamicRegistration
	if server.ServerKind() != oauthv1alpha1.KindAuthorizationServer || spec == nil {
		return nil
	}
	var errs field.ErrorList
	base := field.NewPath("spec", "dynamicRegistration")
	for _, r := range []struct {
		name string
		ref  *oauthv1alpha1.SecretKeySelector
	}{{"initialAccessToken", spec.InitialAccessToken}, {"softwareStatement", spec.SoftwareStatement}} {
		if r.ref != nil && r.ref.Namespace != "" && r.ref.Namespace != server.GetNamespace() {
			errs = append(errs, field.Forbidden(base.Child(r.name, "namespace"), fmt.Sprintf("an AuthorizationServer may only reference Secrets in its own namespace %q", server.GetNamespace())))
		}
	}
	return errs
}

// secretValue reads one key of a referenced Secret.
func (b *Backend) secretValue(ctx context.Context, server oauthv1alpha1.ServerObject, ref *oauthv1alpha1.SecretKeySelector, what string) (string, error) {
	if ref == nil {
		return "", nil
	}
	ns := oauthv1alpha1.ReferencedNamespace(server, ref.Namespace, b.ClusterResourceNamespace)
	s := &corev1.Secret{}
	if err := b.Reader.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return "", &backend.PendingError{Reason: oauthv1alpha1.ReasonInvalidSpec, Err: fmt.Errorf("the %s Secret %s/%s does not exist", what, ns, ref.Name), RetryAfter: time.Minute}
		}
		return "", fmt.Errorf("reading the %s Secret %s/%s: %w", what, ns, ref.Name, err)
	}
	v, ok := s.Data[ref.Key]
	if !ok || len(v) == 0 {
		return "", backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "the %s Secret %s/%s has no key %q", what, ns, ref.Name, ref.Key)
	}
	return string(v), nil
}

// body is the metadata sent to the server. A client without a redirect-based
// grant says "response_types": [] explicitly: left out, servers default it to
// ["code"] and then demand redirect URIs (node-oidc-provider answers 400).
func body(m *metadata.Metadata) (json.RawMessage, error) {
	send := m.DeepCopy()
	if send.ResponseTypes == nil && !metadata.RFCDefaults(send).UsesRedirects() {
		send.ResponseTypes = []string{}
	}
	raw, err := send.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding metadata: %w", err)
	}
	return raw, nil
}

// bodyAndDigest returns the request body of req's metadata and the digest
// of req (see Digest).
func (b *Backend) bodyAndDigest(req *backend.Request) (json.RawMessage, string, error) {
	raw, err := body(req.Metadata)
	if err != nil {
		return nil, "", err
	}
	digest, err := b.Digest(req)
	return raw, digest, err
}

// Digest identifies the metadata and the server the registration is for.
func (b *Backend) Digest(req *backend.Request) (string, error) {
	raw, err := body(req.Metadata)
	if err != nil {
		return "", err
	}
	spec := req.Server.GetSpec().DynamicRegistration
	if spec == nil {
		return "", backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "server has no dynamicRegistration")
	}
	h := sha256.New()
	h.Write([]byte(string(spec.IssuerURL) + "\x00" + string(spec.RegistrationEndpoint) + "\x00"))
	h.Write(raw)
	return "sha256:" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}

// Observe reads the registration at the server once per resync interval
// (RFC 7592 GET) and compares it with the spec; between reads it trusts the
// stored digest. A read may hand out new credentials: they come back in
// Refreshed.
func (b *Backend) Observe(ctx context.Context, req *backend.Request) (backend.Observation, error) {
	st := req.Stored
	if st == nil || st.ClientID == "" {
		return backend.Observation{Message: "not registered yet"}, nil
	}
	e, err := b.entry(req.Server)
	if err != nil {
		return backend.Observation{}, err
	}
	digest, err := b.Digest(req)
	if err != nil {
		return backend.Observation{}, err
	}
	now := b.now()
	if last, ok := b.lastRead(req, e, digest, now); ok && now.Before(last.Add(e.resync)) {
		return trusted(st, e, digest, last), nil
	}
	if st.RegistrationClientURI == "" || st.RegistrationAccessToken == "" {
		return backend.Observation{}, backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "the stored registration has no registration_client_uri or registration_access_token; it cannot be managed")
	}
	reg, err := e.registrar.Read(ctx, st.RegistrationClientURI, st.RegistrationAccessToken)
	if err != nil {
		if de, ok := dcr.AsError(err); ok && de.Partial != nil && de.Partial.ClientID == st.ClientID {
			// An answer we cannot fully use may still carry a rotated token
			// (Keycloak and Curity rotate on every read): keep it, compare
			// metadata next time.
			next := b.markRead(clientUID(req), e, now)
			obs := backend.Observation{Exists: true, UpToDate: st.Digest == digest, NextCheck: next, Message: "the server's answer could not be fully read"}
			if fresh := merge(st, de.Partial, e.caBundle, now); !sameCredentials(st, fresh) {
				obs.Refreshed = fresh
			}
			return obs, nil
		}
		return b.observeFailed(e, err)
	}
	next := b.markRead(clientUID(req), e, now)
	return compared(req, reg, e, digest, now, next), nil
}

// lastRead returns when the client was last read at the server, if it was
// in this process. A client seen for the first time (a manager start or a
// new leader) whose stored state answers the spec is trusted until its next
// read point (SpreadFirstReads), so reads after a restart arrive spread
// evenly, as in steady state.
func (b *Backend) lastRead(req *backend.Request, e *serverEntry, digest string, now time.Time) (time.Time, bool) {
	uid := clientUID(req)
	b.mu.Lock()
	defer b.mu.Unlock()
	last, read := b.reads[uid]
	if read || !b.SpreadFirstReads || uid == "" || req.Stored.Digest != digest {
		return last, read
	}
	last = readPoint(uid, e.resync, now)
	if b.reads == nil {
		b.reads = map[types.UID]time.Time{}
	}
	b.reads[uid] = last
	return last, true
}

// trusted is the observation of stored credentials between reads: they
// exist, and are current when they were issued for this digest.
func trusted(st *backend.Credentials, e *serverEntry, digest string, last time.Time) backend.Observation {
	obs := backend.Observation{Exists: true, UpToDate: st.Digest == digest, NextCheck: last.Add(e.resync)}
	if !obs.UpToDate {
		obs.Message = "the spec changed"
	}
	if !bytes.Equal(st.CABundle, e.caBundle) {
		// The server's trust roots changed (or were never stored with these
		// credentials): store them, deletion needs them.
		fresh := *st
		fresh.CABundle = e.caBundle
		obs.Refreshed = &fresh
	}
	return obs
}

// compared is the observation of a registration read at the server.
func compared(req *backend.Request, reg *dcr.Registration, e *serverEntry, digest string, now, next time.Time) backend.Observation {
	st := req.Stored
	obs := backend.Observation{Exists: true, NextCheck: next}
	fresh := merge(st, reg, e.caBundle, now)
	matches := metadataMatches(req.Metadata, reg.Metadata)
	switch {
	case matches && st.Digest == "":
		// Adopted: the server already has what the spec says. Record the
		// digest; no PUT needed.
		fresh.Digest = digest
		obs.UpToDate = true
	case matches && st.Digest == digest:
		obs.UpToDate = true
	case st.Digest != digest:
		obs.Message = "the spec changed"
	default:
		obs.Message = "the registration at the server differs from the spec (drift)"
	}
	if !sameCredentials(st, fresh) {
		obs.Refreshed = fresh
	}
	return obs
}

// observeFailed maps a failed read onto the policy.
func (b *Backend) observeFailed(e *serverEntry, err error) (backend.Observation, error) {
	if dcr.IsKind(err, dcr.KindUnauthorized) || dcr.IsKind(err, dcr.KindGone) {
		if e.policy == oauthv1alpha1.UnauthorizedReregister {
			return backend.Observation{Gone: true, Message: "the server no longer accepts the registration (RFC 7592 answered 401/404: the client is gone or its token is invalid); registering anew as onUnauthorized is Reregister"}, nil
		}
		return backend.Observation{}, backend.Permanent(oauthv1alpha1.ReasonUnauthorized,
			"the server no longer accepts the registration (RFC 7592 answered 401/404: the client is gone or its token is invalid). onUnauthorized is Stop: the stored credentials are kept; set onUnauthorized: Reregister, or delete the Secret, to register anew")
	}
	return backend.Observation{}, b.classify(e, "reading the registration", err)
}

// classify turns a protocol error into a backend error with a condition reason.
func (b *Backend) classify(e *serverEntry, op string, err error) error {
	if dcr.IsKind(err, dcr.KindTransient) || dcr.IsKind(err, dcr.KindProtocol) {
		b.forgetDiscovery(e)
	}
	return classify(op, err, oauthv1alpha1.ReasonServerUnavailable)
}

func classify(op string, err error, transientReason string) error {
	de, ok := dcr.AsError(err)
	if !ok {
		return fmt.Errorf("%s: %w", op, err)
	}
	wrapped := fmt.Errorf("%s: %w", op, err)
	switch de.Kind {
	case dcr.KindInvalidArgument:
		return backend.Permanent(oauthv1alpha1.ReasonInvalidSpec, "%s: %w", op, err)
	case dcr.KindInvalidMetadata:
		return backend.Permanent(oauthv1alpha1.ReasonRegistrationRejected, "%s: the server refused the metadata: %w", op, err)
	case dcr.KindUnauthorized:
		return backend.Permanent(oauthv1alpha1.ReasonUnauthorized, "%s: the server refused the token: %w", op, err)
	case dcr.KindForbidden:
		return backend.Permanent(oauthv1alpha1.ReasonForbidden, "%s: %w", op, err)
	case dcr.KindRateLimited:
		retry := de.RetryAfter
		if retry <= 0 {
			retry = 30 * time.Second
		}
		return &backend.PendingError{Reason: oauthv1alpha1.ReasonRateLimited, Err: wrapped, RetryAfter: retry}
	default:
		return backend.Transient(transientReason, wrapped)
	}
}

func clientUID(req *backend.Request) types.UID {
	if req.Client == nil {
		return ""
	}
	return req.Client.UID
}

// spreadOffset places uid in [0, resync): the same point for a client on
// every replica and restart, uniform over many clients.
func spreadOffset(uid types.UID, resync time.Duration) time.Duration {
	if resync <= 0 {
		return 0
	}
	h := sha256.Sum256([]byte(uid))
	return time.Duration(binary.BigEndian.Uint64(h[:8]) % uint64(resync))
}

// markRead records that the client was read (or registered, or updated) at
// t, and returns when to read it next: one resync interval later or, with
// SpreadFirstReads, at its next read point, so that clients registered or
// read in a burst are read spread over the interval from then on.
func (b *Backend) markRead(uid types.UID, e *serverEntry, t time.Time) time.Time {
	last := t
	if b.SpreadFirstReads && uid != "" {
		last = readPoint(uid, e.resync, t)
	}
	if uid != "" {
		b.mu.Lock()
		if b.reads == nil {
			b.reads = map[types.UID]time.Time{}
		}
		b.reads[uid] = last
		b.mu.Unlock()
	}
	return last.Add(e.resync)
}

// readPoint is the latest of uid's read points at or before t. A client's
// read points are resync apart, shifted from the Unix epoch by an offset
// its UID chooses (spreadOffset), so the points of many clients spread
// evenly over every interval, whenever they were registered or last read.
func readPoint(uid types.UID, resync time.Duration, t time.Time) time.Time {
	if resync <= 0 {
		return t
	}
	since := t.UnixNano() - int64(spreadOffset(uid, resync))
	k := since / int64(resync)
	if since%int64(resync) < 0 {
		k-- // floor for times before the epoch plus the offset
	}
	return time.Unix(0, k*int64(resync)+int64(spreadOffset(uid, resync)))
}

// Create registers a new client (RFC 7591).
func (b *Backend) Create(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
	e, err := b.entry(req.Server)
	if err != nil {
		return nil, err
	}
	endpoint, err := b.registrationEndpoint(ctx, e)
	if err != nil {
		return nil, err
	}
	spec := req.Server.GetSpec().DynamicRegistration
	iat, err := b.secretValue(ctx, req.Server, spec.InitialAccessToken, "initial access token")
	if err != nil {
		return nil, err
	}
	ss, err := b.secretValue(ctx, req.Server, spec.SoftwareStatement, "software statement")
	if err != nil {
		return nil, err
	}
	raw, digest, err := b.bodyAndDigest(req)
	if err != nil {
		return nil, err
	}
	if req.BeforeRegister != nil {
		if err := req.BeforeRegister(ctx, endpoint); err != nil {
			return nil, err
		}
	}
	reg, err := e.registrar.Register(ctx, endpoint, dcr.RegisterRequest{Metadata: raw, InitialAccessToken: iat, SoftwareStatement: ss})
	if err != nil {
		if de, ok := dcr.AsError(err); ok && de.Uncertain() {
			return nil, &backend.UncertainError{Err: fmt.Errorf("registering at %s: %w", endpoint, err)}
		}
		if de, ok := dcr.AsError(err); ok && de.Partial != nil {
			// A 2xx this client cannot use: a client probably exists. Take it
			// back if the answer says how; otherwise nobody can, so say so.
			pr := de.Partial
			if pr.RegistrationClientURI != "" && pr.RegistrationAccessToken != "" &&
				e.registrar.Delete(ctx, pr.RegistrationClientURI, pr.RegistrationAccessToken) == nil {
				return nil, b.classify(e, "registering at "+endpoint+" (the unusable registration was deleted again)", err)
			}
			return nil, &backend.UncertainError{Err: fmt.Errorf("registering at %s: the server answered 2xx with a body this client cannot use: %w", endpoint, err)}
		}
		if de, ok := dcr.AsError(err); ok && de.StatusCode >= 200 && de.StatusCode < 300 {
			// 2xx without anything usable: a client probably exists and
			// nobody can manage it; a retry would make another.
			return nil, &backend.UncertainError{Err: fmt.Errorf("registering at %s: the server answered %d with a body this client cannot use: %w", endpoint, de.StatusCode, err)}
		}
		return nil, b.classify(e, "registering at "+endpoint, err)
	}
	now := b.now()
	next := b.markRead(clientUID(req), e, now)
	c := merge(&backend.Credentials{Issuer: e.issuer, IssuedAt: now}, reg, e.caBundle, now)
	c.Digest = digest
	c.CheckAfter = next
	return c, nil
}

// Update replaces the registration's metadata (RFC 7592 PUT). A 401/404
// follows onUnauthorized.
func (b *Backend) Update(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
	e, err := b.entry(req.Server)
	if err != nil {
		return nil, err
	}
	st := req.Stored
	if st == nil || st.RegistrationClientURI == "" || st.RegistrationAccessToken == "" {
		return b.Create(ctx, req)
	}
	raw, digest, err := b.bodyAndDigest(req)
	if err != nil {
		return nil, err
	}
	// The secret is left out: Hydra refuses it, node-oidc-provider keeps
	// the current one when it is absent.
	reg, err := e.registrar.Update(ctx, st.RegistrationClientURI, st.RegistrationAccessToken, dcr.UpdateRequest{ClientID: st.ClientID, Metadata: raw})
	if err != nil {
		if dcr.IsKind(err, dcr.KindUnauthorized) || dcr.IsKind(err, dcr.KindGone) {
			if _, oerr := b.observeFailed(e, err); oerr != nil {
				return nil, oerr
			}
			return b.Create(ctx, req)
		}
		if de, ok := dcr.AsError(err); ok && de.Partial != nil && de.Partial.ClientID == st.ClientID {
			// Keep a rotated token; the old digest makes the next pass try again.
			return merge(st, de.Partial, e.caBundle, b.now()), nil
		}
		return nil, b.classify(e, "updating the registration", err)
	}
	now := b.now()
	next := b.markRead(clientUID(req), e, now)
	c := merge(st, reg, e.caBundle, now)
	c.Digest = digest
	c.CheckAfter = next
	return c, nil
}

// Rotate registers a new client: RFC 7592 has no way to ask for a new
// secret (node-oidc-provider keeps it on PUT, Hydra refuses it). The caller
// keeps the old client for the overlap and then Deletes it.
func (b *Backend) Rotate(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
	return b.Create(ctx, req)
}

// Delete deletes the registration in req.Stored (RFC 7592 DELETE). 401 and
// 404 count as already gone. Everything it needs is kept with the
// credentials (the registration client URI, the token and the CA bundle the
// server was trusted with), so it works whether the server object is there,
// not Ready or gone. When the server object is there, its current caBundle is
// trusted too (it may have been rotated since the Secret was written).
func (b *Backend) Delete(ctx context.Context, req *backend.Request) error {
	st := req.Stored
	if st == nil || st.RegistrationClientURI == "" || st.RegistrationAccessToken == "" {
		return nil
	}
	reg, err := b.deleter(req)
	if err != nil {
		return err
	}
	err = reg.Delete(ctx, st.RegistrationClientURI, st.RegistrationAccessToken)
	if err != nil && !dcr.IsKind(err, dcr.KindUnauthorized) && !dcr.IsKind(err, dcr.KindGone) {
		return classify("deleting client "+st.ClientID, err, oauthv1alpha1.ReasonServerUnavailable)
	}
	if req.Client != nil && !req.Client.DeletionTimestamp.IsZero() {
		b.mu.Lock()
		delete(b.reads, req.Client.UID)
		b.mu.Unlock()
	}
	return nil
}

// deleter returns the protocol client that deletes req.Stored: the server's
// own when the server object is there and trusts what was stored, otherwise
// one that trusts the stored CA bundle, the server's current one, if any, and
// the system roots (either side may have moved between a private and a
// public CA since the Secret was written; the host name is verified anyway).
func (b *Backend) deleter(req *backend.Request) (dcr.Registrar, error) {
	stored := req.Stored.CABundle
	cfg := clientConfig(stored, DefaultTimeout)
	cfg.WithSystemRoots = true
	if req.Server != nil && req.Server.GetSpec().DynamicRegistration != nil {
		e, err := b.entry(req.Server)
		switch {
		case err == nil && (len(stored) == 0 || bytes.Equal(stored, e.caBundle)):
			return e.registrar, nil
		case err == nil:
			cfg.Timeout = e.timeout
			if len(e.caBundle) > 0 {
				cfg.CABundle = slices.Concat(e.caBundle, []byte("\n"), stored)
			}
		case len(stored) == 0:
			// Nothing stored to fall back on: say what is wrong with the spec.
			return nil, err
		}
	}
	reg, err := backend.NewRegistrar(b.NewRegistrar, cfg)
	if err != nil {
		return nil, fmt.Errorf("building a registration client from the stored CA bundle: %w", err)
	}
	return reg, nil
}

// merge lays a server response over stored credentials: an absent
// registration access token or secret means unchanged. caBundle, the
// server's current trust roots, goes with them (see Credentials.CABundle).
func merge(st *backend.Credentials, reg *dcr.Registration, caBundle []byte, now time.Time) *backend.Credentials {
	c := *st
	c.CABundle = caBundle
	c.ClientID = reg.ClientID
	if reg.ClientSecret != "" {
		c.ClientSecret = reg.ClientSecret
	}
	if reg.RegistrationAccessToken != "" {
		c.RegistrationAccessToken = reg.RegistrationAccessToken
	}
	if reg.RegistrationClientURI != "" {
		c.RegistrationClientURI = reg.RegistrationClientURI
	}
	if !reg.ClientIDIssuedAt.IsZero() {
		c.IssuedAt = reg.ClientIDIssuedAt
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if reg.ClientSecret != "" || c.ClientSecret == "" {
		// The expiry belongs to the secret: unchanged when the secret was
		// not sent again.
		c.ExpiresAt = time.Time{}
		if reg.SecretExpires {
			c.ExpiresAt = reg.ClientSecretExpiresAt
		}
	}
	return &c
}

func sameCredentials(a, b *backend.Credentials) bool {
	return a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret &&
		a.RegistrationAccessToken == b.RegistrationAccessToken && a.RegistrationClientURI == b.RegistrationClientURI &&
		a.ExpiresAt.Equal(b.ExpiresAt) && a.Digest == b.Digest && bytes.Equal(a.CABundle, b.CABundle)
}

// setMembers are compared as sets: servers reorder them.
var setMembers = map[string]bool{"redirect_uris": true, "grant_types": true, "response_types": true, "contacts": true, "post_logout_redirect_uris": true, "request_uris": true, "default_acr_values": true}

// metadataMatches reports whether every member the spec sets has the same
// value at the server. Members the server added (its defaults) are ignored.
func metadataMatches(want *metadata.Metadata, got json.RawMessage) bool {
	raw, err := body(want)
	if err != nil {
		return false
	}
	var w, g map[string]any
	if json.Unmarshal(raw, &w) != nil || json.Unmarshal(got, &g) != nil {
		return false
	}
	for k, wv := range w {
		gv, ok := g[k]
		if !ok {
			return false
		}
		if setMembers[k] {
			if !sameSet(wv, gv) {
				return false
			}
			continue
		}
		if !reflect.DeepEqual(wv, gv) {
			return false
		}
	}
	return true
}

func sameSet(a, b any) bool {
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if !aok || !bok || len(as) != len(bs) {
		return false
	}
	key := func(xs []any) []string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = fmt.Sprint(x)
		}
		sort.Strings(out)
		return out
	}
	return reflect.DeepEqual(key(as), key(bs))
}

// clientConfig is the one configuration of this backend's clients of a
// server: the registrar, its probe and the one-off deletion client.
func clientConfig(caBundle []byte, timeout time.Duration) dcr.Config {
	return dcr.Config{CABundle: caBundle, Timeout: timeout, UserAgent: UserAgent}
}
