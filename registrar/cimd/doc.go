// Package cimd is the protocol side of OAuth Client ID Metadata Documents
// (draft-ietf-oauth-client-id-metadata-document): the client_id is an HTTPS
// URL, and an authorization server fetches the client's metadata from it
// instead of keeping a registration.
//
// It holds what does not depend on Kubernetes:
//   - the rules for base URLs and client id URLs (ValidateBaseURL,
//     ValidateClientIDURL): https, a host name rather than an IP literal,
//     a path, no fragment, no user info, no dot segments;
//   - building a document from client metadata (Build): client_id equal to
//     the URL, never a client secret or a symmetric authentication method,
//     https web URIs, a size bound (MaxDocumentBytes);
//   - the client's signing keys (GenerateKey, ParseKey): ES256, EdDSA and
//     RS256, with the private key in the forms clients load (JWK and PKCS#8
//     PEM) and the public JWK Set that a document publishes;
//   - serving documents (Documents, an http.Handler): Content-Type
//     application/json, Cache-Control max-age, a strong ETag, conditional
//     GET (304), HEAD, no redirects, a token bucket per server.
//
// Which rules come from where: the draft's "Client Identifier URL" and
// "Client ID Metadata Document" sections (-02 numbering: 3 and 4), and what
// the authorization servers that consume documents refuse in practice (one
// refuses documents over 5 KiB, private key members in jwks, a jwks_uri on
// another origin and any non-JSON Content-Type; both refuse redirects).
package cimd
