// Package endpoint is the operator's embedded OAuth 2.0 registration
// endpoint: RFC 7591 dynamic client registration and RFC 7592 registration
// management as an http.Handler (Handler), plus the TLS server that runs it
// (ServerRunner, a controller-runtime Runnable). It imports no Kubernetes
// package: the Kubernetes-backed Resolver and Store live elsewhere; this
// package ships StaticResolver and FakeStore for tests.
//
// Requirement ids such as REG-02 or MGT-07 are catalogued in docs/requirements.md.
//
// # Routes
//
// For a server with Path P and issuer I (= base URL + P):
//
//	POST            P/register                                RFC 7591 registration
//	GET|PUT|DELETE  P/register/{handle}                       RFC 7592 (Stateless: GET only)
//	GET             P/.well-known/openid-configuration        OIDC servers only
//	GET             /.well-known/oauth-authorization-server P  RFC 8414 path insertion
//	GET             P/jwks                                    when the server has Keys
//
// registration_client_uri is I + "/register/" + handle, where handle is the
// Store's handle (Stateful) or the client id itself (Stateless). Every other
// path is 404 with a JSON error. Every route answers OPTIONS (CORS preflight,
// DSC-13) with Access-Control-Allow-Origin "*": tokens travel in the
// Authorization header, never in cookies. Paths are relative to the base URL:
// the RFC 8414 location is only right when the base URL has no path.
//
// # Pipeline of a registration
//
// Method (405, Allow: POST) → legacy hand-off (LegacyHandler) → initial
// access token (401) → Content-Type application/json (415) → body cap (413) →
// metadata.Decode(body, false) (unknown members dropped) → rate limit (429)
// → software statement → metadata.WithDefaults → metadata.Validate (policy
// from the server: OIDC, allowed grant types and auth methods, response types
// consistent with the grant types) → endpoint policy (published auth methods
// and signing algorithms, redirect host allow-list) → sector_identifier_uri
// fetch → single-instance software → MaxClients → Store.Create or stateless
// minting. Validation rules live only in package metadata.
//
// # Decisions (docs/requirements.md asks for them to be written down)
//
//   - Wrong or missing Content-Type: 415 invalid_request (REG-02). A form
//     body without a LegacyHandler is refused the same way.
//   - Body larger than MaxBodyBytes (64 KiB): 413 invalid_client_metadata.
//   - Policy.MaxClients reached: 403 access_denied (the metadata is fine; the
//     server refuses the operation, like RFC 7592's 403). Stateful only; the
//     count is checked before creating, so concurrent requests may overshoot.
//   - Bearer tokens: a missing token (or another scheme) is 401 with a bare
//     "WWW-Authenticate: Bearer" and body error invalid_request; a wrong,
//     malformed, expired, rotated-away or other client's token, and an
//     unknown handle, are all the same 401 invalid_token (MGT-06 to MGT-08;
//     never 404, MGT-07). Several Authorization headers: 400 invalid_request.
//     On an Open server a presented token is ignored.
//   - Initial access tokens and Stateful registration access tokens are
//     compared as SHA-256 hashes in constant time. New registration access
//     tokens are 256 random bits, base64url (43 characters).
//   - PUT (Stateful): full replacement validated like a registration. The
//     body must carry client_id equal to the current one;
//     registration_access_token, registration_client_uri,
//     client_secret_expires_at and client_id_issued_at in the body are 400
//     invalid_client_metadata (MGT-12, not silently ignored); a client_secret
//     must equal the current secret, else 400 invalid_client_metadata
//     (MGT-13). JSON null counts as absent.
//   - Rotation: RotateOnRead / RotateOnUpdate issue a new registration access
//     token whose hash replaces the old one in the Store, so the old token
//     stops working at once (MGT-21). Stateless tokens are never rotated.
//   - Read responses carry registration_access_token, registration_client_uri
//     and the current client_secret (RFC 7592 over OIDC §4.3, Appendix B.1).
//   - client_secret is returned only for methods that use one
//     (metadata.NeedsSecret); client_secret_expires_at is then always
//     present, 0 meaning never (RSP-04).
//   - Software statements: a server without trusted issuers does not support
//     them and drops the member (REG-35). Otherwise: compact JWS with alg
//     RS256, ES256, EdDSA or PS256; a string iss; iss trusted (else
//     unapproved_software_statement); signature by that issuer's key (kid
//     selects it when present); exp and nbf with one minute of leeway;
//     everything else is invalid_software_statement. Claims (other than the
//     JWT claims iss, sub, aud, exp, nbf, iat, jti) override JSON members and
//     the statement is echoed verbatim (RSP-08).
//   - sector_identifier_uri is fetched (FetchSectorIdentifier: https, public
//     addresses only, 5 s, 64 KiB) and must list every redirect URI: a fetch
//     failure is invalid_client_metadata, an unlisted redirect URI
//     invalid_redirect_uri (REG-39, SEC-13). jwks_uri is not fetched.
//   - Discovery publishes exactly what registration accepts: grant types,
//     auth methods (absolute-URI extension methods are not offered), response
//     types derived from the grant types, and signing algorithms for
//     private_key_jwt / client_secret_jwt; empty lists are omitted.
//     authorization_endpoint, token_endpoint and jwks_uri are published when
//     the Server names them (jwks_uri defaults to P/jwks with Keys). OIDC
//     servers add subject_types_supported (public, pairwise) and
//     id_token_signing_alg_values_supported (RS256).
//   - Store ErrUnavailable, resolver failures and missing stateless keys are
//     503 temporarily_unavailable with Retry-After: 5. Unexpected errors are
//     500 server_error with a generic description; details go to Log only.
//   - Rate limit (REG-37, Policy.RateLimit): a token bucket per server and
//     per Handler (replica). Over it: 429 with Retry-After (seconds until a
//     token is back, rounded up) and error temporarily_unavailable
//     (CodeRateLimited: RFC 7591 has no code for it; RFC 6749 registers
//     temporarily_unavailable for "temporary overloading"). Every
//     registration that passed the initial access token check and whose body
//     decoded counts, whether its metadata is valid or not, including the
//     legacy client_associate (it calls Register); unauthenticated requests,
//     undecodable bodies and RFC 7592 management requests do not.
//   - Single-instance software (SEC-08, Policy.SingleInstanceSoftwareIDs):
//     a registration (or PUT) whose software_id is listed and whose
//     software_id + software_version equal another registration of the
//     server is 400 invalid_client_metadata. The check and the store run
//     under a lock per server, so on one replica exactly one of concurrent
//     duplicates wins; replicas do not share the lock. Stateless storage
//     keeps nothing to compare with: such a registration is 500 server_error
//     (fail closed; the operator refuses that configuration).
//   - MGT-09 (403 for a client not permitted an operation) does not arise:
//     no policy forbids a registered client an operation the server offers;
//     operations a server does not offer (PUT and DELETE on Stateless) are
//     405 (RFC 7592 §2.2, §2.3).
//
// # Stateless storage
//
// Nothing is stored. POST mints the client id with stateless.Minter (signed
// with the active "sig" key; nested JWE to the server's own active "enc" key
// when Server.Encrypt, carrying the secret; otherwise a derived secret) with
// cnf from stateless.ConfirmationFor. reg holds the registered metadata minus
// the software statement (its claims are merged; the statement is echoed in
// the POST response only) and minus grant_types / response_types when they
// equal the RFC 7591 defaults (SCI-17); signed-only ids drop contacts
// (SCI-07), so the response does not claim them either. The registration
// access token is a JWS with typ "rat+jwt" (never accepted as a client id,
// and a client id is never accepted as a token), claims iss, aud = issuer,
// sub = the client id's sub, cid = base64url(SHA-256(client_id)), iat, exp =
// the client id's exp, and a random jti. GET verifies the token and the client
// id and answers the metadata decoded from reg (with defaults), the same
// client_id, the presented token and the client secret: derived again for a
// signed-only id, taken from inside the JWE for a nested one, and always
// confirmed with stateless.Verifier.CheckSecret (omitted if that fails).
// PUT and DELETE are 405 with "Allow: GET" (SCI-13, SCI-15).
// client_secret_expires_at is the id's exp (SCI-20). Policy.MaxClients does
// not apply.
//
// # Elsewhere
//
// The legacy OpenID Connect registration drafts are served by package
// registrar/endpoint/legacy through Handler.LegacyHandler. The requirements
// on an authorization and token endpoint (SEC-02 to SEC-05, SEC-09, SEC-11,
// SEC-15, SCI-10 to SCI-12 at {authz} and {token}) bind the authorization
// server that accepts these clients; this endpoint serves neither (the
// stateless verification they need is package registrar/stateless).
package endpoint
