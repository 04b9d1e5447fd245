package endpoint

import (
	"context"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/metadata"
	"github.com/clientreg/clientreg/registrar/stateless"
)

// Storage mirrors the API's spec.registrationEndpoint.storage.
type Storage string

const (
	// StorageStateful keeps every registration in the Store. The empty
	// Storage means Stateful too.
	StorageStateful Storage = "Stateful"
	// StorageStateless stores nothing: the client id carries the
	// registration, the registration access token is a signed read-only JWT,
	// and PUT and DELETE are refused.
	StorageStateless Storage = "Stateless"
)

// Server is one enabled registration endpoint, resolved per request. The
// Handler treats a Server, and the KeySet it points to, as read-only: a
// Resolver must return a new Server rather than change one it returned.
type Server struct {
	// Path is the server's path under the base URL, for example
	// "/clusters/corp" or "/namespaces/apps/idp", without a trailing slash.
	Path string
	// Issuer is BaseURL + Path: the issuer identifier published in discovery
	// (compared by string, DSC-03) and the base of every endpoint URL.
	Issuer string
	// ClientIDIssuer and ClientIDAudience are iss and aud of the client ids
	// minted in Stateless storage: the authorization server that accepts
	// them (spec.stateless.issuer and audience), not this endpoint's Issuer.
	// Empty means Issuer.
	ClientIDIssuer, ClientIDAudience string
	// Storage is Stateful (also when empty) or Stateless.
	Storage Storage
	// Open allows registration without an initial access token.
	Open bool
	// InitialAccessTokenHashes holds the SHA-256 of every accepted initial
	// access token; they are compared in constant time.
	InitialAccessTokenHashes [][32]byte
	// Policy limits what is registered.
	Policy Policy
	// SoftwareStatementIssuers maps each trusted software statement "iss" to
	// its public keys. With none, software statements are not supported and
	// the member is ignored (REG-35).
	SoftwareStatementIssuers map[string]jose.JSONWebKeySet
	// RotateOnRead and RotateOnUpdate replace the registration access token of
	// a Stateful registration on RFC 7592 read and update (MGT-21).
	RotateOnRead, RotateOnUpdate bool
	// OIDC validates with the OpenID Connect rules and serves
	// /.well-known/openid-configuration.
	OIDC bool
	// ClientPolicy is the metadata policy of the server's clients wherever
	// they come from (the operator derives it per server for its reconciler,
	// its webhook and this endpoint). The endpoint narrows its supported
	// grant types, authentication methods and response types to what Policy
	// allows, and validates with the OIDC rules when OIDC is set: see
	// MetadataPolicy.
	ClientPolicy metadata.Policy

	// Keys are the stateless signing (and encryption) keys: required for
	// Stateless storage, and published at Path/jwks whenever set. Nil for
	// dynamic servers.
	Keys *stateless.KeySet
	// Crypto, when set, is the minter and verifier of Keys for this server's
	// ids, shared with whoever else mints them (the operator's reconciler);
	// nil builds them from Keys and the settings below on first use.
	Crypto *stateless.Crypto
	// SigningAlgorithm is the configured signing algorithm of Keys; ids are
	// signed with the active "sig" key, whatever its algorithm.
	SigningAlgorithm string
	// ClientIDLifetime is the lifetime of minted client ids; 0 = no expiry.
	ClientIDLifetime time.Duration
	// Encrypt makes Stateless storage mint nested JWE client ids encrypted to
	// the active "enc" key of Keys, carrying the client secret.
	Encrypt bool

	// AuthorizationEndpoint, TokenEndpoint and JWKSURI, when set, are
	// published in discovery (DSC-05, DSC-11). This endpoint serves neither an
	// authorization nor a token endpoint itself; JWKSURI defaults to
	// Issuer + "/jwks" when Keys is set.
	AuthorizationEndpoint, TokenEndpoint, JWKSURI string
}

// MetadataPolicy is the policy registrations at s are validated and
// defaulted with: ClientPolicy with its supported grant types,
// authentication methods and response types narrowed to what Policy allows
// (the lists discovery publishes), and OIDC from s. The store of a Stateful server defaults stored metadata with it too.
func (s *Server) MetadataPolicy() metadata.Policy { return capabilitiesOf(s).md }

// stateful reports whether registrations of s live in the Store.
func (s *Server) stateful() bool { return s.Storage != StorageStateless }

// registrationEndpoint is the RFC 7591 endpoint URL of s.
func (s *Server) registrationEndpoint() string { return s.Issuer + "/register" }

// clientURI is the RFC 7592 client configuration endpoint of handle.
func (s *Server) clientURI(handle string) string { return s.Issuer + "/register/" + handle }

// Policy limits what a server registers.
type Policy struct {
	// AllowedRedirectHosts lists the hosts redirect URIs may use: exact host
	// names or IP literals, or "*.example.com" for any subdomain of
	// example.com (not example.com itself). Empty allows every host the RFC
	// rules allow. It applies to every redirect URI with a host, loopback
	// included; a private-use scheme (com.example.app:/cb) is checked as the
	// reversed domain name (app.example.com). A refused URI gets
	// invalid_redirect_uri (SEC-06).
	AllowedRedirectHosts []string
	// AllowedGrantTypes limits grant_types to these supported values. Empty
	// allows every supported one.
	AllowedGrantTypes []string
	// AllowedAuthMethods limits token_endpoint_auth_method to these supported
	// values. Empty allows every supported one.
	AllowedAuthMethods []string
	// MaxClients caps the registrations a Stateful server keeps; 0 = no cap.
	// The check counts before creating, so concurrent registrations can
	// overshoot it slightly. Stateless servers cannot count and ignore it.
	MaxClients int
	// RateLimit limits registrations per server and per Handler (that is,
	// per replica): over it, Register answers 429 temporarily_unavailable
	// with Retry-After (REG-37). Every registration that passed the initial
	// access token check and whose body decoded counts, whether its metadata
	// is valid or not; management requests do not.
	RateLimit RateLimit
	// SingleInstanceSoftwareIDs lists the software_id values of
	// single-instance software (SEC-08): a registration with one of them is
	// refused with invalid_client_metadata when the server keeps a
	// registration with the same software_id and software_version. It needs
	// Stateful storage and a Store implementing SoftwareFinder; otherwise such
	// registrations are refused with server_error (fail closed).
	SingleInstanceSoftwareIDs []string
}

// SoftwareFinder is implemented by Stores that can enforce
// Policy.SingleInstanceSoftwareIDs.
type SoftwareFinder interface {
	// FindSoftware returns the handles of srv's registrations (not being
	// deleted) whose software_id and software_version equal these.
	FindSoftware(ctx context.Context, srv *Server, softwareID, softwareVersion string) ([]string, error)
}

// Resolver finds the server for a request path.
type Resolver interface {
	// Lookup returns the server whose Path is a prefix of path (longest
	// match, at a segment boundary), or an error wrapping ErrNoServer.
	Lookup(ctx context.Context, path string) (*Server, error)
}

// ServerLister is implemented by Resolvers that can list every enabled server
// (for discovery documents and tests). It is optional.
type ServerLister interface {
	// Servers lists every enabled server.
	Servers(ctx context.Context) ([]*Server, error)
}

// ErrNoServer is returned (possibly wrapped) by Resolver.Lookup when no
// enabled server matches a path, and by a Store when the server is gone.
var ErrNoServer = errors.New("no registration endpoint at this path")

// Registration is what a Stateful store keeps and returns.
type Registration struct {
	// Handle is the opaque, URL-safe id used in registration_client_uri
	// (for example the object name); it is not the client_id.
	Handle string
	// ClientID and ClientSecret are the credentials; ClientSecret is empty
	// for clients without a secret.
	ClientID, ClientSecret string
	// ClientIDIssuedAt is client_id_issued_at; ClientSecretExpiresAt is
	// client_secret_expires_at, zero for "never".
	ClientIDIssuedAt, ClientSecretExpiresAt time.Time
	// Metadata is the registered metadata (with defaults applied).
	Metadata *metadata.Metadata
	// SoftwareStatement is the verified statement the client registered
	// with, verbatim, or "".
	SoftwareStatement string
	// RATHash is the SHA-256 of the current registration access token.
	RATHash [32]byte
}

// String describes r without its secrets.
func (r *Registration) String() string {
	if r == nil {
		return "<nil>"
	}
	return fmt.Sprintf("Registration{Handle:%q ClientID:%q ClientSecret:%s}", r.Handle, r.ClientID, redacted(r.ClientSecret))
}

// Store keeps Stateful registrations (Kubernetes-backed in the operator,
// FakeStore in tests). Errors may wrap ErrNotFound (answered 401),
// ErrUnavailable (503), ErrNoServer (404) or be a metadata.ErrorList (400 with
// its code, for metadata the backing store refuses); anything else is a 500.
type Store interface {
	// Create stores a new registration (metadata validated and defaulted
	// already; md.SoftwareStatement equals softwareStatement) with the hash of
	// its registration access token, waits (bounded by ctx) until credentials
	// exist, and returns it with ClientID, ClientSecret and expiry filled in.
	Create(ctx context.Context, srv *Server, md *metadata.Metadata, softwareStatement string, ratHash [32]byte) (*Registration, error)
	// Get returns the registration of handle; ErrNotFound for an unknown
	// handle, one of another server, or one being deleted.
	Get(ctx context.Context, srv *Server, handle string) (*Registration, error)
	// Update replaces the metadata (nil md = keep it) and, when newRATHash is
	// not nil, the registration access token hash, and returns the result.
	Update(ctx context.Context, srv *Server, handle string, md *metadata.Metadata, newRATHash *[32]byte) (*Registration, error)
	// Delete removes the registration; its credentials stop working.
	Delete(ctx context.Context, srv *Server, handle string) error
	// Count returns the number of registrations srv keeps.
	Count(ctx context.Context, srv *Server) (int, error)
}

// ErrNotFound is returned (possibly wrapped) by a Store for an unknown or
// deleted registration. The endpoint answers it with 401, never 404 (MGT-07).
var ErrNotFound = errors.New("registration not found")

// ErrUnavailable is returned (possibly wrapped) by a Store that cannot answer
// now, for example when credentials did not appear in time. The endpoint
// answers 503 temporarily_unavailable with Retry-After.
var ErrUnavailable = errors.New("registration store temporarily unavailable")

// Clock tells the time. k8s.io/utils/clock.PassiveClock satisfies it.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// LogFunc receives a constant message and key/value pairs. The endpoint
// never passes tokens, secrets, software statements or client ids to it.
type LogFunc func(msg string, kv ...any)

func redacted(s string) string {
	if s == "" {
		return "<empty>"
	}
	return "<redacted>"
}
