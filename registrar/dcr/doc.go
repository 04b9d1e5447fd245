// Package dcr is the client side of OAuth 2.0 Dynamic Client Registration
// (RFC 7591), Dynamic Client Registration Management (RFC 7592) and
// authorization server metadata discovery (OpenID Connect Discovery 1.0,
// RFC 8414), for remote authorization servers such as Keycloak, Ory Hydra,
// node-oidc-provider and Curity. It imports the standard library only.
//
// The protocol sits behind the narrow, context-first Registrar interface;
// *Client is the real implementation and Fake a func-field stub for tests of
// callers. Every failure of a Client method is an *Error with a Kind that
// callers switch on (see AsError and IsKind).
//
// # Decisions
//
// These are deliberate; docs/requirements.md and SERVER-QUIRKS.md ask for them to be
// written down.
//
//   - Redirects are never followed, for any method, discovery included. A 3xx
//     answer is a KindProtocol error naming the status and the target
//     (without query). Following a redirect could replay a non-idempotent
//     request or carry a bearer token elsewhere, and for discovery the issuer
//     must match the URL exactly anyway (RFC 8414 §3.3).
//   - Only https URLs are used, unless Config.AllowInsecureHTTP is set (tests,
//     local interop peers). A refused URL is a KindInvalidArgument error and
//     nothing is sent. URLs with userinfo are refused too.
//   - Status mapping: 400, 409, 413 and 422 are KindInvalidMetadata (the request
//     as built is refused; sending it again will not help); 401
//     KindUnauthorized (RFC 7592: the client is gone OR the token is invalid —
//     the two cannot be told apart); 403 KindForbidden; 404 and 410 KindGone
//     (lax servers); 429 KindRateLimited; 503 with a parsable Retry-After
//     KindRateLimited, 503 without it and every other 5xx and 408
//     KindTransient; 3xx, unexpected 2xx and every other 4xx (405, 415, ...)
//     KindProtocol. Retry-After (delta-seconds or HTTP-date) is parsed on every
//     error status and clamped to [1s, MaxRetryAfter].
//   - Error bodies are parsed as JSON {error, error_description} when the
//     Content-Type is JSON or the body starts with "{"; otherwise the text (tags
//     stripped from HTML) becomes the description. For 401 and 403 without a
//     JSON error code, the Bearer WWW-Authenticate error and error_description
//     attributes are used (RFC 6750 §3); a 401 without WWW-Authenticate is
//     still KindUnauthorized.
//   - Descriptions are limited to 200 characters, stripped of control and
//     format characters, and every token, secret or software statement sent in
//     the request is replaced by "[REDACTED]" before it is stored, so a server
//     echoing a token cannot leak it through Error().
//   - Credentials: every successful response may carry a new
//     registration_access_token and client_secret (Keycloak and Curity rotate
//     on GET). Whatever came back is returned. An absent (or null) member is
//     returned as the empty string and MUST be treated by the caller as
//     "unchanged": keep the previously stored value (Hydra omits client_secret
//     and the token on GET). A registration_client_uri absent from a Read or
//     Update response is filled in with the URI the request was sent to.
//   - Uncertain outcomes: Error.Sent is set once the request was handed to the
//     connection (httptrace WroteRequest without error; it can be true in the
//     rare case where buffered bytes then failed to flush, which errs on the
//     safe side). Error.Uncertain reports Sent with no status. A 2xx whose body
//     could not be read is reported as KindTransient with StatusCode 0 (so it
//     is Uncertain): the server acted but its answer, with any new
//     credentials, was lost.
//   - Read is never replayed by the transport. net/http silently resends an
//     idempotent GET when a reused connection breaks after the request was
//     written; with servers that rotate credentials on GET that replay would
//     present a token the first GET already invalidated. Read therefore sends
//     a request net/http will not replay and reports the broken exchange as
//     Uncertain instead. POST, PUT and DELETE are never replayed by net/http.
//   - A 2xx the client cannot use is KindProtocol. When the body was a JSON
//     object, Error.Partial holds the members that could be read (client_id,
//     credentials) so the caller can persist rotated credentials or clean up an
//     orphaned registration. After Register, a KindProtocol error with a 2xx
//     StatusCode means a client probably exists on the server.
//   - Discovery tries <issuer>/.well-known/openid-configuration first, then the
//     RFC 8414 URL (the well-known segment inserted between host and path). It
//     falls back on every failure except KindTransient, KindRateLimited and an
//     ended context. When both fail, the first error is returned, unless it was
//     KindGone (404/410), in which case the second is. The document's issuer
//     must equal the given issuer exactly (code-point comparison). A missing
//     registration_endpoint is not an error; RegistrationEndpoint is then
//     empty (Hydra without dynamic registration configured).
//   - Timeouts: each method call, Discover's two attempts together included, is
//     bounded by ctx and Config.Timeout; http.Client.Timeout is set too.
//   - A certificate the configured roots do not trust is KindTransient whose
//     cause (errors.As) is a *tls.CertificateVerificationError wrapping the
//     x509 error: a CA bundle can be fixed without changing the object.
package dcr
