// Command mintids mints stateless client ids with the real registrar/stateless
// code, for every mode the operator has, and prints them as JSON test vectors
// (stdout) for integrations that verify clientreg's ids outside Go
// (integrations/oidc-provider). Every run uses fresh keys.
//
//	go run ./hack/mintids [-issuer https://as.example.test] [-audience ...]
//
// The output holds:
//
//   - issuer, audience: what the ids carry ("iss", "aud");
//   - jwks: the public JWK Set the operator publishes (KeySet.PublicJWKS) for
//     the main key set;
//   - keySet: that key set as the operator stores it in the server's key
//     Secret (data key "keys.json"): signing keys with their secretKey
//     (derivation keys), the Generated encryption keys;
//   - recipientKeys: the authorization server's own private keys (JWK) for
//     the RecipientKey mode (the operator only ever has the public halves);
//   - cases: valid ids, with client_secret (if any), the auth method, the
//     expected client metadata, and for private_key_jwt the client's private
//     key;
//   - negative: ids (and secrets) that must be refused, each with the reason;
//   - rotation: a second key set rotated once (key A, then B), an id and
//     secret signed by each, and the JWKS as published before the rotation
//     (A), during the publication window (B, A) and after A was pruned (B).
//
// Key generation (RSA especially) takes a moment; a run is about a second.
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/metadata"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// lifetime of the valid ids and of the retired keys' publication window.
const lifetime = time.Hour

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// Case is one valid client id.
type Case struct {
	Name         string         `json:"name"`
	Mode         string         `json:"mode"`
	ClientID     string         `json:"client_id"`
	ClientSecret string         `json:"client_secret,omitempty"`
	AuthMethod   string         `json:"auth_method"`
	Expect       map[string]any `json:"expect"`
	// ClientKey is the client's private JWK for private_key_jwt (cnf.jwk).
	ClientKey *jose.JSONWebKey `json:"client_key,omitempty"`
	// UsableAtToken is false for cases that cannot get a token in the test
	// (cnf.jku names an https URL nobody serves).
	UsableAtToken bool `json:"usable_at_token"`
}

// Negative is one id (and secret) that must be refused.
type Negative struct {
	Name         string `json:"name"`
	Reason       string `json:"reason"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	// Control marks the one crafted id that must be accepted.
	Control bool `json:"control,omitempty"`
	// GoAccepts marks ids the Go verifier accepts but an authorization server
	// must still refuse (its own metadata validation).
	GoAccepts bool `json:"go_accepts,omitempty"`
}

// Rotation is the key rotation scenario.
type Rotation struct {
	KeySet json.RawMessage            `json:"keySet"`
	JWKS   map[string]json.RawMessage `json:"jwks"` // old, both, new
	Before Case                       `json:"before"`
	After  Case                       `json:"after"`
}

// Output is what mintids prints.
type Output struct {
	Issuer        string            `json:"issuer"`
	Audience      string            `json:"audience"`
	MintedAt      int64             `json:"minted_at"`
	JWKS          json.RawMessage   `json:"jwks"`
	KeySet        json.RawMessage   `json:"keySet"`
	RecipientKeys []jose.JSONWebKey `json:"recipientKeys"`
	// ExtraDecryptionKeys: none today; kept so a consumer can rely on the field.
	Cases    []Case     `json:"cases"`
	Negative []Negative `json:"negative"`
	Rotation Rotation   `json:"rotation"`
}

func main() {
	issuer := flag.String("issuer", "https://as.example.test", `"iss" of the minted ids (the authorization server's issuer)`)
	audience := flag.String("audience", "", `"aud" of the minted ids; default: the issuer`)
	flag.Parse()
	if *audience == "" {
		*audience = *issuer
	}
	out, err := run(*issuer, *audience, time.Now().Truncate(time.Second))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mintids:", err)
		os.Exit(1)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, "mintids:", err)
		os.Exit(1)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "mintids:", err)
		os.Exit(1)
	}
}

// Registered metadata of the cases (as an OAuthClient spec or an RFC 7591
// request would give it).
const (
	regWeb = `{"client_name":"Web app","redirect_uris":["https://client.example.org/cb"],` +
		`"grant_types":["authorization_code","client_credentials"],"response_types":["code"],` +
		`"token_endpoint_auth_method":"client_secret_basic","scope":"openid profile","contacts":["dev@example.org"]}`
	regService = `{"client_name":"Service","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_post"}`
	// No auth method and no response_types (RFC 7591 defaults), and members
	// node-oidc-provider does not know (it drops them).
	regServiceNoAM = `{"client_name":"Service, RFC 7591 defaults","client_name#ja":"サービス","grant_types":["client_credentials"],` +
		`"software_id":"4NRB1-0XZABZI9E6-5SM3R","software_version":"2.1","x_custom":"kept"}`
)

// minter builds a minter for key (which must be active at this point).
func minter(iss, aud string, key sci.Key, enc *sci.EncryptionConfig, life time.Duration, now time.Time) *sci.Minter {
	m, err := sci.NewMinter(sci.MinterConfig{Issuer: iss, Audience: aud, SigningKey: key, Encryption: enc, Lifetime: life, Clock: fixedClock{now}})
	must(err)
	return m
}

// mintCase mints an id for reg exactly as the operator's stateless backend
// does (controllers/backend/stateless: reg as written, defaults decide
// whether a secret is needed, ConfirmationFor builds cnf).
func mintCase(m *sci.Minter, name, mode, reg string) (Case, *sci.Minted) {
	md := &metadata.Metadata{}
	must(md.UnmarshalJSON([]byte(reg)))
	raw, err := md.MarshalJSON()
	must(err)
	def := metadata.RFCDefaults(md)
	cnf, err := sci.ConfirmationFor(def.TokenEndpointAuthMethod, md.JWKS, md.JWKSURI)
	must(err)
	minted, err := m.Mint(sci.MintRequest{Reg: raw, Confidential: def.NeedsSecret(), Confirmation: cnf})
	must(err)

	// Expected client metadata at the authorization server: reg (minus what
	// never goes into an id, and contacts for a signed-only id), the RFC 7591
	// defaults as the operator applies them, and the id's own members.
	expect := map[string]any{}
	must(json.Unmarshal(raw, &expect))
	delete(expect, "client_secret")
	delete(expect, "registration_access_token")
	if !minted.Encrypted {
		delete(expect, "contacts")
	}
	expect["grant_types"] = def.GrantTypes
	expect["response_types"] = def.ResponseTypes
	expect["token_endpoint_auth_method"] = def.TokenEndpointAuthMethod
	expect["client_id"] = minted.ClientID
	expect["client_id_issued_at"] = minted.IssuedAt.Unix()
	if minted.ExpiresAt.IsZero() {
		expect["client_secret_expires_at"] = 0
	} else {
		expect["client_secret_expires_at"] = minted.ExpiresAt.Unix()
	}
	if minted.ClientSecret != "" {
		expect["client_secret"] = minted.ClientSecret
	}
	if cnf != nil && cnf.JWK != nil {
		expect["jwks"] = map[string]any{"keys": []any{cnf.JWK}}
	}
	if cnf != nil && cnf.JKU != "" {
		expect["jwks_uri"] = cnf.JKU
		delete(expect, "jwks")
	}
	return Case{
		Name: name, Mode: mode, ClientID: minted.ClientID, ClientSecret: minted.ClientSecret,
		AuthMethod: def.TokenEndpointAuthMethod, Expect: expect, UsableAtToken: true,
	}, minted
}

// newKey generates a private JWK of key type kty ("EC" for P-256, "RSA")
// the way the operator does (sci.GenerateKey: the kid is the RFC 7638
// thumbprint), with alg and use as given ("" leaves one out).
func newKey(kty, alg, use string) jose.JSONWebKey {
	genAlg := sci.AlgECDHESA256KW
	if kty == "RSA" {
		genAlg = sci.AlgRSAOAEP256
	}
	k, err := sci.GenerateKey(sci.UseEncryption, genAlg, time.Now())
	must(err)
	jwk := k.Private
	jwk.Algorithm, jwk.Use = alg, use
	return jwk
}

func pub(k jose.JSONWebKey) jose.JSONWebKey {
	p := k.Public()
	return p
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// craft signs arbitrary claims with key, with header members hdr (kid and
// typ default to the key's id and client-id+jwt; a nil value removes one),
// like craft() in registrar/stateless's tests.
func craft(key sci.Key, alg jose.SignatureAlgorithm, signKey any, hdr map[string]any, claims map[string]any) string {
	h := map[string]any{"kid": key.ID, "typ": sci.TypeClientID}
	for n, v := range hdr {
		h[n] = v
	}
	opts := &jose.SignerOptions{}
	for n, v := range h {
		if v != nil {
			opts.WithHeader(jose.HeaderKey(n), v)
		}
	}
	if alg == "" {
		alg = jose.SignatureAlgorithm(key.Algorithm)
	}
	if signKey == nil {
		signKey = key.Private.Key
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: signKey}, opts)
	must(err)
	payload, err := json.Marshal(claims)
	must(err)
	return sign(signer, payload)
}

// sign signs payload and serializes the JWS compactly.
func sign(signer jose.Signer, payload []byte) string {
	jws, err := signer.Sign(payload)
	must(err)
	s, err := jws.CompactSerialize()
	must(err)
	return s
}

// craftNone builds an unsigned "alg": "none" token by hand (go-jose never
// produces one).
func craftNone(kid string, claims map[string]any) string {
	h, _ := json.Marshal(map[string]any{"alg": "none", "kid": kid, "typ": sci.TypeClientID})
	p, _ := json.Marshal(claims)
	return b64(h) + "." + b64(p) + "."
}

// flipSegment changes one character in the middle of segment seg, keeping the
// base64url canonical (so the refusal is about the content, not the shape).
func flipSegment(s string, seg int) string {
	parts := strings.Split(s, ".")
	p := []byte(parts[seg])
	i := len(p) / 2
	if p[i] == 'A' {
		p[i] = 'Q'
	} else {
		p[i] = 'A'
	}
	parts[seg] = string(p)
	return strings.Join(parts, ".")
}

func deriveSecret(secretKey []byte, sub string) string {
	mac := hmac.New(sha256.New, secretKey)
	mac.Write([]byte("clientreg/client-secret/v1\x00"))
	mac.Write([]byte(sub))
	return b64(mac.Sum(nil))
}

func run(iss, aud string, now time.Time) (*Output, error) {
	out := &Output{Issuer: iss, Audience: aud, MintedAt: now.Unix()}
	ks := &sci.KeySet{}

	// 1. A signing key that is rotated away and pruned: its ids must be
	// refused once it is no longer published (they do not expire: lifetime 0,
	// so nothing but the missing key refuses them).
	must(ks.Rotate(sci.UseSignature, sci.AlgES256, now.Add(-3*time.Hour), lifetime))
	gone, _ := ks.Active(sci.UseSignature)
	goneKey := *gone
	goneCase, _ := mintCase(minter(iss, aud, goneKey, nil, 0, now), "retired-unpublished", "signed", regService)

	// 2. RS256, retired 2h ago (published until 1h ago: the key above is
	// pruned) ... then EdDSA, then ES256 (active): the operator's own
	// algorithm change rotates keys the same way (KeySet.Ensure).
	must(ks.Rotate(sci.UseSignature, sci.AlgRS256, now.Add(-2*time.Hour), lifetime))
	rs, _ := ks.Active(sci.UseSignature)
	rsKey := *rs
	rsCase, _ := mintCase(minter(iss, aud, rsKey, nil, lifetime, now), "signed-rs256", "signed RS256", regService)

	must(ks.Rotate(sci.UseSignature, sci.AlgEdDSA, now, lifetime))
	ed, _ := ks.Active(sci.UseSignature)
	edKey := *ed
	edCase, _ := mintCase(minter(iss, aud, edKey, nil, lifetime, now), "signed-eddsa", "signed EdDSA", regServiceNoAM)

	must(ks.Rotate(sci.UseSignature, sci.AlgES256, now, lifetime))
	es, _ := ks.Active(sci.UseSignature)
	esKey := *es
	esMinter := minter(iss, aud, esKey, nil, lifetime, now)
	esCase, _ := mintCase(esMinter, "signed-es256", "signed ES256", regWeb)
	esPostCase, _ := mintCase(esMinter, "signed-es256-post", "signed ES256", regService)

	// private_key_jwt: the client's key goes into cnf.jwk (a single key in
	// jwks) or cnf.jku (jwks_uri); no secret.
	clientKey := newKey("EC", "ES256", "sig")
	clientPub := pub(clientKey)
	pubJSON, err := json.Marshal(clientPub)
	must(err)
	pkjwtCase, _ := mintCase(esMinter, "pkjwt-cnf-jwk", "private_key_jwt (cnf.jwk)",
		`{"client_name":"Signer","grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","token_endpoint_auth_signing_alg":"ES256","jwks":{"keys":[`+string(pubJSON)+`]}}`)
	pkjwtCase.ClientKey = &clientKey
	// cnf without a jwks in reg (the Go API allows any Confirmation): the key
	// can only come from cnf.
	cnfOnly := func() Case {
		reg := `{"client_name":"Signer, key only in cnf","grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt"}`
		minted, err := esMinter.Mint(sci.MintRequest{Reg: json.RawMessage(reg), Confirmation: &sci.Confirmation{JWK: &clientPub}})
		must(err)
		expect := map[string]any{}
		must(json.Unmarshal([]byte(reg), &expect))
		expect["response_types"] = []string{}
		expect["client_id"] = minted.ClientID
		expect["client_id_issued_at"] = minted.IssuedAt.Unix()
		expect["client_secret_expires_at"] = minted.ExpiresAt.Unix()
		expect["jwks"] = map[string]any{"keys": []any{clientPub}}
		return Case{Name: "pkjwt-cnf-only", Mode: "private_key_jwt (cnf.jwk, no jwks in reg)", ClientID: minted.ClientID,
			AuthMethod: "private_key_jwt", Expect: expect, ClientKey: &clientKey, UsableAtToken: true}
	}()
	jkuCase, _ := mintCase(esMinter, "pkjwt-cnf-jku", "private_key_jwt (cnf.jku)",
		`{"client_name":"Signer by URL","grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://client.example.org/jwks.json"}`)
	jkuCase.UsableAtToken = false

	// 3. Encryption, Generated mode: first an A256KW key (a KeySet may hold
	// one), then the operator's ECDH-ES+A256KW key. Both stay in the key set;
	// the verifier decrypts with either.
	must(ks.Rotate(sci.UseEncryption, sci.AlgA256KW, now, lifetime))
	ec1, _ := ks.EncryptionConfig()
	kwCase, _ := mintCase(minter(iss, aud, esKey, ec1, lifetime, now), "nested-generated-a256kw", "nested, Generated (A256KW)", regWeb)
	must(ks.Rotate(sci.UseEncryption, sci.AlgECDHESA256KW, now, lifetime))
	ek, _ := ks.Active(sci.UseEncryption)
	encKey := *ek // a copy: Prune below reuses the slice
	// As the backend builds it: the public half, kid = key id.
	genEnc := &sci.EncryptionConfig{Recipient: encKey.Private.Public(), KeyID: encKey.ID}
	genMinter := minter(iss, aud, esKey, genEnc, lifetime, now)
	genCase, _ := mintCase(genMinter, "nested-generated", "nested, Generated (ECDH-ES+A256KW)", regWeb)
	genRSCase, _ := mintCase(minter(iss, aud, edKey, genEnc, lifetime, now), "nested-generated-eddsa", "nested, Generated, inner EdDSA", regService)

	// 4. Encryption, RecipientKey mode: the authorization server's own keys;
	// only their public halves are in the (operator's) spec.
	rcptEC := newKey("EC", "", "enc")
	rcptRSA := newKey("RSA", "", "enc")
	rcEC := pub(rcptEC)
	rcRSA := pub(rcptRSA)
	recCase, _ := mintCase(minter(iss, aud, esKey, &sci.EncryptionConfig{Recipient: rcEC, KeyID: rcEC.KeyID}, lifetime, now),
		"nested-recipient-ec", "nested, RecipientKey (ECDH-ES+A256KW)", regWeb)
	recRSACase, _ := mintCase(minter(iss, aud, esKey, &sci.EncryptionConfig{Recipient: rcRSA, KeyID: rcRSA.KeyID}, lifetime, now),
		"nested-recipient-rsa", "nested, RecipientKey (RSA-OAEP-256)", regService)
	// The private halves go to the consumer with alg set, as an AS would
	// configure them.
	rcptEC.Algorithm = sci.AlgECDHESA256KW
	rcptRSA.Algorithm = sci.AlgRSAOAEP256
	out.RecipientKeys = []jose.JSONWebKey{rcptEC, rcptRSA}

	out.Cases = []Case{esCase, esPostCase, edCase, rsCase, pkjwtCase, cnfOnly, jkuCase, genCase, genRSCase, kwCase, recCase, recRSACase}

	// Prune: the first signing key is past its publication window.
	if !ks.Prune(now) {
		return nil, fmt.Errorf("prune removed nothing")
	}
	out.KeySet, err = ks.Marshal()
	must(err)
	out.JWKS, err = ks.PublicJWKS()
	must(err)

	// Negative cases.
	claims := func() map[string]any {
		return map[string]any{
			"iss": iss, "sub": b64([]byte("0123456789abcdef")), "aud": aud,
			"iat": now.Unix(), "exp": now.Add(lifetime).Unix(),
			"reg": map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "client_secret_basic"},
		}
	}
	craftedSecret := deriveSecret(esKey.SecretKey, b64([]byte("0123456789abcdef")))
	neg := func(name, reason, id, secret string) {
		out.Negative = append(out.Negative, Negative{Name: name, Reason: reason, ClientID: id, ClientSecret: secret})
	}
	// A control: crafted exactly like the negatives below, but valid. If this
	// one is refused, the negatives prove nothing.
	neg("control-crafted-valid", "CONTROL: must be ACCEPTED (crafted like the negatives, nothing wrong)",
		craft(esKey, "", nil, nil, claims()), craftedSecret)
	out.Negative[len(out.Negative)-1].Control = true
	{
		c, _ := mintCase(esMinter, "", "", `{"client_name":"Payments","grant_types":["client_credentials"],"scope":"payments:write"}`)
		neg("metadata-refused-by-provider", `a valid id whose "scope" the authorization server does not support (its metadata validation refuses it)`, c.ClientID, c.ClientSecret)
		out.Negative[len(out.Negative)-1].GoAccepts = true
	}
	neg("tampered-signature", "signature changed", flipSegment(esCase.ClientID, 2), esCase.ClientSecret)
	neg("tampered-payload", "payload changed after signing", flipSegment(esCase.ClientID, 1), esCase.ClientSecret)
	{
		foreign := minter("https://foreign.example.test", aud, esKey, nil, lifetime, now)
		c, _ := mintCase(foreign, "", "", regService)
		neg("foreign-issuer", `"iss" is not the trusted issuer (signed by a published key)`, c.ClientID, c.ClientSecret)
	}
	{
		other := minter(iss, "https://other-as.example.test", esKey, nil, lifetime, now)
		c, _ := mintCase(other, "", "", regService)
		neg("wrong-audience", `"aud" is another server`, c.ClientID, c.ClientSecret)
	}
	neg("alg-none", `"alg": "none", no signature`, craftNone(esKey.ID, claims()), craftedSecret)
	neg("alg-hs256", `"alg": "HS256" keyed with the derivation key`, craft(esKey, jose.HS256, esKey.SecretKey, nil, claims()), craftedSecret)
	neg("alg-mismatch", `"alg": "ES256" on the EdDSA key's kid`, craft(edKey, jose.ES256, esKey.Private.Key, map[string]any{"kid": edKey.ID}, claims()), craftedSecret)
	{
		old := minter(iss, aud, esKey, nil, lifetime, now.Add(-2*lifetime))
		c, _ := mintCase(old, "", "", regService)
		neg("expired", `"exp" passed (minted 2h ago with a 1h lifetime)`, c.ClientID, c.ClientSecret)
	}
	{
		cl := claims()
		cl["nbf"] = now.Add(time.Hour).Unix()
		neg("not-yet-valid", `"nbf" in an hour`, craft(esKey, "", nil, nil, cl), craftedSecret)
	}
	neg("wrong-secret", "valid id, the secret of another id", esCase.ClientID, esPostCase.ClientSecret)
	neg("wrong-secret-nested", "valid nested id, the secret of another id", genCase.ClientID, recCase.ClientSecret)
	neg("retired-unpublished", "signed by a retired key past its publication window (pruned, no longer in the JWKS)", goneCase.ClientID, goneCase.ClientSecret)
	neg("wrong-typ", `"typ": "JWT"`, craft(esKey, "", nil, map[string]any{"typ": "JWT"}, claims()), craftedSecret)
	neg("no-typ", `no "typ"`, craft(esKey, "", nil, map[string]any{"typ": nil}, claims()), craftedSecret)
	neg("crit", `"crit": ["exp"] (not understood)`, craft(esKey, "", nil, map[string]any{"crit": []string{"exp"}}, claims()), craftedSecret)
	neg("unknown-kid", "kid of no published key", craft(esKey, "", nil, map[string]any{"kid": "bm8tc3VjaC1rZXk"}, claims()), craftedSecret)
	{
		cl := claims()
		cl["client_secret"] = "in-the-clear"
		neg("secret-in-clear", "signed-only id carrying client_secret", craft(esKey, "", nil, nil, cl), "in-the-clear")
	}
	{
		cl := claims()
		cl["iss"] = []string{iss}
		neg("iss-not-string", `"iss" is an array`, craft(esKey, "", nil, nil, cl), craftedSecret)
	}
	{
		// Duplicate claim: Go's parser refuses it (RFC 7519 §4); JSON.parse
		// would silently keep the last one.
		good, _ := json.Marshal(claims())
		dup := []byte(`{"aud":"https://other-as.example.test",` + string(good[1:]))
		neg("duplicate-claim", `"aud" twice`, craftRawPayload(esKey, dup), craftedSecret)
	}
	{
		cl := claims()
		cl["reg"] = []string{"not", "an", "object"}
		neg("reg-not-object", `"reg" is an array`, craft(esKey, "", nil, nil, cl), craftedSecret)
	}
	{
		cl := claims()
		priv := clientKey
		cl["cnf"] = map[string]any{"jwk": priv}
		cl["reg"] = map[string]any{"grant_types": []string{"client_credentials"}, "token_endpoint_auth_method": "private_key_jwt"}
		neg("cnf-private-key", "cnf.jwk holds a private key in a readable id", craft(esKey, "", nil, nil, cl), "")
	}
	neg("nested-tampered", "ciphertext changed", flipSegment(genCase.ClientID, 3), genCase.ClientSecret)
	{
		foreignEnc := newKey("EC", "", "enc")
		fp := pub(foreignEnc)
		c, _ := mintCase(minter(iss, aud, esKey, &sci.EncryptionConfig{Recipient: fp, KeyID: fp.KeyID}, lifetime, now), "", "", regService)
		neg("nested-foreign-recipient", "encrypted to a key the server does not hold", c.ClientID, c.ClientSecret)
	}
	{
		// Compressed payload: go-jose writes "zip": "DEF"; never accepted.
		encPub := encKey.Private.Public()
		zipEnc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.ECDH_ES_A256KW, Key: encPub.Key, KeyID: encKey.ID},
			(&jose.EncrypterOptions{Compression: jose.DEFLATE}).WithContentType("JWT"))
		must(err)
		obj, err := zipEnc.Encrypt([]byte(esCase.ClientID))
		must(err)
		id, err := obj.CompactSerialize()
		must(err)
		neg("nested-zip", `nested id with "zip": "DEF"`, id, esCase.ClientSecret)
	}
	neg("not-a-jwt", "an opaque string", "c3RhdGVsZXNz", "secret")
	neg("non-canonical-base64", "a segment with non-zero trailing bits (another spelling of a valid id)", nonCanonical(esCase.ClientID), esCase.ClientSecret)

	// Rotation scenario: a second server's key set.
	rks := &sci.KeySet{}
	must(rks.Rotate(sci.UseSignature, sci.AlgES256, now, lifetime))
	a, _ := rks.Active(sci.UseSignature)
	aKey := *a
	oldJWKS, err := rks.PublicJWKS()
	must(err)
	before, _ := mintCase(minter(iss, aud, aKey, nil, lifetime, now), "rotation-before", "signed ES256 (key A)", regService)
	must(rks.Rotate(sci.UseSignature, sci.AlgES256, now, lifetime))
	b, _ := rks.Active(sci.UseSignature)
	after, _ := mintCase(minter(iss, aud, *b, nil, lifetime, now), "rotation-after", "signed ES256 (key B)", regService)
	bothJWKS, err := rks.PublicJWKS()
	must(err)
	keySetJSON, err := rks.Marshal()
	must(err)
	if !rks.Prune(now.Add(lifetime)) {
		return nil, fmt.Errorf("rotation: prune removed nothing")
	}
	newJWKS, err := rks.PublicJWKS()
	must(err)
	if err := selfCheck(out, ks); err != nil {
		return nil, err
	}
	out.Rotation = Rotation{
		KeySet: keySetJSON,
		JWKS:   map[string]json.RawMessage{"old": oldJWKS, "both": bothJWKS, "new": newJWKS},
		Before: before, After: after,
	}
	return out, nil
}

// craftRawPayload signs payload bytes as they are.
func craftRawPayload(key sci.Key, payload []byte) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key.Private.Key},
		(&jose.SignerOptions{}).WithType(sci.TypeClientID).WithHeader("kid", key.ID))
	must(err)
	return sign(signer, payload)
}

// nonCanonical sets unused trailing bits of the signature segment (whose
// length is 2 or 3 mod 4 for every algorithm here), so the bytes decode the
// same but the string differs.
func nonCanonical(id string) string {
	parts := strings.Split(id, ".")
	sig := []byte(parts[2])
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[len(sig)-1])
	switch len(sig) % 4 {
	case 2:
		last |= 0x01
	case 3:
		last |= 0x01
	default:
		return id + "A" // no spare bits: make it malformed instead
	}
	sig[len(sig)-1] = alphabet[last]
	parts[2] = string(sig)
	return strings.Join(parts, ".")
}

// selfCheck verifies every vector with the Go verifier (the reference the
// integrations must agree with): cases and the control are accepted with their
// secrets; every other negative is refused, by Verify or by CheckSecret.
func selfCheck(out *Output, ks *sci.KeySet) error {
	cfg := sci.VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{out.Issuer: ks.PublicKeySet()},
		Audience:       out.Audience,
		SecretKeys:     map[string][]byte{},
		DecryptionKeys: append([]jose.JSONWebKey(nil), out.RecipientKeys...),
	}
	for _, k := range ks.Keys {
		switch k.Use {
		case sci.UseSignature:
			cfg.SecretKeys[k.ID] = k.SecretKey
		case sci.UseEncryption:
			cfg.DecryptionKeys = append(cfg.DecryptionKeys, k.Private)
		}
	}
	v, err := sci.NewVerifier(cfg)
	if err != nil {
		return fmt.Errorf("self-check verifier: %w", err)
	}
	for _, c := range out.Cases {
		cl, err := v.Verify(c.ClientID)
		if err != nil {
			return fmt.Errorf("self-check: case %s refused by the Go verifier: %w", c.Name, err)
		}
		if c.ClientSecret != "" {
			if err := v.CheckSecret(cl, c.ClientSecret); err != nil {
				return fmt.Errorf("self-check: case %s: secret refused: %w", c.Name, err)
			}
		}
	}
	for _, n := range out.Negative {
		cl, err := v.Verify(n.ClientID)
		if err == nil && n.ClientSecret != "" {
			err = v.CheckSecret(cl, n.ClientSecret)
		}
		control := n.Control || n.GoAccepts
		if control && err != nil {
			return fmt.Errorf("self-check: control %s refused: %w", n.Name, err)
		}
		if !control && err == nil {
			return fmt.Errorf("self-check: negative %s accepted by the Go verifier", n.Name)
		}
	}
	return nil
}
