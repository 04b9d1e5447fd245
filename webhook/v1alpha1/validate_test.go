package v1alpha1

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/josetest"
)

// Fixture builders with modifiers (cert-manager's gen style).

func oauthClient(mods ...func(*oauthv1alpha1.OAuthClient)) *oauthv1alpha1.OAuthClient {
	c := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "billing"},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:    oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindAuthorizationServer, Name: "idp"},
			SecretName:   "billing-oauth",
			ClientName:   "Billing",
			RedirectURIs: []oauthv1alpha1.RedirectURI{"https://billing.example.com/callback"},
			GrantTypes:   []string{"authorization_code", "refresh_token"},
		},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func minted(c *oauthv1alpha1.OAuthClient) { c.Status.ClientID = "eyJ.minted.id" }

func rotate(v string) func(*oauthv1alpha1.OAuthClient) {
	return func(c *oauthv1alpha1.OAuthClient) {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[oauthv1alpha1.AnnotationRotate] = v
	}
}

func statelessSpec() oauthv1alpha1.AuthorizationServerSpec {
	return oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://idp.example.com"}}
}

func dynamicSpec() oauthv1alpha1.AuthorizationServerSpec {
	return oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: &oauthv1alpha1.DynamicRegistration{IssuerURL: "https://idp.example.com"}}
}

func nsServer(spec oauthv1alpha1.AuthorizationServerSpec) *oauthv1alpha1.AuthorizationServer {
	return &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "idp"}, Spec: spec}
}

func clusterServer(spec oauthv1alpha1.AuthorizationServerSpec) *oauthv1alpha1.ClusterAuthorizationServer {
	return &oauthv1alpha1.ClusterAuthorizationServer{ObjectMeta: metav1.ObjectMeta{Name: "corp"}, Spec: spec}
}

func dur(s string) *metav1.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		panic(err)
	}
	return &metav1.Duration{Duration: d}
}

func rawJSON(t *testing.T, v any) apiextensionsv1.JSON {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return apiextensionsv1.JSON{Raw: b}
}

func caPEM(t *testing.T) []byte {
	t.Helper()
	k := josetest.P256Key(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// wantErrors checks that err is one Invalid error holding exactly the given
// field paths (in any order), or nil when none are given.
func wantErrors(t *testing.T, err error, paths ...string) {
	t.Helper()
	if len(paths) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !apierrors.IsInvalid(err) {
		t.Fatalf("want an Invalid error with %v, got %v", paths, err)
	}
	var got []string
	for _, c := range err.(apierrors.APIStatus).Status().Details.Causes {
		got = append(got, c.Field)
	}
	if strings.Join(sorted(got), ",") != strings.Join(sorted(paths), ",") {
		t.Fatalf("error fields = %v, want %v\n%v", got, paths, err)
	}
}

func sorted(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestOAuthClientValidateCreate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		obj   *oauthv1alpha1.OAuthClient
		paths []string
	}{
		{name: "valid", obj: oauthClient()},
		{name: "client credentials without redirect URIs", obj: oauthClient(func(c *oauthv1alpha1.OAuthClient) {
			c.Spec.GrantTypes, c.Spec.RedirectURIs = []string{"client_credentials"}, nil
		})},
		{name: "authorization_code needs a redirect URI", obj: oauthClient(func(c *oauthv1alpha1.OAuthClient) { c.Spec.RedirectURIs = nil }),
			paths: []string{"spec.redirectURIs"}},
		{name: "every error at once", obj: oauthClient(func(c *oauthv1alpha1.OAuthClient) {
			c.Spec.GrantTypes = []string{"authorization_code", "urn:example:unsupported"}
			c.Spec.TokenEndpointAuthMethod = "bogus"
			c.Spec.ExtraMetadata = map[string]apiextensionsv1.JSON{"client_name": {Raw: []byte(`"dup"`)}, "client_secret": {Raw: []byte(`"x"`)}}
		}), paths: []string{"spec.grantTypes[1]", "spec.tokenEndpointAuthMethod", "spec.extraMetadata[client_name]", "spec.extraMetadata[client_secret]"}},
		{name: "private key in jwks", obj: oauthClient(func(c *oauthv1alpha1.OAuthClient) {
			priv := jose.JSONWebKey{Key: josetest.P256Key(t), KeyID: "k"}
			c.Spec.TokenEndpointAuthMethod = "private_key_jwt"
			j := rawJSON(t, map[string]any{"keys": []any{priv}})
			c.Spec.JWKS = &j
		}), paths: []string{"spec.jwks"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &OAuthClientValidator{}
			_, err := v.ValidateCreate(context.Background(), tc.obj)
			wantErrors(t, err, tc.paths...)
			if err != nil && strings.Contains(err.Error(), `"d"`) {
				t.Fatalf("error echoes key material: %v", err)
			}
		})
	}
}

func TestOAuthClientValidateUpdate(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := oauthv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	reader := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		nsServer(statelessSpec()),
		&oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "remote"}, Spec: dynamicSpec()},
	).Build()
	renamed := func(c *oauthv1alpha1.OAuthClient) { c.Spec.ClientName = "Billing 2" }
	for _, tc := range []struct {
		name        string
		old, new    *oauthv1alpha1.OAuthClient
		paths       []string
		wantWarning bool
	}{
		{name: "minted stateless: metadata change refused", old: oauthClient(minted), new: oauthClient(minted, renamed),
			paths: []string{"spec.clientName"}},
		{name: "minted stateless: every changed member named", old: oauthClient(minted), new: oauthClient(minted, renamed, func(c *oauthv1alpha1.OAuthClient) {
			c.Spec.Scope = "openid"
			c.Spec.ExtraMetadata = map[string]apiextensionsv1.JSON{"x_team": {Raw: []byte(`"a"`)}}
		}), paths: []string{"spec.clientName", "spec.scope", "spec.extraMetadata[x_team]"}},
		{name: "minted stateless: change with a new rotation request", old: oauthClient(minted, rotate("1")), new: oauthClient(minted, renamed, rotate("2")), wantWarning: true},
		{name: "minted stateless: first rotation request", old: oauthClient(minted), new: oauthClient(minted, renamed, rotate("now")), wantWarning: true},
		{name: "minted stateless: unchanged rotation request", old: oauthClient(minted, rotate("1")), new: oauthClient(minted, renamed, rotate("1")),
			paths: []string{"spec.clientName"}},
		{name: "minted stateless: request already answered", old: oauthClient(minted, func(c *oauthv1alpha1.OAuthClient) { c.Status.ObservedRotationRequest = "2" }),
			new: oauthClient(minted, renamed, rotate("2")), paths: []string{"spec.clientName"}},
		{name: "minted stateless: non-metadata fields change freely", old: oauthClient(minted), new: oauthClient(minted, func(c *oauthv1alpha1.OAuthClient) {
			c.Spec.SecretTemplate = &oauthv1alpha1.SecretTemplate{Labels: map[string]string{"team": "a"}}
			c.Spec.Rotation = &oauthv1alpha1.Rotation{Interval: dur("720h")}
			c.Spec.DeletionPolicy = oauthv1alpha1.DeletionPolicyOrphan
		})},
		{name: "not minted yet", old: oauthClient(), new: oauthClient(renamed)},
		{name: "dynamic server: updated in place", old: oauthClient(minted, func(c *oauthv1alpha1.OAuthClient) { c.Spec.ServerRef.Name = "remote" }),
			new: oauthClient(minted, renamed, func(c *oauthv1alpha1.OAuthClient) { c.Spec.ServerRef.Name = "remote" })},
		{name: "server missing", old: oauthClient(minted, func(c *oauthv1alpha1.OAuthClient) { c.Spec.ServerRef.Name = "gone" }),
			new: oauthClient(minted, renamed, func(c *oauthv1alpha1.OAuthClient) { c.Spec.ServerRef.Name = "gone" })},
		{name: "invalid stored object: metadata-only update allowed", old: oauthClient(minted, func(c *oauthv1alpha1.OAuthClient) { c.Spec.RedirectURIs = nil }),
			new: oauthClient(minted, rotate("x"), func(c *oauthv1alpha1.OAuthClient) { c.Spec.RedirectURIs = nil })},
		{name: "invalid change and immutability together", old: oauthClient(minted), new: oauthClient(minted, func(c *oauthv1alpha1.OAuthClient) { c.Spec.RedirectURIs = nil }),
			paths: []string{"spec.redirectURIs", "spec.redirectURIs"}},
		{name: "being deleted", old: oauthClient(minted), new: oauthClient(minted, renamed, func(c *oauthv1alpha1.OAuthClient) { c.DeletionTimestamp = &metav1.Time{Time: time.Now()} })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := &OAuthClientValidator{Reader: reader, Backends: testBackends}
			warnings, err := v.ValidateUpdate(context.Background(), tc.old, tc.new)
			wantErrors(t, err, tc.paths...)
			if tc.wantWarning != (len(warnings) > 0) {
				t.Fatalf("warnings = %v, want some: %v", warnings, tc.wantWarning)
			}
			if err != nil && !strings.Contains(err.Error(), oauthv1alpha1.AnnotationRotate) && tc.name != "invalid change and immutability together" {
				t.Fatalf("the refusal does not say how to proceed: %v", err)
			}
		})
	}
}

func TestOAuthClientWarnsAboutMissingServer(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := oauthv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	v := &OAuthClientValidator{Reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(nsServer(statelessSpec())).Build()}
	if w, err := v.ValidateCreate(context.Background(), oauthClient()); err != nil || len(w) != 0 {
		t.Fatalf("existing server: warnings %q, err %v", w, err)
	}
	w, err := v.ValidateCreate(context.Background(), oauthClient(func(c *oauthv1alpha1.OAuthClient) {
		c.Spec.ServerRef = oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindClusterAuthorizationServer, Name: "later"}
	}))
	if err != nil || len(w) != 1 || !strings.Contains(w[0], `ClusterAuthorizationServer "later" does not exist`) {
		t.Fatalf("missing server: warnings %q, err %v", w, err)
	}
}

func TestServerValidate(t *testing.T) {
	privJWK := jose.JSONWebKey{Key: josetest.P256Key(t), KeyID: "p"}
	pubJWK := jose.JSONWebKey{Key: josetest.P256Key(t).Public(), KeyID: "pub", Algorithm: "ES256", Use: "sig"}
	keyPEM := func() []byte {
		der, err := x509.MarshalECPrivateKey(josetest.P256Key(t))
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}()
	endpoint := func(mod func(*oauthv1alpha1.RegistrationEndpoint)) oauthv1alpha1.AuthorizationServerSpec {
		s := statelessSpec()
		s.RegistrationEndpoint = &oauthv1alpha1.RegistrationEndpoint{Open: true}
		mod(s.RegistrationEndpoint)
		return s
	}
	stateless := func(mod func(*oauthv1alpha1.StatelessServer)) oauthv1alpha1.AuthorizationServerSpec {
		s := statelessSpec()
		mod(s.Stateless)
		return s
	}
	dynamic := func(mod func(*oauthv1alpha1.DynamicRegistration)) oauthv1alpha1.AuthorizationServerSpec {
		s := dynamicSpec()
		mod(s.DynamicRegistration)
		return s
	}
	for _, tc := range []struct {
		name    string
		obj     oauthv1alpha1.ServerObject
		paths   []string
		warning string
	}{
		{name: "stateless valid", obj: nsServer(statelessSpec())},
		{name: "dynamic valid with CA bundle", obj: nsServer(dynamic(func(d *oauthv1alpha1.DynamicRegistration) {
			d.CABundle = caPEM(t)
			d.InitialAccessToken = &oauthv1alpha1.SecretKeySelector{Name: "iat", Key: "token", Namespace: "apps"}
		}))},
		{name: "issuer with query and fragment", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) { s.Issuer = "https://idp.example.com/?a=b#c" })),
			paths: []string{"spec.stateless.issuer"}},
		{name: "dynamic issuer and endpoint", obj: nsServer(dynamic(func(d *oauthv1alpha1.DynamicRegistration) {
			d.IssuerURL = "https://"
			d.RegistrationEndpoint = "https://user@idp.example.com/register"
		})), paths: []string{"spec.dynamicRegistration.issuerURL", "spec.dynamicRegistration.registrationEndpoint"}},
		{name: "CA bundle not PEM", obj: nsServer(dynamic(func(d *oauthv1alpha1.DynamicRegistration) { d.CABundle = []byte("not a certificate") })),
			paths: []string{"spec.dynamicRegistration.caBundle"}},
		{name: "CA bundle with a private key", obj: nsServer(dynamic(func(d *oauthv1alpha1.DynamicRegistration) { d.CABundle = append(caPEM(t), keyPEM...) })),
			paths: []string{"spec.dynamicRegistration.caBundle"}},
		{name: "stateless naming its authorization server", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) {
			s.AuthorizationServer = &oauthv1alpha1.StatelessAuthorizationServer{CABundle: caPEM(t)}
		}))},
		{name: "authorization server CA bundle with a private key, endpoint with a fragment", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) {
			s.AuthorizationServer = &oauthv1alpha1.StatelessAuthorizationServer{CABundle: append(caPEM(t), keyPEM...), TokenEndpoint: "https://idp.example.com/token#x"}
		})), paths: []string{"spec.stateless.authorizationServer.caBundle", "spec.stateless.authorizationServer.tokenEndpoint"}},
		{name: "authorization server discovered from an http issuer", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) {
			s.Issuer = "http://idp.example.com"
			s.AuthorizationServer = &oauthv1alpha1.StatelessAuthorizationServer{}
		})), paths: []string{"spec.stateless.issuer"}},
		{name: "Stateless storage with RecipientKey ids", obj: nsServer(func() oauthv1alpha1.AuthorizationServerSpec {
			s := statelessSpec()
			j := rawJSON(t, jose.JSONWebKey{Key: josetest.P256Key(t).Public()})
			s.Stateless.Encryption = &oauthv1alpha1.StatelessEncryption{Mode: oauthv1alpha1.EncryptionRecipientKey, RecipientKey: &j}
			s.RegistrationEndpoint = &oauthv1alpha1.RegistrationEndpoint{Open: true, Storage: oauthv1alpha1.StorageStateless}
			return s
		}()), paths: []string{"spec.registrationEndpoint.storage"}},
		{name: "negative durations", obj: nsServer(dynamic(func(d *oauthv1alpha1.DynamicRegistration) {
			d.ResyncInterval, d.Timeout = dur("-1m"), dur("-1s")
		})), paths: []string{"spec.dynamicRegistration.resyncInterval", "spec.dynamicRegistration.timeout"}},
		{name: "short resync warns", obj: nsServer(dynamic(func(d *oauthv1alpha1.DynamicRegistration) { d.ResyncInterval = dur("5s") })), warning: "resyncInterval"},
		{name: "namespaced server: Secrets in another namespace", obj: nsServer(dynamic(func(d *oauthv1alpha1.DynamicRegistration) {
			d.InitialAccessToken = &oauthv1alpha1.SecretKeySelector{Name: "iat", Key: "token", Namespace: "other"}
			d.SoftwareStatement = &oauthv1alpha1.SecretKeySelector{Name: "ss", Key: "jwt", Namespace: "kube-system"}
		})), paths: []string{"spec.dynamicRegistration.initialAccessToken.namespace", "spec.dynamicRegistration.softwareStatement.namespace"}},
		{name: "cluster server: Secrets in any namespace", obj: clusterServer(dynamic(func(d *oauthv1alpha1.DynamicRegistration) {
			d.InitialAccessToken = &oauthv1alpha1.SecretKeySelector{Name: "iat", Key: "token", Namespace: "other"}
		}))},
		{name: "bad Secret names", obj: clusterServer(dynamic(func(d *oauthv1alpha1.DynamicRegistration) {
			d.InitialAccessToken = &oauthv1alpha1.SecretKeySelector{Name: "Not_A_Name", Key: "a/b", Namespace: "Bad.NS"}
		})), paths: []string{"spec.dynamicRegistration.initialAccessToken.name", "spec.dynamicRegistration.initialAccessToken.key", "spec.dynamicRegistration.initialAccessToken.namespace"}},
		{name: "lifetime and rotation bounds", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) {
			s.ClientIDLifetime, s.KeyRotationInterval = dur("30s"), dur("-1h")
		})), paths: []string{"spec.stateless.clientIDLifetime", "spec.stateless.keyRotationInterval"}},
		{name: "too many published keys", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) {
			s.ClientIDLifetime, s.KeyRotationInterval = dur("2160h"), dur("24h")
		})), paths: []string{"spec.stateless.keyRotationInterval"}},
		{name: "defaults publish few keys", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) {
			s.ClientIDLifetime, s.KeyRotationInterval = dur("2160h"), dur("720h")
		}))},
		{name: "ids that never expire warn", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) { s.ClientIDLifetime = dur("0s") })), warning: "never expire"},
		{name: "key Secret name", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) { s.KeySecretName = "Keys!" })),
			paths: []string{"spec.stateless.keySecretName"}},
		{name: "private recipient key", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) {
			j := rawJSON(t, privJWK)
			s.Encryption = &oauthv1alpha1.StatelessEncryption{Mode: oauthv1alpha1.EncryptionRecipientKey, RecipientKey: &j}
		})), paths: []string{"spec.stateless.encryption.recipientKey"}},
		{name: "public recipient key", obj: nsServer(stateless(func(s *oauthv1alpha1.StatelessServer) {
			j := rawJSON(t, jose.JSONWebKey{Key: josetest.P256Key(t).Public()})
			s.Encryption = &oauthv1alpha1.StatelessEncryption{Mode: oauthv1alpha1.EncryptionRecipientKey, RecipientKey: &j}
		}))},
		{name: "endpoint: cross-namespace tokens and storage", obj: nsServer(endpoint(func(e *oauthv1alpha1.RegistrationEndpoint) {
			e.Open = false
			e.InitialAccessTokens = &oauthv1alpha1.SecretReference{Name: "iats", Namespace: "other"}
			e.Namespace = "self-service"
		})), paths: []string{"spec.registrationEndpoint.initialAccessTokens.namespace", "spec.registrationEndpoint.namespace"}},
		{name: "endpoint: own namespace", obj: nsServer(endpoint(func(e *oauthv1alpha1.RegistrationEndpoint) {
			e.Open = false
			e.InitialAccessTokens = &oauthv1alpha1.SecretReference{Name: "iats", Namespace: "apps"}
			e.Namespace = "apps"
		}))},
		{name: "cluster endpoint: another namespace", obj: clusterServer(endpoint(func(e *oauthv1alpha1.RegistrationEndpoint) {
			e.Open = false
			e.InitialAccessTokens = &oauthv1alpha1.SecretReference{Name: "iats", Namespace: "clientreg-system"}
			e.Namespace = "self-service"
		}))},
		{name: "endpoint: tokens unused while open", obj: nsServer(endpoint(func(e *oauthv1alpha1.RegistrationEndpoint) {
			e.InitialAccessTokens = &oauthv1alpha1.SecretReference{Name: "iats", Namespace: "apps"}
		})), warning: "open"},
		{name: "endpoint: policy", obj: nsServer(endpoint(func(e *oauthv1alpha1.RegistrationEndpoint) {
			e.Policy = &oauthv1alpha1.RegistrationPolicy{
				AllowedRedirectHosts: []string{"*.example.com", "app.example.com", "127.0.0.1", "[::1]", "foo*.example.com", "https://x.example.com", "*.com"},
				AllowedGrantTypes:    []string{"authorization_code", "magic"},
				AllowedAuthMethods:   []string{"private_key_jwt", "carrier_pigeon"},
			}
		})), paths: []string{
			"spec.registrationEndpoint.policy.allowedRedirectHosts[4]", "spec.registrationEndpoint.policy.allowedRedirectHosts[5]", "spec.registrationEndpoint.policy.allowedRedirectHosts[6]",
			"spec.registrationEndpoint.policy.allowedGrantTypes[1]", "spec.registrationEndpoint.policy.allowedAuthMethods[1]",
		}},
		{name: "endpoint: software statement issuers", obj: nsServer(endpoint(func(e *oauthv1alpha1.RegistrationEndpoint) {
			e.SoftwareStatementIssuers = []oauthv1alpha1.TrustedSoftwareStatementIssuer{
				{Issuer: "https://good.example", JWKS: rawJSON(t, map[string]any{"keys": []any{pubJWK}})},
				{Issuer: "https://private.example", JWKS: rawJSON(t, map[string]any{"keys": []any{privJWK}})},
				{Issuer: "https://empty.example", JWKS: rawJSON(t, map[string]any{"keys": []any{}})},
				{Issuer: "", JWKS: rawJSON(t, map[string]any{"nokeys": 1})},
			}
		})), paths: []string{
			"spec.registrationEndpoint.softwareStatementIssuers[1].jwks", "spec.registrationEndpoint.softwareStatementIssuers[2].jwks",
			"spec.registrationEndpoint.softwareStatementIssuers[3].issuer", "spec.registrationEndpoint.softwareStatementIssuers[3].jwks",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var warnings []string
			var err error
			switch o := tc.obj.(type) {
			case *oauthv1alpha1.AuthorizationServer:
				warnings, err = ServerValidator[*oauthv1alpha1.AuthorizationServer]{Backends: testBackends}.ValidateCreate(context.Background(), o)
			case *oauthv1alpha1.ClusterAuthorizationServer:
				warnings, err = ServerValidator[*oauthv1alpha1.ClusterAuthorizationServer]{Backends: testBackends}.ValidateCreate(context.Background(), o)
			}
			wantErrors(t, err, tc.paths...)
			if tc.warning != "" && !strings.Contains(strings.Join(warnings, "\n"), tc.warning) {
				t.Fatalf("warnings %q do not mention %q", warnings, tc.warning)
			}
			if tc.warning == "" && len(warnings) > 0 {
				t.Fatalf("unexpected warnings %q", warnings)
			}
			if err != nil && (strings.Contains(err.Error(), "PRIVATE KEY-----") || strings.Contains(err.Error(), `"d":`)) {
				t.Fatalf("error echoes key material: %v", err)
			}
		})
	}
}

func TestServerValidateUpdate(t *testing.T) {
	v := ServerValidator[*oauthv1alpha1.AuthorizationServer]{Backends: testBackends}
	bad := nsServer(statelessSpec())
	bad.Spec.Stateless.KeySecretName = "Bad!"
	t.Run("unchanged invalid spec: metadata-only update allowed", func(t *testing.T) {
		newObj := bad.DeepCopy()
		newObj.Labels = map[string]string{"a": "b"}
		if _, err := v.ValidateUpdate(context.Background(), bad, newObj); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("changed invalid spec refused", func(t *testing.T) {
		oldObj := nsServer(statelessSpec())
		_, err := v.ValidateUpdate(context.Background(), oldObj, bad)
		wantErrors(t, err, "spec.stateless.keySecretName")
	})
	t.Run("moving the keys warns", func(t *testing.T) {
		oldObj := nsServer(statelessSpec())
		oldObj.Status.KeySecretRef = &oauthv1alpha1.SecretReference{Name: "idp-stateless-keys", Namespace: "apps"}
		newObj := oldObj.DeepCopy()
		newObj.Spec.Stateless.KeySecretName = "other-keys"
		warnings, err := v.ValidateUpdate(context.Background(), oldObj, newObj)
		if err != nil || !strings.Contains(strings.Join(warnings, "\n"), "stops verifying") {
			t.Fatalf("warnings %q, err %v", warnings, err)
		}
	})
}

func TestServerDefault(t *testing.T) {
	ctx := context.Background()
	s := nsServer(statelessSpec())
	if err := (ServerDefaulter[*oauthv1alpha1.AuthorizationServer]{Backends: testBackends}).Default(ctx, s); err != nil {
		t.Fatal(err)
	}
	if got := s.Spec.Stateless.KeySecretName; got != "idp-stateless-keys" {
		t.Fatalf("keySecretName = %q, want idp-stateless-keys", got)
	}
	c := clusterServer(statelessSpec())
	c.Spec.Stateless.KeySecretName = "mine"
	if err := (ServerDefaulter[*oauthv1alpha1.ClusterAuthorizationServer]{Backends: testBackends}).Default(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got := c.Spec.Stateless.KeySecretName; got != "mine" {
		t.Fatalf("a written keySecretName was changed to %q", got)
	}
	d := nsServer(dynamicSpec())
	before := d.DeepCopy()
	if err := (ServerDefaulter[*oauthv1alpha1.AuthorizationServer]{Backends: testBackends}).Default(ctx, d); err != nil {
		t.Fatal(err)
	}
	if d.Spec.Stateless != nil || d.Spec.DynamicRegistration.ResyncInterval != before.Spec.DynamicRegistration.ResyncInterval {
		t.Fatal("the defaulter changed a dynamic server")
	}
}
