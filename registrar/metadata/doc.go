// Package metadata is the OAuth 2.0 Dynamic Client Registration (RFC 7591) and
// OpenID Connect Dynamic Client Registration 1.0 client metadata model shared by
// the clientreg reconciler, its admission webhook and its HTTP registration
// endpoint. It has no Kubernetes dependencies.
//
// Requirement ids such as REG-06 are catalogued in docs/requirements.md.
//
// The pipeline for a registration request body is
//
//	m, err := metadata.Decode(body, false) // strict JSON, type errors (REG-06)
//	m = metadata.WithDefaults(m, policy)   // RFC 7591 §2 defaults (REG-17, REG-19)
//	errs := metadata.Validate(m, policy)   // every rule, all violations at once
//
// followed by m.MarshalJSON() to echo the registered metadata (RSP-06).
//
// Design decisions (docs/requirements.md asks for them to be written down):
//
//   - Redirect URIs are stored and compared verbatim; a URL is parsed only to be
//     checked and is never re-serialized (REG-11, SEC-02). Redirect URIs must be
//     ASCII RFC 3986 strings: whitespace, non-ASCII and characters outside the
//     RFC 3986 set are rejected rather than normalized.
//   - Native clients (OIDC application_type "native") may register claimed
//     "https" redirect URIs in addition to private-use schemes and http loopback
//     URIs, following RFC 8252 §7.2 over the narrower OIDC Registration §2 text
//     (docs/requirements.md B.6).
//   - http redirect URIs are accepted only for loopback hosts: IPv4 127.0.0.0/8
//     and [::1] literals always, the name "localhost" only when
//     Policy.AllowLocalhostName is set (RFC 8252 §8.3 marks it NOT RECOMMENDED).
//     IPv4-mapped IPv6 and zoned addresses are not loopback for this purpose.
//     With OIDC, a web client using the implicit grant must use https and may not
//     use localhost or any loopback address at all (REG-12).
//   - ErrorList.Code follows the precedence invalid_software_statement >
//     unapproved_software_statement > invalid_redirect_uri >
//     invalid_client_metadata, so any redirect URI problem yields
//     invalid_redirect_uri (ERR-02). Validate returns its list stably sorted by
//     that precedence, so the first entry always carries the list's code.
//   - Limits (REG-45): a list longer than its limit yields one
//     invalid_client_metadata error and its elements are not examined further;
//     this includes too many redirect_uris (the REG-45 test expects ICM). A
//     single over-long redirect URI is a redirect URI problem and yields
//     invalid_redirect_uri. Lengths are counted in bytes. The request body size
//     itself must be capped by the caller (for example http.MaxBytesReader).
//   - Every string in a body (member names and values, at any depth) must be
//     valid Unicode: an invalid UTF-8 byte or an unpaired UTF-16 surrogate
//     escape ("\ud800"), which encoding/json would silently turn into U+FFFD,
//     is refused under the member holding it rather than repaired, so what is
//     stored is what was sent (ValidJSONText).
//   - JSON null for a member is treated as if the member were absent. Duplicate
//     member names and data after the top-level object are rejected. An empty
//     array is treated as absent for every list except response_types, where an
//     explicit [] is meaningful (REG-19) and is preserved.
//   - grant_types and response_types must be consistent in both directions
//     (REG-18, Appendix A): each response type needs its grant types, and each
//     registered authorization_code or implicit grant needs a response type
//     that uses it.
//   - Error details are fixed ASCII strings and never contain client input
//     (ERR-03). The offending value, when it is safe to show, is in
//     FieldError.Value; software statements, JWKs and unknown members are never
//     copied there.
package metadata
