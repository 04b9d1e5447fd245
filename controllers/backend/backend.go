// Package backend defines the interface every way of obtaining client
// credentials implements (stateless minting, dynamic registration), modelled
// on an external resource's Observe/Create/Update/Delete. The reconciler
// chooses the backend by the server spec's union member; a new mode is a new
// package registered here, not a branch in Reconcile.
package backend

import (
	"context"
	"errors"
	"fmt"
	"time"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/registrar/dcr"
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
}

// ClientIDForHumans returns the client id shortened for messages (stateless
// ids are long JWTs).
func (c *Credentials) ClientIDForHumans() string {
	if len(c.ClientID) > 40 {
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

// Backend obtains and maintains client credentials.
type Backend interface {
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

// Registry chooses the backend for a server by the member of its spec union
// that is set. A nil member means that backend is not available in this build.
type Registry struct {
	// Stateless serves servers with spec.stateless.
	Stateless Backend
	// DynamicRegistration serves servers with spec.dynamicRegistration.
	DynamicRegistration Backend
}

// For returns the backend of server, or a PermanentError when none serves it.
func (r Registry) For(server oauthv1alpha1.ServerObject) (Backend, error) {
	spec := server.GetSpec()
	switch {
	case spec.Stateless != nil && r.Stateless != nil:
		return r.Stateless, nil
	case spec.DynamicRegistration != nil && r.DynamicRegistration != nil:
		return r.DynamicRegistration, nil
	case spec.DynamicRegistration != nil:
		return nil, Permanent(oauthv1alpha1.ReasonBackendUnsupported, "dynamic registration is not available in this version of clientreg")
	case spec.Stateless != nil:
		return nil, Permanent(oauthv1alpha1.ReasonBackendUnsupported, "stateless client ids are not available in this build")
	default:
		return nil, Permanent(oauthv1alpha1.ReasonInvalidSpec, "server %s sets no backend", server.GetName())
	}
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
