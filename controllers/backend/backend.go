// Package backend defines what every way of obtaining client ids implements
// (stateless minting, dynamic registration, metadata documents), and the
// Registry that chooses
// one by the member of the AuthorizationServer spec union that is set.
//
// A backend owns both halves of its mode:
//   - the client half, modelled on an external resource's
//     Observe/Create/Update/Rotate/Delete: it issues and maintains one
//     OAuthClient's credentials;
//   - the server half (ServerHalf): it brings a server object that selects it
//     to Ready and keeps it there, forgets a deleted one, defaults and
//     validates its member of the spec for the webhook, names the Secrets the
//     server needs (for --secret-namespaces), and gives the embedded
//     registration endpoint what it needs from the server.
//
// # Adding a backend
//
//  1. Add its member to AuthorizationServerSpec in api/v1alpha1 (a pointer
//     field), with an entry in the union's two CEL rules and a case in
//     BackendMember (and BackendMemberTitle).
//  2. Write its package under controllers/backend/ implementing Backend. It
//     may use: this package (requests, errors with condition reasons,
//     SecretStore for the Secrets its servers own), api/v1alpha1, registrar/
//     (protocol code) and the clients it is given. It must not import
//     controllers/ or webhook/, and it writes nothing but its servers'
//     status and Secrets (through SecretStore) and the remote server.
//  3. Register it in controllers.NewBackends (one line: MustRegister(member,
//     backend)).
//
// A backend may also implement, when its mode needs them:
//   - ClientState: Secret entries of its own (Credentials.Data) and its part
//     of the client's status;
//   - ClientValidator: rules for its clients that the webhook applies;
//   - RegistrationChangeValidator: rules on changing the registration of a
//     client that has credentials (the stateless backend: the metadata is
//     signed into the client id);
//   - KeyIssuer: it issues the client's key pair itself (the metadata policy
//     then waives REG-22's jwks for private_key_jwt);
//   - Publisher: it serves something of its clients over the manager's HTTPS
//     listener, on every replica.
//
// The metadata document backend (package metadatadoc) uses ClientState,
// ClientValidator, KeyIssuer and Publisher.
//
// Nothing else changes: the OAuthClient and server reconcilers, the webhook,
// the Secret scope, the metrics and the embedded endpoint go through the
// Registry. TestRegistryAdmitsANewBackend (controllers) shows it with a fake.
package backend

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/registrar/dcr"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// UserAgent identifies the operator to authorization servers.
const UserAgent = "clientreg (+https://github.com/clientreg/clientreg)"

// NewRegistrar builds an RFC 7591/7592 client for cfg with newRegistrar (an
// instrumented or fault-injecting constructor), or dcr.NewClient when it is
// nil.
func NewRegistrar(newRegistrar func(dcr.Config) (dcr.Registrar, error), cfg dcr.Config) (dcr.Registrar, error) {
	if newRegistrar == nil {
		return dcr.NewClient(cfg)
	}
	return newRegistrar(cfg)
}

// Credentials are what a backend issues and what the credentials Secret holds.
// ClientSecret and RegistrationAccessToken are secret: never log them, never
// put them in status, events or errors.
type Credentials struct {
	ClientID                string
	ClientSecret            string
	RegistrationAccessToken string
	RegistrationClientURI   string
	Issuer                  string
	IssuedAt                time.Time
	// ExpiresAt is client_secret_expires_at; zero means never.
	ExpiresAt time.Time
	// CABundle is the PEM bundle trusted for RegistrationClientURI (the
	// server's caBundle when the credentials were last synced). It is kept
	// with the credentials so the registration can be deleted without the
	// server object. Not secret.
	CABundle []byte
	// Digest identifies the desired state the credentials were issued for.
	Digest string
	// AttemptID is the registration attempt that produced these credentials.
	AttemptID string
	// CheckAfter, set by a backend on credentials it just issued, is when it
	// wants to observe them next (a resync); zero when only events matter.
	// It is not stored.
	CheckAfter time.Time
	// Data holds the backend's own Secret entries (for a metadata document
	// client: its private key in the forms clients load), by Secret key. A
	// backend names the keys it may store with ClientState.SecretDataKeys;
	// they are written as given and read back into Data. They may be secret:
	// never log them, never put them in status, events or errors.
	Data map[string][]byte
}

// ClientIDForHumans returns the client id shortened for messages (stateless
// ids are long JWTs). URLs (metadata document clients) are kept whole.
func (c *Credentials) ClientIDForHumans() string {
	if len(c.ClientID) > 40 && !strings.HasPrefix(c.ClientID, "https://") {
		return c.ClientID[:16] + "…" + c.ClientID[len(c.ClientID)-8:]
	}
	return c.ClientID
}

// Request carries everything a backend needs for one client.
type Request struct {
	Client   *oauthv1alpha1.OAuthClient
	Server   oauthv1alpha1.ServerObject
	Metadata *metadata.Metadata
	// Stored are the credentials currently in the Secret, or nil.
	Stored *Credentials
	Now    time.Time
	// BeforeRegister, when set, must be called right before a request that
	// creates a registration at a server is sent, with the endpoint. It
	// persists an in-flight mark; if it fails, nothing may be sent.
	BeforeRegister func(ctx context.Context, endpoint string) error
}

// Observation is what a backend found for the stored credentials.
type Observation struct {
	// Exists is false when there are no usable credentials (none stored, or
	// the stored ones no longer verify).
	Exists bool
	// UpToDate is false when the credentials do not match the desired state.
	UpToDate bool
	// Message explains a false Exists or UpToDate; never holds a secret.
	Message string
	// Gone is true when the registration no longer exists at the server and
	// the backend's policy is to register anew (Create rather than Rotate).
	Gone bool
	// Refreshed holds credentials the server returned while being observed
	// (some servers rotate the registration access token or the secret on
	// every read). The caller persists them before anything else.
	Refreshed *Credentials
	// NextCheck is when the backend wants to observe again (a resync); zero
	// when only events matter.
	NextCheck time.Time
}

// UncertainError means a request that creates something at the server was
// sent but no answer arrived: the server may have acted on it.
type UncertainError struct{ Err error }

func (e *UncertainError) Error() string { return e.Err.Error() }
func (e *UncertainError) Unwrap() error { return e.Err }

// IsUncertain reports whether err is an UncertainError.
func IsUncertain(err error) bool {
	var u *UncertainError
	return errors.As(err, &u)
}

// Backend is one way of obtaining client ids: the client half (these
// methods) and the server half (ServerHalf).
type Backend interface {
	ServerHalf
	// Keeps reports whether stored credentials name a registration this
	// backend can delete without its server object (the server object may be
	// gone or serve another backend by now).
	Keeps(stored *Credentials) bool
	// CheckIssue reports, without issuing anything, an error Create would
	// return for md at server (the embedded endpoint asks before it stores a
	// registration); nil when it cannot tell.
	CheckIssue(ctx context.Context, server oauthv1alpha1.ServerObject, md *metadata.Metadata) error
	// Digest returns the identity of the desired state, so a change of
	// metadata or of relevant server settings is noticed.
	Digest(req *Request) (string, error)
	// Observe checks the stored credentials against the desired state.
	Observe(ctx context.Context, req *Request) (Observation, error)
	// Create issues new credentials.
	Create(ctx context.Context, req *Request) (*Credentials, error)
	// Update brings existing credentials to the desired state; it may issue new ones.
	Update(ctx context.Context, req *Request) (*Credentials, error)
	// Rotate replaces the client secret (and, where the backend needs to, the
	// client id). When the new credentials have another client id and the
	// stored ones have a registration client URI, the caller keeps the old
	// registration for the rotation overlap and then Deletes it.
	Rotate(ctx context.Context, req *Request) (*Credentials, error)
	// Delete removes the registration named by req.Stored, if the backend
	// keeps one. A registration that is already gone counts as deleted.
	// req.Server may be nil when the server object no longer exists.
	Delete(ctx context.Context, req *Request) error
}

// ClientState is implemented by a backend that keeps more of a client than
// the common credentials: Secret entries of its own (Credentials.Data) and
// status of its own.
type ClientState interface {
	// SecretDataKeys names the Secret entries the backend may store in
	// Credentials.Data.
	SecretDataKeys() []string
	// ProjectStatus fills the backend's part of the client's status from the
	// stored credentials (req.Stored) and the desired state. Nothing secret
	// goes into status.
	ProjectStatus(req *Request, status *oauthv1alpha1.OAuthClientStatus)
}

// ClientValidator is implemented by a backend with rules for the OAuthClients
// of its servers beyond the shared metadata rules; the webhook applies them
// when the client's server exists.
type ClientValidator interface {
	// ValidateClient checks updated (old is nil on create), whose spec gives
	// the metadata md (validated by the shared rules), against server, with
	// field paths under spec.
	ValidateClient(server oauthv1alpha1.ServerObject, old, updated *oauthv1alpha1.OAuthClient, md *metadata.Metadata) field.ErrorList
}

// RegistrationChangeValidator is implemented by a backend with rules on how
// the registration of a client that has credentials may change (the
// stateless backend: it is signed into the client id). The webhook applies
// them to an update that changes registered members, when the client's
// server exists.
type RegistrationChangeValidator interface {
	// ValidateRegistrationChange checks updated against old, whose members
	// named by changed (clientmeta.ChangedMembers: "" is the metadata as a
	// whole) differ. It returns warnings, and errors with field paths under
	// spec.
	ValidateRegistrationChange(server oauthv1alpha1.ServerObject, old, updated *oauthv1alpha1.OAuthClient, changed []string) ([]string, field.ErrorList)
}

// KeyIssuer is implemented by a backend that issues the client's key pair
// for private_key_jwt itself (the metadata document backend); with any other
// backend a private_key_jwt client brings its keys (jwks or jwks_uri).
type KeyIssuer interface {
	IssuesClientKeys() bool
}

// ClientPolicy is the metadata policy for the clients of backend b, from
// the manager's base policy. It is the one derivation: the reconciler and the
// webhook validate an OAuthClient with it, and the embedded registration
// endpoint narrows it to the server's registration policy
// (endpoint.Server.ClientPolicy).
func ClientPolicy(b Backend, base metadata.Policy) metadata.Policy {
	if ki, ok := b.(KeyIssuer); ok && ki.IssuesClientKeys() {
		base.ServerIssuesKeys = true
	}
	return base
}

// Publisher is implemented by a backend that serves something of its
// clients over the manager's HTTPS listener, on every replica (leader or
// not): it keeps what it serves in step with the informers.
type Publisher interface {
	http.Handler
	// Publish starts following informers; it returns once the event
	// handlers are registered.
	Publish(ctx context.Context, informers cache.Informers) error
	// Serves reports whether a request is the publisher's to answer.
	Serves(r *http.Request) bool
}

// PermanentError is an error that retrying cannot fix: the spec, the server
// object or the metadata must change. Reason is a condition reason.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a PermanentError with a condition reason.
func Permanent(reason string, format string, args ...any) error {
	return &PermanentError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// PendingError means the backend waits for something outside it (a server
// becoming ready); retry after RetryAfter. Reason is a condition reason.
type PendingError struct {
	Reason     string
	Err        error
	RetryAfter time.Duration
}

func (e *PendingError) Error() string { return e.Err.Error() }
func (e *PendingError) Unwrap() error { return e.Err }

// AsPermanent reports whether err is a PermanentError, and returns it.
func AsPermanent(err error) (*PermanentError, bool) {
	var p *PermanentError
	ok := errors.As(err, &p)
	return p, ok
}

// AsPending reports whether err is a PendingError, and returns it.
func AsPending(err error) (*PendingError, bool) {
	var p *PendingError
	ok := errors.As(err, &p)
	return p, ok
}

// ServerHalf is what a backend does for the server objects that select it.
type ServerHalf interface {
	// ReconcileServer brings server to Ready, or says why it is not: it
	// fills the server's status fields of its mode (not Ready, which the
	// caller sets from the result) and may write the Secrets the server
	// owns. Errors carry condition reasons (Permanent, Transient, Pending).
	ReconcileServer(ctx context.Context, server oauthv1alpha1.ServerObject) (ServerResult, error)
	// ForgetServer drops what is cached for a deleted server.
	ForgetServer(uid types.UID)
	// DefaultServer fills defaults of its member that are derived from the
	// object (the webhook's defaulter).
	DefaultServer(server oauthv1alpha1.ServerObject)
	// ValidateServer checks its member of server's spec beyond the schema,
	// with field paths under path, and returns warnings too.
	ValidateServer(server oauthv1alpha1.ServerObject, path *field.Path) (field.ErrorList, []string)
	// ServerUpdateWarnings names changes from old to updated that replace
	// client ids issued so far.
	ServerUpdateWarnings(old, updated oauthv1alpha1.ServerObject) []string
	// ServerSecrets names the Secrets server needs (reads or owns), each
	// with a description for messages, to check them against the manager's
	// Secret namespaces before anything is read.
	ServerSecrets(server oauthv1alpha1.ServerObject, clusterResourceNamespace string) []ServerSecret
	// ConfigureEndpoint gives the embedded registration endpoint of server
	// what it needs from the backend (for minting: the keys and the id
	// settings). Storage, policy and tokens are set already.
	ConfigureEndpoint(ctx context.Context, server oauthv1alpha1.ServerObject, srv *endpoint.Server) error
}

// ErrEndpointMisconfigured marks a server whose registration endpoint cannot
// be served as configured (ConfigureEndpoint wraps it).
var ErrEndpointMisconfigured = errors.New("registration endpoint misconfigured")

// ErrUnusableClientKeys means the client's jwks or jwks_uri cannot serve as
// its key in the issued client id (CheckIssue and Create return it).
var ErrUnusableClientKeys = errors.New("jwks or jwks_uri cannot be used as the client's key")

// ConflictRecheck is how often something blocked by a Secret that belongs to
// someone else looks again (deleting it raises no event the cache sees).
const ConflictRecheck = time.Minute

// ServerResult is the outcome of ServerHalf.ReconcileServer.
type ServerResult struct {
	// Ready says why the server is Ready.
	Ready string
	// RequeueAfter is when to look again (zero: on events only).
	RequeueAfter time.Duration
}

// ServerSecret is a Secret (or the Secrets of a namespace, Name empty) a
// server needs.
type ServerSecret struct {
	Description string
	types.NamespacedName
}

// SecretStore reads and writes the Secrets a server owns, with the
// manager's rules: only Opaque Secrets, controlled by their owner, carrying
// the operator's labels, inside the manager's Secret namespaces.
type SecretStore interface {
	// Get reads a Secret past the cache; nil when it does not exist.
	Get(ctx context.Context, key types.NamespacedName) (*corev1.Secret, error)
	// Owns reports whether s is controlled by owner.
	Owns(s *corev1.Secret, owner client.Object) bool
	// Write creates or updates desired, controlled by owner; it refuses a
	// Secret of that name that owner does not control.
	Write(ctx context.Context, owner client.Object, desired *corev1.Secret) error
}

// Registry chooses the backend for a server by the member of its spec union
// that is set. Backends register under their member; a member no backend
// is registered for is not available in this build.
type Registry struct {
	members map[string]Backend
	order   []string
}

// Register adds b as the backend of member (a JSON name of the
// AuthorizationServerSpec union, e.g. oauthv1alpha1.MemberStateless). A
// member can be registered once.
func (r *Registry) Register(member string, b Backend) error {
	switch {
	case member == "" || b == nil:
		return errors.New("a backend needs a member name and an implementation")
	case r.members[member] != nil:
		return fmt.Errorf("a backend is registered for %q already", member)
	}
	if r.members == nil {
		r.members = map[string]Backend{}
	}
	r.members[member] = b
	r.order = append(r.order, member)
	return nil
}

// MustRegister is Register for set-up code, where a duplicate is a bug.
func (r *Registry) MustRegister(member string, b Backend) *Registry {
	if err := r.Register(member, b); err != nil {
		panic(err)
	}
	return r
}

// Lookup returns the backend registered for member.
func (r *Registry) Lookup(member string) (Backend, bool) {
	if r == nil {
		return nil, false
	}
	b, ok := r.members[member]
	return b, ok
}

// For returns the backend of server, or a PermanentError when none serves it.
func (r *Registry) For(server oauthv1alpha1.ServerObject) (Backend, error) {
	member := server.GetSpec().BackendMember()
	if member == "" {
		return nil, Permanent(oauthv1alpha1.ReasonInvalidSpec, "server %s sets no backend", server.GetName())
	}
	if b, ok := r.Lookup(member); ok {
		return b, nil
	}
	return nil, Permanent(oauthv1alpha1.ReasonBackendUnsupported, "%s is not available in this build of clientreg (spec.%s)", oauthv1alpha1.BackendMemberTitle(member), member)
}

// SecretDataKeys is every Secret entry a registered backend may store in
// Credentials.Data (see ClientState).
func (r *Registry) SecretDataKeys() []string {
	var out []string
	for _, cs := range implementing[ClientState](r) {
		out = append(out, cs.SecretDataKeys()...)
	}
	return out
}

// Publishers returns the registered backends that serve over HTTPS.
func (r *Registry) Publishers() []Publisher { return implementing[Publisher](r) }

// implementing returns the registered backends that implement T, in
// registration order.
func implementing[T any](r *Registry) []T {
	if r == nil {
		return nil
	}
	var out []T
	for _, m := range r.order {
		if t, ok := r.members[m].(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// Keeping returns the backend that keeps the registration named by stored
// (see Backend.Keeps), if one does.
func (r *Registry) Keeping(stored *Credentials) (Backend, bool) {
	if r == nil || stored == nil {
		return nil, false
	}
	for _, m := range r.order {
		if b := r.members[m]; b.Keeps(stored) {
			return b, true
		}
	}
	return nil, false
}

// TransientError is a failure worth retrying with backoff that still has a
// precise condition reason (a server that is down, rate limiting aside).
type TransientError struct {
	Reason string
	Err    error
}

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// Transient wraps err as a TransientError with a condition reason.
func Transient(reason string, err error) error { return &TransientError{Reason: reason, Err: err} }

// AsTransient reports whether err is a TransientError, and returns it.
func AsTransient(err error) (*TransientError, bool) {
	var t *TransientError
	ok := errors.As(err, &t)
	return t, ok
}
