// Package stateless mints and verifies stateless OAuth 2.0 client
// identifiers (draft-bradley-oauth-stateless-client-id) and manages the key
// set that signs and encrypts them. It imports no Kubernetes package: only
// the standard library and go-jose v4.
//
// Requirement ids such as SCI-04 are catalogued in docs/requirements.md.
//
// # Format
//
// A client id is a compact JWS (RFC 7515) whose protected header holds "alg",
// "kid" (SCI-04) and "typ": "client-id+jwt" (TypeClientID, RFC 8725 §3.11,
// SCI-06). Its claims are:
//
//	iss            the issuer (the authorization server)
//	sub            128 random bits, base64url (SCI-16)
//	aud            the audience, by default the issuer (RFC 8725 §3.9)
//	iat            issue time, NumericDate (= client_id_issued_at)
//	exp            expiry; omitted when the configured lifetime is 0
//	reg            the RFC 7591 metadata, a JSON object (SCI-03)
//	cnf            RFC 7800: {"jwk": public JWK} or {"jku": https URL}, at most
//	               one member, only for private_key_jwt clients (SCI-09)
//	client_secret  only in the encrypted form (below)
//
// Signing algorithms are ES256 (default), EdDSA (Ed25519) and RS256
// (RSA 2048). The verifier enforces an allow-list and the algorithm a key is
// bound to; the token's "alg" never chooses the key type, and HMAC and "none"
// can never be allowed (SCI-10, RFC 8725 §3.1).
//
// Optionally the signed JWT is encrypted to the authorization server (nested
// JWT, RFC 7519 §11.2, SCI-05): a compact JWE with "cty": "JWT", content
// encryption A256GCM, no "zip" (RFC 8725 §3.6, SCI-17), and key management
// ECDH-ES+A256KW (EC P-256 key), RSA-OAEP-256 (RSA key) or A256KW (32-byte
// symmetric key). The "typ" sits in the inner JWS.
//
// Client ids are at most MaxClientIDLength (8192) bytes, made of base64url
// characters and dots only (SCI-02, SCI-17); Mint returns ErrTooLarge
// instead of producing a longer one.
//
// # Client secrets without server state (SCI-07, SCI-08)
//
// A signed-only id is readable by anyone who sees it (it travels through
// browsers), so it carries nothing secret: the minter removes "contacts" from
// reg, never writes client_secret, and the verifier rejects a signed-only id
// that contains client_secret. Its client secret is derived:
//
//	base64url(HMAC-SHA256(SecretKey, "clientreg/client-secret/v1\x00" || sub))
//
// where SecretKey is the 32-byte per-generation secret of the signing key
// named by the JWS kid. Rotating the signing key therefore changes the secret
// of newly minted clients only; old ones keep working while their key is kept.
//
// A nested (encrypted) id carries a random 256-bit secret in the
// client_secret claim inside the encrypted payload; reg keeps "contacts".
// "client_secret" and "registration_access_token" members of reg are always
// removed.
//
// Verifier.CheckSecret handles both forms and compares in constant time
// (crypto/subtle). It does not decide whether a client may use a secret at
// all: that follows from reg's token_endpoint_auth_method.
//
// # Verification (SCI-10)
//
// Verify checks, in order: length and alphabet; 3 segments (JWS) or 5 (JWE),
// nothing else; for a JWE the key/content algorithm allow-list, "cty" JWT, no
// "zip" and no "crit", the decryption key by kid and its algorithm, then
// decryption. Every failure up to and including decryption returns one and
// the same error value, so no decryption oracle exists (RFC 7516 §11.5,
// SCI-19). For the (inner) JWS: the signature algorithm allow-list, no "crit"
// (nor "b64"), the key by kid, the signature, "iss" must be a trusted issuer
// whose key set holds that kid (RFC 8725 §3.8, SCI-22), "typ", "aud", "exp"
// and "nbf" (with Clock and Leeway), "sub", "reg" a JSON object, "cnf", and
// "client_secret" only when encrypted. Every error wraps ErrInvalidClientID;
// the detail is for logs, never for the client.
//
// # Keys and rotation (SCI-18)
//
// KeySet is the persisted state (a Kubernetes Secret): every generation of
// "sig" and "enc" keys, at most one active per use. Rotate retires the active
// key (RetiredAt) and keeps it until PublishUntil = RetiredAt + client-id
// lifetime, so every id it signed or encrypted stays verifiable until it
// expires; with a lifetime of 0 (ids without exp) retired keys are kept
// forever. Prune drops keys past PublishUntil; NextPrune says when to requeue.
// PublicJWKS publishes the public halves of all kept keys (active first), for
// the server's jwks_uri; symmetric keys and private members never appear.
// Key ids are RFC 7638 SHA-256 thumbprints (random for symmetric keys, so the
// kid is not a hash of the secret).
//
// # Identity
//
// Identify a client by (Client.Issuer, Client.Subject), never by the client id
// string: one client can have several valid spellings (ECDSA signatures are
// malleable, and anyone can wrap a signed-only id in a JWE to the server's
// public encryption key; both keep iss, sub and reg). Verify does reject
// non-canonical base64url. Minted.IssuedAt is client_id_issued_at and
// Minted.ExpiresAt is client_secret_expires_at (0 when zero) (SCI-20).
//
// Minter and Verifier are immutable and safe for concurrent use; they parse
// keys and build their go-jose signer, encrypter and key tables once.
// Rebuild them when the key set changes.
package stateless
