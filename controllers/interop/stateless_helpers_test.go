package interop

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/internal/josetest"
	"github.com/clientreg/clientreg/registrar/stateless"
)

// The redirect URI of the test clients' authorization code flows; nothing
// listens there, the flow stops at the redirect.
const testRedirectURI = "https://app.example/cb"

// asJWKSRefetchInterval is how often, at most, the provider refetches the
// JWKS for an unknown kid.
const asJWKSRefetchInterval = 200 * time.Millisecond

// freePort reserves a free 127.0.0.1 port for a provider whose issuer must
// be known before it starts (the stateless server's issuer names it).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// statelessServer is a stateless AuthorizationServer whose ids are for
// issuer, with an open Stateless registration endpoint.
func statelessServer(ns, name, issuer string, mods ...serverMod) *oauthv1alpha1.AuthorizationServer {
	s := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.AuthorizationServerSpec{
			Stateless: &oauthv1alpha1.StatelessServer{Issuer: issuer},
			RegistrationEndpoint: &oauthv1alpha1.RegistrationEndpoint{
				Open: true, Storage: oauthv1alpha1.StorageStateless,
			},
		},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

// waitKeys waits until the server's keys are published with at least n keys
// and returns the server.
func waitKeys(t testing.TB, s *oauthv1alpha1.AuthorizationServer, n int) *oauthv1alpha1.AuthorizationServer {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(s.Status.Conditions, oauthv1alpha1.ConditionKeysReady) || s.Status.KeySecretRef == nil || len(s.Status.Keys) < n {
			return fmt.Errorf("keys not ready (want %d): %+v", n, s.Status.Keys)
		}
		return nil
	})
	return s
}

// writeKeySet writes the server's key Secret keys.json to file atomically
// (a new inode, as a Secret volume update does), so a running provider picks
// it up.
func writeKeySet(t testing.TB, s *oauthv1alpha1.AuthorizationServer, file string) {
	t.Helper()
	sec := getSecret(t, s.Status.KeySecretRef.Namespace, s.Status.KeySecretRef.Name)
	raw := sec.Data[statelessbackend.KeySetDataKey]
	if len(raw) == 0 {
		t.Fatalf("key Secret %s has no %s", sec.Name, statelessbackend.KeySetDataKey)
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// asCustody says what the authorization server is given besides the
// published JWKS.
type asCustody struct {
	// keySet: the key Secret's keys.json (derived secrets, Generated).
	keySet bool
	// decryptionKeys: the AS's own private keys (RecipientKey).
	decryptionKeys []json.RawMessage
}

// statelessAS is node-oidc-provider with integrations/oidc-provider,
// trusting the ids of one stateless server of the operator.
type statelessAS struct {
	*oidcprovider.Provider
	keyFile string // "" when the AS does not hold the key set
	// endpointIssuer is the operator endpoint's issuer of the server.
	endpointIssuer string
}

// startStatelessAS starts the provider on port (the port in the server's
// issuer) for the Ready server srv at the endpoint e: the JWKS from the
// endpoint's <issuer>/jwks, the key set in a file when custody asks for it,
// its own registration off and discovery naming the endpoint's registration
// URL.
func startStatelessAS(t testing.TB, e *endpointEnv, srv *oauthv1alpha1.AuthorizationServer, port int, custody asCustody) *statelessAS {
	t.Helper()
	as := &statelessAS{endpointIssuer: srv.Status.EndpointIssuer}
	if as.endpointIssuer == "" {
		t.Fatalf("server %s has no endpoint issuer", srv.Name)
	}
	opts := &oidcprovider.Stateless{
		JWKSURI:              as.endpointIssuer + "/jwks",
		DecryptionKeys:       custody.decryptionKeys,
		JWKSRefetchInterval:  asJWKSRefetchInterval,
		KeySetReloadInterval: 100 * time.Millisecond,
	}
	if custody.keySet {
		as.keyFile = filepath.Join(t.TempDir(), "keys.json")
		writeKeySet(t, srv, as.keyFile)
		opts.KeySetFile = as.keyFile
	}
	as.Provider = oidcprovider.Start(t, oidcprovider.Options{
		Port:                port,
		Stateless:           opts,
		DisableRegistration: true,
		Discovery:           map[string]any{"registration_endpoint": as.endpointIssuer + "/register"},
		TrustPEM:            e.caPEM,
	})
	if want := srv.Spec.Stateless.Issuer; as.URL != want {
		t.Fatalf("provider issuer %s, server issuer %s", as.URL, want)
	}
	return as
}

// token posts a client_credentials grant with client_secret_basic and
// returns the status and the OAuth error code ("" on success).
func (as *statelessAS) token(t testing.TB, id, secret string) (int, string) {
	t.Helper()
	st, body, err := as.ClientCredentialsToken(context.Background(), id, secret)
	if err != nil {
		t.Fatalf("token request: %v", err)
	}
	return st, oauthError(body)
}

// assertionToken posts a client_credentials grant authenticated with a
// private_key_jwt assertion signed by key (kid).
func (as *statelessAS) assertionToken(t testing.TB, id string, key *ecdsa.PrivateKey, kid string) (int, string) {
	t.Helper()
	now := time.Now()
	assertion := josetest.SignJSON(t, jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid), map[string]any{
			"iss": id, "sub": id, "aud": as.URL, "jti": randomString(t),
			"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		})
	st, body := as.postForm(t, "/token", url.Values{
		"grant_type":            {"client_credentials"},
		"client_id":             {id},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion":      {assertion},
	}, "", "")
	return st, oauthError(body)
}

// postForm posts a form to the provider, with HTTP Basic when id is set.
func (as *statelessAS) postForm(t testing.TB, path string, form url.Values, id, secret string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, as.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := as.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// authorizationCodeFlow drives an authorization_code + PKCE flow headlessly
// (the provider's /interaction/{uid} logs in user-1 and grants openid),
// exchanges the code with client_secret_basic and verifies the ID token
// against the provider's JWKS. It returns an error describing the first
// step that failed.
func (as *statelessAS) authorizationCodeFlow(t testing.TB, id, secret string) error {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{
		Transport:     as.HTTPClient().Transport,
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	verifier := randomString(t)
	sum := sha256.Sum256([]byte(verifier))
	state, nonce := randomString(t), randomString(t)
	q := url.Values{
		"client_id": {id}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {testRedirectURI},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"state": {state}, "nonce": {nonce},
	}
	next, err := url.Parse(as.URL + "/auth?" + q.Encode())
	if err != nil {
		return err
	}
	var code string
	for i := 0; ; i++ {
		if i == 10 {
			return fmt.Errorf("no redirect to the client after %d hops", i)
		}
		resp, err := hc.Get(next.String())
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
			return fmt.Errorf("GET %s: %d %s", next.Path, resp.StatusCode, oauthError(body))
		}
		loc, err := next.Parse(resp.Header.Get("Location"))
		if err != nil {
			return err
		}
		if strings.HasPrefix(loc.String(), testRedirectURI) {
			if e := loc.Query().Get("error"); e != "" {
				return fmt.Errorf("authorization error %s", e)
			}
			if loc.Query().Get("state") != state || loc.Query().Get("iss") != as.URL {
				return fmt.Errorf("redirect with state/iss %q/%q", loc.Query().Get("state"), loc.Query().Get("iss"))
			}
			code = loc.Query().Get("code")
			break
		}
		next = loc
	}
	if code == "" {
		return fmt.Errorf("no code in the redirect")
	}
	st, body := as.postForm(t, "/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {testRedirectURI}, "code_verifier": {verifier},
	}, id, secret)
	if st != http.StatusOK {
		return fmt.Errorf("code exchange: %d %s", st, oauthError(body))
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.IDToken == "" {
		return fmt.Errorf("code exchange: no id_token")
	}
	return as.verifyIDToken(tok.IDToken, id, nonce)
}

// verifyIDToken checks the ID token's signature against the provider's JWKS
// and its iss, aud, sub and nonce.
func (as *statelessAS) verifyIDToken(raw, clientID, nonce string) error {
	set, err := getJWKS(as.HTTPClient(), as.URL+"/jwks")
	if err != nil {
		return fmt.Errorf("provider JWKS: %w", err)
	}
	jws, err := jose.ParseSignedCompact(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		return fmt.Errorf("id_token: %w", err)
	}
	keys := set.Key(jws.Signatures[0].Header.KeyID)
	if len(keys) == 0 {
		return fmt.Errorf("id_token: unknown kid")
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		return fmt.Errorf("id_token signature: %w", err)
	}
	var c struct {
		Iss   string `json:"iss"`
		Aud   any    `json:"aud"`
		Sub   string `json:"sub"`
		Nonce string `json:"nonce"`
		Exp   int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return err
	}
	if c.Iss != as.URL || c.Aud != clientID || c.Sub != "user-1" || c.Nonce != nonce || c.Exp < time.Now().Unix() {
		return fmt.Errorf("id_token claims: iss %s, aud matches %v, sub %s, nonce matches %v", c.Iss, c.Aud == clientID, c.Sub, c.Nonce == nonce)
	}
	return nil
}

// oauthError returns the "error" member of a JSON body ("" if none).
func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}

func randomString(t testing.TB) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// tamper changes one character inside the last segment of a compact JWS or
// JWE (the signature, or the JWE tag) to another base64url character.
func tamper(id string) string {
	b := []byte(id)
	i := len(b) - 6
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// jwsKeyID returns the kid of a signed-only id's header.
func jwsKeyID(t testing.TB, id string) string {
	t.Helper()
	head, _, _ := strings.Cut(id, ".")
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("id header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("id header: %v", err)
	}
	return h.Kid
}

// newECKey returns a P-256 key with its public JWK (with kid) and private
// JWK (both JSON).
func newECKey(t testing.TB, kid string) (*ecdsa.PrivateKey, json.RawMessage, json.RawMessage) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := json.Marshal(jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	priv, err := json.Marshal(jose.JSONWebKey{Key: k, KeyID: kid})
	if err != nil {
		t.Fatal(err)
	}
	return k, pub, priv
}

// countOAuthClients counts the OAuthClients in ns.
func countOAuthClients(t testing.TB, ns string) int {
	t.Helper()
	var l oauthv1alpha1.OAuthClientList
	if err := k8s.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	return len(l.Items)
}

func jsonOf(raw json.RawMessage) *apiextensionsv1.JSON { return &apiextensionsv1.JSON{Raw: raw} }

// idClaims are the claims of a signed-only id the tests look at.
type idClaims struct {
	Iss string `json:"iss"`
	Exp int64  `json:"exp"`
}

// jwsClaims decodes (without verifying) the payload of a signed-only id.
func jwsClaims(t testing.TB, id string) idClaims {
	t.Helper()
	parts := strings.Split(id, ".")
	if len(parts) != 3 {
		t.Fatalf("not a signed-only id: %d segments", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("id payload: %v", err)
	}
	var c idClaims
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("id payload: %v", err)
	}
	return c
}

// poke changes an annotation of obj (ns/name) so that its controller
// reconciles it now.
func poke(t testing.TB, obj client.Object, ns, name string) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["test.clientreg.dev/poke"] = randomString(t)
	obj.SetAnnotations(a)
	if err := k8s.Patch(context.Background(), obj, patch); err != nil {
		t.Fatal(err)
	}
}

// getJWKS reads the JWK Set at url.
func getJWKS(c *http.Client, url string) (jose.JSONWebKeySet, error) {
	var set jose.JSONWebKeySet
	resp, err := c.Get(url)
	if err != nil {
		return set, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&set)
	return set, err
}

// jwksHolds reports whether the endpoint's <issuer>/jwks publishes every
// signing key of keys.
func jwksHolds(e *endpointEnv, endpointIssuer string, keys []oauthv1alpha1.KeyStatus) error {
	set, err := getJWKS(e.http, endpointIssuer+"/jwks")
	if err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	for _, k := range keys {
		if k.Use == "sig" && len(set.Key(k.KeyID)) == 0 {
			return fmt.Errorf("jwks does not publish %s yet", k.KeyID)
		}
	}
	return nil
}

// failIfMintedForEndpoint fails t when the embedded endpoint's Stateless
// registration minted id for the endpoint's own issuer
// (status.endpointIssuer as iss and aud) instead of spec.stateless.issuer:
// no authorization server can accept such an id (it did so before this was
// found by these tests). The id is checked as of at (a time it was valid).
func failIfMintedForEndpoint(t testing.TB, srv *oauthv1alpha1.AuthorizationServer, id string, at time.Time) {
	t.Helper()
	sec := getSecret(t, srv.Status.KeySecretRef.Namespace, srv.Status.KeySecretRef.Name)
	keys, err := stateless.ParseKeySet(sec.Data[statelessbackend.KeySetDataKey])
	if err != nil {
		t.Fatal(err)
	}
	v, err := stateless.VerifierFromKeySet(srv.Status.EndpointIssuer, srv.Status.EndpointIssuer, keys, fixedClock(at))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(id); err == nil {
		t.Fatalf("the endpoint's Stateless registration minted an id for its own issuer %s, not spec.stateless.issuer %s: no authorization server accepts it",
			srv.Status.EndpointIssuer, srv.Spec.Stateless.Issuer)
	}
}

// fixedClock is a clock that always says the same time.
type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }
