package endpoint

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/metadata"
	"github.com/clientreg/clientreg/registrar/stateless"
)

// TypeRegistrationAccessToken is the "typ" header of the registration access
// tokens of Stateless storage. It differs from stateless.TypeClientID, so a
// client id never passes as a token and a token never as a client id
// (RFC 8725 §3.11, SCI-06, SCI-14).
const TypeRegistrationAccessToken = "rat+jwt"

// ratSignatureAlgorithms are the algorithms of stateless signing keys.
var ratSignatureAlgorithms = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}

// statelessCrypto is the JOSE machinery of one Server, built once per Server
// value (the Resolver returns a new Server when keys change).
type statelessCrypto struct {
	minter    *stateless.Minter // nil unless Storage is Stateless
	verifier  *stateless.Verifier
	ratSigner jose.Signer
}

// cryptoCacheSize bounds the per-Server cache; it is cleared when full.
const cryptoCacheSize = 64

// cryptoFor returns the cached machinery of srv, building it on first use.
func (h *Handler) cryptoFor(srv *Server) (*statelessCrypto, error) {
	h.mu.Lock()
	c, ok := h.crypto[srv]
	h.mu.Unlock()
	if ok {
		return c, nil
	}
	c, err := h.buildCrypto(srv)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.crypto == nil || len(h.crypto) >= cryptoCacheSize {
		h.crypto = map[*Server]*statelessCrypto{}
	}
	h.crypto[srv] = c
	h.mu.Unlock()
	return c, nil
}

// errKeysNotReady means the server's key set lacks an active key it needs.
var errKeysNotReady = errors.New("stateless keys are not ready")

func (h *Handler) buildCrypto(srv *Server) (*statelessCrypto, error) {
	c := srv.Crypto
	if c == nil {
		var err error
		c, err = stateless.NewCrypto(srv.Keys, stateless.IDSettings{
			Issuer: srv.idIss(), Audience: srv.idAud(), Lifetime: srv.ClientIDLifetime, EncryptToKeySet: srv.Encrypt, Clock: h.clock(),
		})
		if errors.Is(err, stateless.ErrKeysNotReady) {
			return nil, fmt.Errorf("%w: %v", errKeysNotReady, err)
		}
		if err != nil {
			return nil, err
		}
	}
	if c.Verifier == nil {
		return nil, fmt.Errorf("%w: ids encrypted to another party's key cannot be read back", errKeysNotReady)
	}
	sig := c.SigningKey
	minter, verifier := c.Minter, c.Verifier
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sig.Algorithm), Key: sig.Private.Key},
		(&jose.SignerOptions{}).WithType(TypeRegistrationAccessToken).WithHeader("kid", sig.ID),
	)
	if err != nil {
		return nil, fmt.Errorf("building the token signer: %w", err)
	}
	return &statelessCrypto{minter: minter, verifier: verifier, ratSigner: signer}, nil
}

// ratClaims are the claims of a stateless registration access token.
type ratClaims struct {
	Issuer   string          `json:"iss"`
	Audience json.RawMessage `json:"aud"`
	Subject  string          `json:"sub"`
	// ClientIDHash is base64url(SHA-256(client_id)): the token works only at
	// the configuration endpoint of that exact client id (MGT-08, SCI-14).
	ClientIDHash string `json:"cid"`
	IssuedAt     int64  `json:"iat"`
	Expiry       *int64 `json:"exp,omitempty"`
	// ID is 128 random bits, so every token is distinct (MGT-19).
	ID string `json:"jti"`
}

// clientIDHash is the "cid" claim for clientID.
func clientIDHash(clientID string) string {
	sum := sha256.Sum256([]byte(clientID))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// mintRAT signs the read-only registration access token of a minted client.
func (c *statelessCrypto) mintRAT(srv *Server, m *stateless.Minted) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("generating a token id: %w", err)
	}
	aud, err := json.Marshal(srv.Issuer)
	if err != nil {
		return "", err
	}
	claims := ratClaims{
		Issuer:       srv.Issuer,
		Audience:     aud,
		Subject:      m.Subject,
		ClientIDHash: clientIDHash(m.ClientID),
		IssuedAt:     m.IssuedAt.Unix(),
		ID:           base64.RawURLEncoding.EncodeToString(jti[:]),
	}
	if !m.ExpiresAt.IsZero() {
		exp := m.ExpiresAt.Unix()
		claims.Expiry = &exp
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := c.ratSigner.Sign(payload)
	if err != nil {
		return "", fmt.Errorf("signing the registration access token: %w", err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		return "", fmt.Errorf("serializing the registration access token: %w", err)
	}
	return tok, nil
}

// verifyRAT checks a stateless registration access token presented for the
// client id handle, then the client id itself, and returns the client. Any
// failure is reported as invalid_token; the reason is only logged.
//
// Token: compact JWS, alg allow-listed, typ exactly rat+jwt, a kid naming a
// signing key of srv.Keys with the header's alg, a valid signature, iss and
// aud equal to srv.Issuer, cid equal to the hash of handle (constant time),
// not expired. Client id: stateless.Verifier (typ client-id+jwt, iss, aud,
// exp, ...), and its sub must equal the token's.
func (c *statelessCrypto) verifyRAT(srv *Server, token, handle string, now time.Time) (*stateless.Client, error) {
	if !canonicalCompact(token, 3) {
		return nil, errors.New("token is not canonical compact serialization")
	}
	jws, err := jose.ParseSignedCompact(token, ratSignatureAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, errors.New("token is not a compact JWS")
	}
	hdr := jws.Signatures[0].Protected
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); typ != TypeRegistrationAccessToken {
		return nil, errors.New("token typ is wrong")
	}
	if hdr.KeyID == "" {
		return nil, errors.New("token has no kid")
	}
	var key *stateless.Key
	for i := range srv.Keys.Keys {
		k := &srv.Keys.Keys[i]
		if k.ID == hdr.KeyID && k.Use == stateless.UseSignature && k.Algorithm == hdr.Algorithm {
			key = k
			break
		}
	}
	if key == nil {
		return nil, errors.New("token kid is unknown")
	}
	pub, ok := key.PublicJWK()
	if !ok {
		return nil, errors.New("token key has no public part")
	}
	payload, err := jws.Verify(pub.Key)
	if err != nil {
		return nil, errors.New("token signature does not verify")
	}
	var claims ratClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, errors.New("token claims are malformed")
	}
	if claims.Issuer != srv.Issuer || !audienceIs(claims.Audience, srv.Issuer) {
		return nil, errors.New("token iss or aud is wrong")
	}
	if subtle.ConstantTimeCompare([]byte(claims.ClientIDHash), []byte(clientIDHash(handle))) != 1 {
		return nil, errors.New("token belongs to another client")
	}
	if claims.Expiry != nil && !now.Before(time.Unix(*claims.Expiry, 0)) {
		return nil, errors.New("token has expired")
	}
	client, err := c.verifier.Verify(handle)
	if err != nil {
		return nil, fmt.Errorf("client id: %w", err)
	}
	if claims.Subject == "" || client.Subject != claims.Subject || client.Issuer != srv.idIss() {
		return nil, errors.New("token subject does not match the client id")
	}
	return client, nil
}

// canonicalCompact reports whether s has n dot-separated segments, each
// canonical unpadded base64url (no stray bits in the last character), so a
// token has exactly one spelling.
func canonicalCompact(s string, n int) bool {
	parts := strings.Split(s, ".")
	if len(parts) != n {
		return false
	}
	for _, p := range parts {
		if p == "" {
			return false
		}
		if _, err := base64.RawURLEncoding.Strict().DecodeString(p); err != nil {
			return false
		}
	}
	return true
}

// audienceIs reports whether an "aud" claim (string or array) contains want.
func audienceIs(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, a := range many {
			if a == want {
				return true
			}
		}
	}
	return false
}

// regForMint returns the reg claim for md: the registered metadata without
// the software statement (it can be 16 KiB; its claims are already merged)
// and without the grant_types and response_types that RFC 7591 §2 defaulting
// restores on read, to keep the id short (SCI-17). token_endpoint_auth_method
// and application_type stay explicit, since their defaults depend on policy.
func regForMint(md *metadata.Metadata) ([]byte, error) {
	r := md.DeepCopy()
	r.SoftwareStatement = ""
	if len(r.GrantTypes) == 1 && r.GrantTypes[0] == metadata.GrantAuthorizationCode {
		r.GrantTypes = nil
	}
	derived := metadata.RFCDefaults(&metadata.Metadata{GrantTypes: r.GrantTypes}).ResponseTypes
	if slicesEqual(r.ResponseTypes, derived) {
		r.ResponseTypes = nil
	}
	return r.MarshalJSON()
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ClientIDTooLarge is the 400 invalid_client_metadata answer to a
// registration whose stateless client id would exceed
// stateless.MaxClientIDLength. The Stateless storage mode answers it after
// minting; a Store that keeps registrations of a stateless server answers it
// before storing anything.
func ClientIDTooLarge() *Error {
	return badRequest(metadata.CodeInvalidClientMetadata,
		"the metadata is too large for a stateless client id of at most "+strconv.Itoa(stateless.MaxClientIDLength)+" bytes")
}

// StatelessUpdateForbidden is the answer to an RFC 7592 update (or the old
// drafts' client_update) that would change the metadata of a registration
// whose client id is a stateless id: the id carries the metadata, so a change
// would need a new client_id, which RFC 7592 §2.2 forbids ("the client_id
// MUST NOT change"); RFC 7592 §2.2 answers a client "not allowed to update
// its records" with 403 Forbidden. The registration stays as it was; the
// client registers anew for other metadata.
func StatelessUpdateForbidden() *Error {
	return &Error{Status: http.StatusForbidden, Code: CodeAccessDenied,
		Description: "this client id carries its registration and cannot change: register a new client for other metadata"}
}

// UnusableClientKeys is the 400 invalid_client_metadata answer to a
// registration whose jwks or jwks_uri cannot become the cnf claim of a
// stateless client id (stateless.ConfirmationFor refuses it).
func UnusableClientKeys() *Error {
	return badRequest(metadata.CodeInvalidClientMetadata, "jwks or jwks_uri cannot be used as the client's key")
}

// mintStateless registers md without storing anything: it mints the client
// id (and its secret) and a read-only registration access token.
func (h *Handler) mintStateless(srv *Server, md *metadata.Metadata) (*ClientInformation, error) {
	c, err := h.cryptoFor(srv)
	if err != nil {
		return nil, unavailable(err)
	}
	reg, err := regForMint(md)
	if err != nil {
		return nil, serverError(fmt.Errorf("encoding reg: %w", err))
	}
	cnf, err := stateless.ConfirmationFor(md.TokenEndpointAuthMethod, md.JWKS, md.JWKSURI)
	if err != nil {
		return nil, UnusableClientKeys()
	}
	minted, err := c.minter.Mint(stateless.MintRequest{Reg: reg, Confidential: md.NeedsSecret(), Confirmation: cnf})
	if err != nil {
		if errors.Is(err, stateless.ErrTooLarge) {
			return nil, ClientIDTooLarge()
		}
		return nil, serverError(fmt.Errorf("minting the client id: %w", err))
	}
	rat, err := c.mintRAT(srv, minted)
	if err != nil {
		return nil, serverError(err)
	}
	out := md.DeepCopy()
	if !minted.Encrypted {
		out.Contacts = nil // not kept in a readable client id (SCI-07), so not registered
	}
	return &ClientInformation{
		Metadata:                out,
		ClientID:                minted.ClientID,
		ClientSecret:            minted.ClientSecret,
		ClientIDIssuedAt:        minted.IssuedAt,
		ClientSecretExpiresAt:   minted.ExpiresAt,
		RegistrationAccessToken: rat,
		RegistrationClientURI:   srv.clientURI(minted.ClientID),
	}, nil
}

// readStateless answers an RFC 7592 read of a stateless registration: the
// metadata decoded from reg (with defaults), the same client id, the
// presented token, and the client secret (SCI-14, MGT-04).
func (h *Handler) readStateless(srv *Server, c *statelessCrypto, client *stateless.Client, clientID, token string, caps capabilities) (*ClientInformation, error) {
	md, err := metadata.Decode(client.Reg, false)
	if err != nil {
		return nil, serverError(fmt.Errorf("decoding reg: %w", err))
	}
	md = metadata.WithDefaults(md, caps.md)
	info := &ClientInformation{
		Metadata:                md,
		ClientID:                clientID,
		ClientIDIssuedAt:        client.IssuedAt,
		ClientSecretExpiresAt:   client.ExpiresAt,
		RegistrationAccessToken: token,
		RegistrationClientURI:   srv.clientURI(clientID),
	}
	if md.NeedsSecret() {
		info.ClientSecret = recoverSecret(srv, c, client, clientID)
	}
	return info, nil
}

// secretDerivationLabel is the domain separation label of derived client
// secrets, as documented by package stateless.
const secretDerivationLabel = "clientreg/client-secret/v1\x00"

// recoverSecret returns the client secret of a verified stateless client id:
// for a signed-only id the secret derived from the signing key's SecretKey
// and sub (the scheme package stateless documents), for a nested id the
// client_secret claim inside the JWE. The result is confirmed with
// Verifier.CheckSecret, so a secret that would not authenticate is never
// returned: on any mismatch the result is "" (the member is then omitted).
func recoverSecret(srv *Server, c *statelessCrypto, client *stateless.Client, clientID string) string {
	var secret string
	if client.Encrypted {
		secret = nestedSecret(srv, clientID)
	} else {
		for i := range srv.Keys.Keys {
			k := &srv.Keys.Keys[i]
			if k.ID == client.KeyID && k.Use == stateless.UseSignature && len(k.SecretKey) > 0 {
				mac := hmac.New(sha256.New, k.SecretKey)
				mac.Write([]byte(secretDerivationLabel))
				mac.Write([]byte(client.Subject))
				secret = base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
				break
			}
		}
	}
	if secret == "" || c.verifier.CheckSecret(client, secret) != nil {
		return ""
	}
	return secret
}

// nestedSecret decrypts a nested client id (already verified) and returns its
// client_secret claim, or "".
func nestedSecret(srv *Server, clientID string) string {
	jwe, err := jose.ParseEncryptedCompact(clientID,
		[]jose.KeyAlgorithm{jose.ECDH_ES_A256KW, jose.RSA_OAEP_256, jose.A256KW},
		[]jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return ""
	}
	for i := range srv.Keys.Keys {
		k := &srv.Keys.Keys[i]
		if k.Use != stateless.UseEncryption || k.ID != jwe.Header.KeyID {
			continue
		}
		inner, err := jwe.Decrypt(k.Private.Key)
		if err != nil {
			return ""
		}
		jws, err := jose.ParseSignedCompact(strings.TrimSpace(string(inner)), ratSignatureAlgorithms)
		if err != nil {
			return ""
		}
		var claims struct {
			ClientSecret string `json:"client_secret"`
		}
		if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims) != nil {
			return ""
		}
		return claims.ClientSecret
	}
	return ""
}

// idIss is the iss claim of the client ids this server mints.
func (s *Server) idIss() string {
	if s.ClientIDIssuer != "" {
		return s.ClientIDIssuer
	}
	return s.Issuer
}

// idAud is the aud claim of the client ids this server mints.
func (s *Server) idAud() string {
	if s.ClientIDAudience != "" {
		return s.ClientIDAudience
	}
	return s.idIss()
}
