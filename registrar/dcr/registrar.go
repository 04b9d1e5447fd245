package dcr

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Registrar is the registration protocol as the reconciler sees it: discovery,
// RFC 7591 registration and RFC 7592 read, update and delete. *Client
// implements it against a remote server; Fake stubs it in tests.
type Registrar interface {
	// Discover fetches the authorization server metadata of issuer.
	Discover(ctx context.Context, issuer string) (*ServerMetadata, error)
	// Register creates a client at the registration endpoint (RFC 7591 §3).
	Register(ctx context.Context, endpoint string, req RegisterRequest) (*Registration, error)
	// Read fetches the client at its configuration endpoint (RFC 7592 §2.1).
	Read(ctx context.Context, clientURI, accessToken string) (*Registration, error)
	// Update replaces the client's metadata (RFC 7592 §2.2).
	Update(ctx context.Context, clientURI, accessToken string, req UpdateRequest) (*Registration, error)
	// Delete deregisters the client (RFC 7592 §2.3).
	Delete(ctx context.Context, clientURI, accessToken string) error
}

var (
	_ Registrar = (*Client)(nil)
	_ Registrar = (*Fake)(nil)
)

// ServerMetadata is the discovered authorization server metadata.
type ServerMetadata struct {
	// Issuer is the document's issuer; always equal to the issuer asked for.
	Issuer string
	// RegistrationEndpoint is registration_endpoint; empty when the server
	// does not publish one (dynamic registration may be disabled).
	RegistrationEndpoint string
	// TokenEndpoint is token_endpoint; empty when absent.
	TokenEndpoint string
	// AuthorizationEndpoint is authorization_endpoint; empty when absent.
	AuthorizationEndpoint string
	// Raw is the whole metadata document, verbatim.
	Raw json.RawMessage
}

// RegisterRequest is the input of Register.
type RegisterRequest struct {
	// Metadata is the JSON object of client metadata, sent as is (member
	// order is not preserved). nil means {}.
	Metadata json.RawMessage
	// InitialAccessToken, when set, is sent as a Bearer token (RFC 7591 §3).
	InitialAccessToken string
	// SoftwareStatement, when set, is added as "software_statement",
	// replacing any such member of Metadata.
	SoftwareStatement string
}

// UpdateRequest is the input of Update.
type UpdateRequest struct {
	// ClientID is required: RFC 7592 §2.2 the PUT body carries client_id. It
	// replaces any client_id member of Metadata.
	ClientID string
	// Metadata is the full replacement metadata, a JSON object (nil means {}).
	// registration_access_token, registration_client_uri,
	// client_secret_expires_at, client_id_issued_at and client_secret are
	// removed from it before sending (RFC 7592 §2.2), so a Registration's
	// Metadata can be passed back after editing.
	Metadata json.RawMessage
	// ClientSecret is included as client_secret only when non-empty (Hydra
	// refuses it, node-oidc-provider wants it equal to the current one).
	ClientSecret string
}

// Registration is a client information response (RFC 7591 §3.2.1 / RFC 7592 §3).
//
// Servers may rotate credentials on any response (Keycloak and Curity on every
// GET): persist ClientSecret and RegistrationAccessToken before anything else.
// An empty ClientSecret or RegistrationAccessToken means the server did not
// send one and MUST be read as "unchanged": keep the value stored before. For
// Read and Update, RegistrationClientURI is filled in with the URI the request
// went to when the response omits it (Hydra does); Metadata stays verbatim.
type Registration struct {
	// ClientID is client_id; never empty.
	ClientID string
	// ClientSecret is client_secret; empty when not returned (unchanged).
	ClientSecret string
	// RegistrationAccessToken is registration_access_token; empty when not
	// returned (unchanged, or no RFC 7592 support after Register).
	RegistrationAccessToken string
	// RegistrationClientURI is registration_client_uri, to be used verbatim
	// (RFC 7592 App. B); see the type comment for Read and Update.
	RegistrationClientURI string
	// ClientIDIssuedAt is client_id_issued_at; zero when absent.
	ClientIDIssuedAt time.Time
	// ClientSecretExpiresAt is client_secret_expires_at; zero when absent OR
	// 0 (never expires); see SecretExpires.
	ClientSecretExpiresAt time.Time
	// SecretExpires is true when client_secret_expires_at is a positive time.
	SecretExpires bool
	// Metadata is the whole response object, verbatim.
	Metadata json.RawMessage
}

// String describes r without its secrets, so that a Registration printed by
// mistake (%v, %+v, %s) leaks nothing.
func (r Registration) String() string {
	return fmt.Sprintf("Registration{ClientID:%q ClientSecret:%s RegistrationAccessToken:%s RegistrationClientURI:%q ClientIDIssuedAt:%s ClientSecretExpiresAt:%s SecretExpires:%t Metadata:%s}",
		r.ClientID, hidden(r.ClientSecret), hidden(r.RegistrationAccessToken), r.RegistrationClientURI,
		timeString(r.ClientIDIssuedAt), timeString(r.ClientSecretExpiresAt), r.SecretExpires,
		hidden(string(r.Metadata)))
}

// GoString is String, for %#v.
func (r Registration) GoString() string { return r.String() }

func hidden(s string) string {
	if s == "" {
		return "<empty>"
	}
	return "<redacted>"
}

func timeString(t time.Time) string {
	if t.IsZero() {
		return "<none>"
	}
	return t.UTC().Format(time.RFC3339)
}
