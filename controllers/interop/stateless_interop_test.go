package interop

import (
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/openidclient"
)

// These tests run the operator's stateless client ids end to end at a real
// authorization server: node-oidc-provider 9.13.3 with
// integrations/oidc-provider, over TLS on 127.0.0.1, its issuer being the
// stateless server's spec.stateless.issuer. The provider fetches the JWKS
// from the operator's embedded endpoint (<endpoint issuer>/jwks), reads the
// key Secret's keys.json from a file only in the modes that need it, has its
// own registration off, and names the operator's registration endpoint in its
// discovery document (node-oidc-provider's `discovery` option).

// statelessMode is one way the operator mints ids, and what the
// authorization server then holds.
type statelessMode struct {
	name string
	alg  oauthv1alpha1.SigningAlgorithm
	enc  oauthv1alpha1.EncryptionMode
	// pkjwt: the OAuthClient authenticates with private_key_jwt, its key in
	// the id's cnf; the AS holds nothing secret.
	pkjwt bool
	// authCode: also run an authorization_code + PKCE flow.
	authCode bool
}

var statelessModes = []statelessMode{
	{name: "signed-ES256", alg: oauthv1alpha1.SigningES256, enc: oauthv1alpha1.EncryptionNone, authCode: true},
	{name: "signed-EdDSA", alg: oauthv1alpha1.SigningEdDSA, enc: oauthv1alpha1.EncryptionNone},
	{name: "signed-RS256", alg: oauthv1alpha1.SigningRS256, enc: oauthv1alpha1.EncryptionNone},
	{name: "nested-Generated", alg: oauthv1alpha1.SigningES256, enc: oauthv1alpha1.EncryptionGenerated, authCode: true},
	{name: "nested-RecipientKey", alg: oauthv1alpha1.SigningES256, enc: oauthv1alpha1.EncryptionRecipientKey, authCode: true},
	{name: "private_key_jwt-cnf", alg: oauthv1alpha1.SigningES256, enc: oauthv1alpha1.EncryptionNone, pkjwt: true},
}

// ccMetadata is what the openid-client 6 client registers.
var ccMetadata = map[string]any{
	"grant_types":                []string{"client_credentials"},
	"response_types":             []string{},
	"token_endpoint_auth_method": "client_secret_basic",
	"client_name":                "openid-client 6",
}

// TestStatelessIDsAtNodeOIDCProvider, for every mode: an OAuthClient's
// Secret gets a client_credentials token (client_secret_basic, or a
// private_key_jwt assertion with the key of its spec.jwks); a wrong secret,
// another key and a tampered id are invalid_client; an authorization code +
// PKCE flow ends with an ID token; and openid-client 6, knowing only the
// provider's issuer, discovers it, registers at the operator's endpoint (the
// stateless open registration) and gets a token, with no OAuthClient
// created and no client stored at the provider.
func TestStatelessIDsAtNodeOIDCProvider(t *testing.T) {
	e := startEndpoint(t)
	for _, mode := range statelessModes {
		t.Run(mode.name, func(t *testing.T) {
			ns := newNamespace(t)
			port := freePort(t)
			issuer := fmt.Sprintf("https://127.0.0.1:%d", port)

			custody := asCustody{keySet: !mode.pkjwt && mode.enc != oauthv1alpha1.EncryptionRecipientKey}
			enc := &oauthv1alpha1.StatelessEncryption{Mode: mode.enc}
			if mode.enc == oauthv1alpha1.EncryptionRecipientKey {
				// The AS's own key pair: the operator gets only the public half.
				_, pub, priv := newECKey(t, "as-enc-1")
				enc.RecipientKey = jsonOf(pub)
				custody.decryptionKeys = []json.RawMessage{priv}
			}
			srv := statelessServer(ns, "idp", issuer, func(s *oauthv1alpha1.AuthorizationServer) {
				s.Spec.Stateless.SigningAlgorithm = mode.alg
				s.Spec.Stateless.Encryption = enc
				if mode.enc == oauthv1alpha1.EncryptionRecipientKey {
					// Stateless storage cannot serve RecipientKey ids (the
					// endpoint could not read them back; the webhook and the
					// endpoint refuse it): the endpoint stores registrations.
					s.Spec.RegistrationEndpoint.Storage = oauthv1alpha1.StorageStateful
				}
			})
			create(t, srv)
			waitEndpointIssuer(t, srv)
			waitKeys(t, srv, 1)
			as := startStatelessAS(t, e, srv, port, custody)

			t.Run("OAuthClient", func(t *testing.T) {
				// An OAuthClient on the server.
				oc := serviceClient(ns, "app", "idp", func(c *oauthv1alpha1.OAuthClient) {
					c.Spec.GrantTypes = []string{"authorization_code", "client_credentials"}
					c.Spec.RedirectURIs = []oauthv1alpha1.RedirectURI{testRedirectURI}
					c.Spec.Scope = "openid"
				})
				var clientKey *ecdsa.PrivateKey
				if mode.pkjwt {
					var pub json.RawMessage
					clientKey, pub, _ = newECKey(t, "client-1")
					oc.Spec.GrantTypes = []string{"client_credentials"}
					oc.Spec.RedirectURIs = nil
					oc.Spec.TokenEndpointAuthMethod = "private_key_jwt"
					oc.Spec.JWKS = jsonOf(json.RawMessage(`{"keys":[` + string(pub) + `]}`))
				}
				create(t, oc)
				waitClient(t, ns, "app", 30*time.Second, ready)
				sec := getSecret(t, ns, oc.Spec.SecretName)
				id, secret := string(sec.Data["client_id"]), string(sec.Data["client_secret"])
				if wantNested := mode.enc != oauthv1alpha1.EncryptionNone; strings.Count(id, ".") != map[bool]int{false: 2, true: 4}[wantNested] {
					t.Fatalf("client id has %d segments, want the %s form", strings.Count(id, ".")+1, mode.enc)
				}

				if mode.pkjwt {
					if secret != "" {
						t.Fatal("a private_key_jwt client got a client_secret")
					}
					if st, code := as.assertionToken(t, id, clientKey, "client-1"); st != http.StatusOK {
						t.Fatalf("private_key_jwt token: %d %s", st, code)
					}
					other, _, _ := newECKey(t, "client-1")
					expectInvalidClient(t, "an assertion signed by another key", func() (int, string) { return as.assertionToken(t, id, other, "client-1") })
					expectInvalidClient(t, "a tampered id", func() (int, string) { return as.assertionToken(t, tamper(id), clientKey, "client-1") })
					if ids := as.Clients(t); len(ids) != 0 {
						t.Fatalf("the provider stored %d clients", len(ids))
					}
					return
				}

				if st, code := as.token(t, id, secret); st != http.StatusOK {
					t.Fatalf("client_credentials token with the Secret's credentials: %d %s", st, code)
				}
				expectInvalidClient(t, "a wrong secret", func() (int, string) { return as.token(t, id, secret+"x") })
				expectInvalidClient(t, "a tampered id", func() (int, string) { return as.token(t, tamper(id), secret) })
				if mode.authCode {
					if err := as.authorizationCodeFlow(t, id, secret); err != nil {
						t.Fatalf("authorization_code + PKCE: %v", err)
					}
				}
			})
			if mode.pkjwt || mode.enc == oauthv1alpha1.EncryptionRecipientKey {
				return
			}
			t.Run("open registration via discovery", func(t *testing.T) {
				// Open registration through discovery of the AS's issuer.
				before := countOAuthClients(t, ns)
				r := openidclient.RegisterV6(t, as.URL, [][]byte{as.CAPEM, e.caPEM}, "", ccMetadata, false, "")
				if !r.OK {
					t.Fatalf("openid-client 6: %s: %s (%d %s)", r.Step, r.Error, r.Status, r.OAuthError)
				}
				if r.Discovered.Issuer != as.URL || r.Discovered.RegistrationEndpoint != as.endpointIssuer+"/register" || r.Discovered.TokenEndpoint != as.URL+"/token" {
					t.Fatalf("discovered %+v", r.Discovered)
				}
				if !strings.HasPrefix(r.ClientID(), "eyJ") || r.ClientSecret() == "" {
					t.Fatal("the registration gave no stateless id or no secret")
				}
				if after := countOAuthClients(t, ns); after != before {
					t.Fatalf("the stateless registration created %d OAuthClient(s)", after-before)
				}
				failIfMintedForEndpoint(t, srv, r.ClientID(), time.Now())
				if mode.enc == oauthv1alpha1.EncryptionRecipientKey && strings.Count(r.ClientID(), ".") != 4 {
					// A signed-only id's secret is derived with the key Secret's
					// derivation key, which a RecipientKey AS does not hold.
					t.Fatal("the endpoint's Stateless registration on a RecipientKey server minted a signed-only id, not one encrypted to the recipient key")
				}
				if st, code := as.token(t, r.ClientID(), r.ClientSecret()); st != http.StatusOK {
					t.Fatalf("token with the registered credentials: %d %s", st, code)
				}
				if r := openidclient.RegisterV6(t, as.URL, [][]byte{as.CAPEM, e.caPEM}, "", ccMetadata, true, ""); !r.OK || r.Token == nil {
					t.Fatalf("openid-client 6, discovery + registration + token: %s: %s (%d %s)", r.Step, r.Error, r.Status, r.OAuthError)
				}
				if ids := as.Clients(t); len(ids) != 0 {
					t.Fatalf("the provider stored %d clients", len(ids))
				}
			})
		})
	}
}

// TestStatelessIDExpiresAndForeignIssuer: ids with the shortest lifetime
// the API allows (1m; the manager's clock is set back so that they run out
// seconds later) get tokens until they expire, then the provider answers
// invalid_client. The OAuthClient is re-minted (its clock caught up) and its
// new id works; a client of the open registration registers again with
// openid-client 6 and works. Ids of a second stateless server with another
// issuer are invalid_client.
func TestStatelessIDExpiresAndForeignIssuer(t *testing.T) {
	e := startEndpoint(t)
	ns := newNamespace(t)
	port := freePort(t)
	issuer := fmt.Sprintf("https://127.0.0.1:%d", port)
	srv := statelessServer(ns, "idp", issuer, func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.Stateless.ClientIDLifetime = &metav1.Duration{Duration: time.Minute}
	})
	create(t, srv)
	foreign := statelessServer(ns, "foreign", "https://foreign.example")
	create(t, foreign)
	waitEndpointIssuer(t, srv)
	waitKeys(t, srv, 1)
	as := startStatelessAS(t, e, srv, port, asCustody{keySet: true})

	// Minted 55 s in the past: 5 s left.
	mintedAt := time.Now().Add(-55 * time.Second)
	e.clock.SetTime(mintedAt)
	create(t, serviceClient(ns, "short", "idp"))
	waitClient(t, ns, "short", 30*time.Second, ready)
	sec := getSecret(t, ns, "short-oauth")
	id, secret := string(sec.Data["client_id"]), string(sec.Data["client_secret"])
	reg := openidclient.RegisterV6(t, as.URL, [][]byte{as.CAPEM, e.caPEM}, "", ccMetadata, false, "")
	if !reg.OK {
		t.Fatalf("openid-client 6: %s: %s", reg.Step, reg.Error)
	}
	exp := jwsClaims(t, id).Exp
	if until := time.Until(time.Unix(exp, 0)); until <= 0 || until > 6*time.Second {
		t.Fatalf("the id expires %s from now, want within 6s", until)
	}
	if st, code := as.token(t, id, secret); st != http.StatusOK {
		t.Fatalf("token before expiry: %d %s", st, code)
	}
	time.Sleep(time.Until(time.Unix(exp+1, 0)))
	expectInvalidClient(t, "an expired id", func() (int, string) { return as.token(t, id, secret) })

	// The operator re-mints once its clock says the id is due.
	e.clock.SetTime(time.Now())
	poke(t, &oauthv1alpha1.OAuthClient{}, ns, "short")
	eventually(t, 30*time.Second, func() error {
		if s := getSecret(t, ns, "short-oauth"); string(s.Data["client_id"]) == id {
			return fmt.Errorf("not re-minted yet")
		}
		return nil
	})
	sec = getSecret(t, ns, "short-oauth")
	if st, code := as.token(t, string(sec.Data["client_id"]), string(sec.Data["client_secret"])); st != http.StatusOK {
		t.Fatalf("token with the re-minted id: %d %s", st, code)
	}

	// A valid id of another issuer, and its secret.
	create(t, serviceClient(ns, "elsewhere", "foreign"))
	waitClient(t, ns, "elsewhere", 30*time.Second, ready)
	fs := getSecret(t, ns, "elsewhere-oauth")
	expectInvalidClient(t, "a foreign issuer's id", func() (int, string) {
		return as.token(t, string(fs.Data["client_id"]), string(fs.Data["client_secret"]))
	})

	// The open registration's client: expired, it registers again.
	t.Run("open registration", func(t *testing.T) {
		failIfMintedForEndpoint(t, srv, reg.ClientID(), mintedAt)
		expectInvalidClient(t, "an expired registered id", func() (int, string) { return as.token(t, reg.ClientID(), reg.ClientSecret()) })
		again := openidclient.RegisterV6(t, as.URL, [][]byte{as.CAPEM, e.caPEM}, "", ccMetadata, true, "")
		if !again.OK || again.ClientID() == reg.ClientID() {
			t.Fatalf("registering again: %s: %s", again.Step, again.Error)
		}
	})
}

// TestStatelessKeyRotationAtNodeOIDCProvider: the server's signing key
// rotates during the run (keyRotationInterval 1h, the manager's clock moved
// past it and the server reconciled); the provider reads the new key set
// file and refetches the JWKS for the unknown kid; ids signed before and
// after the rotation both get tokens while both keys are published.
func TestStatelessKeyRotationAtNodeOIDCProvider(t *testing.T) {
	e := startEndpoint(t)
	ns := newNamespace(t)
	port := freePort(t)
	issuer := fmt.Sprintf("https://127.0.0.1:%d", port)
	e.clock.SetTime(time.Now().Add(-61 * time.Minute))
	srv := statelessServer(ns, "idp", issuer, func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.Stateless.KeyRotationInterval = &metav1.Duration{Duration: time.Hour}
	})
	create(t, srv)
	waitEndpointIssuer(t, srv)
	waitKeys(t, srv, 1)
	as := startStatelessAS(t, e, srv, port, asCustody{keySet: true})

	create(t, serviceClient(ns, "before", "idp"))
	waitClient(t, ns, "before", 30*time.Second, ready)
	sec := getSecret(t, ns, "before-oauth")
	idA, secretA := string(sec.Data["client_id"]), string(sec.Data["client_secret"])
	if code, msg := as.token(t, idA, secretA); code != http.StatusOK {
		t.Fatalf("token before the rotation: %d %s", code, msg)
	}

	// Rotate: the key is now older than the interval.
	e.clock.SetTime(time.Now())
	poke(t, &oauthv1alpha1.AuthorizationServer{}, ns, "idp")
	waitKeys(t, srv, 2)
	writeKeySet(t, srv, as.keyFile)
	// Both keys are published at the endpoint the provider fetches from.
	eventually(t, 30*time.Second, func() error { return jwksHolds(e, as.endpointIssuer, srv.Status.Keys) })

	create(t, serviceClient(ns, "after", "idp"))
	waitClient(t, ns, "after", 30*time.Second, ready)
	sec = getSecret(t, ns, "after-oauth")
	idB, secretB := string(sec.Data["client_id"]), string(sec.Data["client_secret"])
	kidA, kidB := jwsKeyID(t, idA), jwsKeyID(t, idB)
	if kidA == kidB {
		t.Fatalf("ids before and after the rotation have the same kid %s", kidA)
	}
	// An unknown kid refetches the JWKS at most once per refetch interval
	// (200ms here): let it pass since the last request.
	fetched := as.StatelessSources(t)[0].Fetches
	time.Sleep(asJWKSRefetchInterval)
	for _, c := range []struct{ what, id, secret string }{
		{"the OAuthClient minted after", idB, secretB},
		{"the OAuthClient minted before", idA, secretA},
	} {
		if code, msg := as.token(t, c.id, c.secret); code != http.StatusOK {
			t.Errorf("token for %s the rotation: %d %s; provider stderr:\n%s", c.what, code, msg, as.Stderr())
		}
	}
	src := as.StatelessSources(t)[0]
	if src.Fetches != fetched+1 || !slices.Contains(src.Kids, kidA) || !slices.Contains(src.Kids, kidB) {
		t.Fatalf("the provider's JWKS after the rotation: %d fetch(es) more, kids %v (want %s and %s)", src.Fetches-fetched, src.Kids, kidA, kidB)
	}
}

// expectInvalidClient asserts that do answers 401 invalid_client.
func expectInvalidClient(t testing.TB, what string, do func() (int, string)) {
	t.Helper()
	if st, code := do(); st != http.StatusUnauthorized || code != "invalid_client" {
		t.Fatalf("%s: got %d %q, want 401 invalid_client", what, st, code)
	}
}
