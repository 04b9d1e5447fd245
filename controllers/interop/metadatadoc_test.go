package interop

// OAuth Client ID Metadata Documents (issue #11) against node-oidc-provider
// 9.13.3 with features.clientIdMetadataDocument: the manager serves the
// documents on its HTTPS listener at https://clients.test:<port>/..., which
// the provider's fetch maps to 127.0.0.1 and trusts with the test CA.

import (
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

// docHost is the test host name of the manager's listener.
const docHost = "clients.test"

// docResource is the resource server the provider issues tokens for.
const docResource = "https://api.test/"

// docEnv is a manager serving documents, and a provider consuming them.
type docEnv struct {
	*manager
	provider *oidcprovider.Provider
	// base is the server's baseURL; port the listener's port.
	base string
	http *http.Client
	// dial is where clients.test really is.
	dial string
}

// startDocEnv starts the manager (real clock: the provider caches by real
// time) with its listener certified for clients.test, and node-oidc-provider
// honouring max-age down to one second.
func startDocEnv(t *testing.T) *docEnv {
	t.Helper()
	oidcprovider.RequireNode(t)
	caPEM, cert, err := oidcprovider.HostCertificate(docHost)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	m := startManager(t, realClock, func(_ *ctrl.Options, o *controllers.Options) {
		o.Endpoint = &controllers.EndpointOptions{BaseURL: fmt.Sprintf("https://%s:%d", docHost, port), CertFile: certFile, KeyFile: keyFile, Listener: l}
	})
	p := oidcprovider.Start(t, oidcprovider.Options{
		DisableRegistration: true,
		ClientIDMetadataDocument: &oidcprovider.CIMD{
			Hosts: map[string]string{docHost: "127.0.0.1"}, CAPEM: caPEM,
			CacheMin: time.Second, CacheMax: time.Hour,
			Resources: []oidcprovider.Resource{{URL: docResource, Scope: "api"}},
		},
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	dial := l.Addr().String()
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, dial)
		},
	}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &docEnv{manager: m, provider: p, base: fmt.Sprintf("https://%s:%d/clients", docHost, port), http: hc, dial: dial}
}

// docServer is a metadata document server: max-age 2 s, keys switched 1 s
// after that, a replaced key withdrawn 3 s after the switch.
func (e *docEnv) docServer(t *testing.T, ns string, mods ...func(*oauthv1alpha1.ClientIDMetadataDocumentServer)) *oauthv1alpha1.AuthorizationServer {
	t.Helper()
	s := &oauthv1alpha1.ClientIDMetadataDocumentServer{
		BaseURL: e.base, Issuer: e.provider.URL,
		CacheMaxAge: &metav1.Duration{Duration: 2 * time.Second},
		Keys: &oauthv1alpha1.DocumentKeys{
			PropagationMargin: &metav1.Duration{Duration: time.Second},
			RetiredKeyOverlap: &metav1.Duration{Duration: 3 * time.Second},
		},
	}
	for _, m := range mods {
		m(s)
	}
	srv := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "docs"},
		Spec:       oauthv1alpha1.AuthorizationServerSpec{ClientIDMetadataDocument: s},
	}
	create(t, srv)
	return srv
}

func docClient(ns, name string, mod func(*oauthv1alpha1.OAuthClientSpec)) *oauthv1alpha1.OAuthClient {
	c := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:  oauthv1alpha1.ServerReference{Name: "docs"},
			SecretName: name + "-creds",
		},
	}
	mod(&c.Spec)
	return c
}

// m2m is a private_key_jwt client_credentials client.
func m2m(s *oauthv1alpha1.OAuthClientSpec) {
	s.GrantTypes = []string{"client_credentials"}
	s.TokenEndpointAuthMethod = "private_key_jwt"
	s.Scope = "api"
	s.ClientName = "m2m"
}

// spa is a public authorization_code client (PKCE) redirecting to
// https://app.test/cb.
func spa(s *oauthv1alpha1.OAuthClientSpec) {
	s.TokenEndpointAuthMethod = "none"
	s.RedirectURIs = []oauthv1alpha1.RedirectURI{"https://app.test/cb"}
	s.GrantTypes = []string{"authorization_code"}
	s.ResponseTypes = []string{"code"}
}

// startDocClient starts a docEnv with a document server in a new namespace
// and returns them with the client name (its spec set by mod) once it is
// Ready.
func startDocClient(t *testing.T, name string, mod func(*oauthv1alpha1.OAuthClientSpec)) (*docEnv, string, *oauthv1alpha1.OAuthClient) {
	t.Helper()
	e := startDocEnv(t)
	ns := newNamespace(t)
	e.docServer(t, ns)
	create(t, docClient(ns, name, mod))
	return e, ns, waitClient(t, ns, name, 60*time.Second, ready)
}

// secretKey is the private key, kid and alg in the client's Secret.
func secretKey(t *testing.T, ns, secret string) (crypto.Signer, string, string, string) {
	t.Helper()
	s := getSecret(t, ns, secret)
	block, _ := pem.Decode(s.Data[oauthv1alpha1.KeyPrivateKeyPEM])
	if block == nil {
		t.Fatalf("Secret %s has no PEM private key (keys: %v)", secret, keysOf(s.Data))
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer), string(s.Data[oauthv1alpha1.KeyKeyID]), string(s.Data[oauthv1alpha1.KeyKeyAlgorithm]), string(s.Data["client_id"])
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func (e *docEnv) token(t *testing.T, ns, secret string) (int, []byte) {
	t.Helper()
	key, kid, alg, id := secretKey(t, ns, secret)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	status, body, err := e.provider.TokenWithPrivateKeyJWT(ctx, id, key, kid, alg, "api", docResource)
	if err != nil {
		t.Fatal(err)
	}
	return status, body
}

func (e *docEnv) get(t *testing.T, url string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestMetadataDocumentClientGetsATokenWithItsSecretsKey(t *testing.T) {
	e, ns, c := startDocClient(t, "m2m", m2m)
	want := e.base + "/" + ns + "/m2m"
	if c.Status.ClientID != want || c.Status.MetadataDocument == nil || c.Status.MetadataDocument.URL != want || c.Status.MetadataDocument.ActiveKeyID == "" {
		t.Fatalf("status = %+v, want client id %s", c.Status, want)
	}
	s := getSecret(t, ns, "m2m-creds")
	for _, k := range []string{"client_id", "issuer", oauthv1alpha1.KeyPrivateKeyJWK, oauthv1alpha1.KeyPrivateKeyPEM, oauthv1alpha1.KeyKeyID, oauthv1alpha1.KeyKeyAlgorithm} {
		if len(s.Data[k]) == 0 {
			t.Errorf("Secret lacks %s", k)
		}
	}
	if string(s.Data[oauthv1alpha1.KeyKeyAlgorithm]) != "ES256" || string(s.Data[oauthv1alpha1.KeyKeyID]) != c.Status.MetadataDocument.ActiveKeyID {
		t.Errorf("Secret kid/alg %s/%s, status kid %s", s.Data[oauthv1alpha1.KeyKeyID], s.Data[oauthv1alpha1.KeyKeyAlgorithm], c.Status.MetadataDocument.ActiveKeyID)
	}
	raw, _ := json.Marshal(c)
	if strings.Contains(string(raw), `"d":`) {
		t.Error("the object holds a private key member")
	}

	// The document as the provider fetches it.
	resp, body := e.get(t, want, nil)
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "public, max-age=2" || etag == "" {
		t.Fatalf("GET %s = %d %v", want, resp.StatusCode, resp.Header)
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil || doc["client_id"] != want || doc["token_endpoint_auth_method"] != "private_key_jwt" || doc["jwks"] == nil {
		t.Fatalf("document = %s (%v)", body, err)
	}
	if resp, _ := e.get(t, want, map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET = %d, want 304", resp.StatusCode)
	}
	if resp, _ := e.get(t, e.base+"/"+ns+"/nobody", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown client = %d, want 404", resp.StatusCode)
	}

	status, tok := e.token(t, ns, "m2m-creds")
	if status != 200 {
		t.Fatalf("client_credentials with the Secret's key: %d %s", status, tok)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.Unmarshal(tok, &tr)
	claims, err := e.provider.VerifyAccessToken(context.Background(), tr.AccessToken, docResource)
	if err != nil || claims["client_id"] != want {
		t.Fatalf("access token: %v %v", claims, err)
	}
	if e.provider.CIMDFetches(t)[want] == 0 {
		t.Error("the provider did not fetch the document")
	}
}

func TestMetadataDocumentPublicClientCodeFlowWithPKCE(t *testing.T) {
	e, ns, c := startDocClient(t, "spa", spa)
	s := getSecret(t, ns, "spa-creds")
	if len(s.Data[oauthv1alpha1.KeyPrivateKeyJWK]) != 0 || string(s.Data["client_id"]) != c.Status.ClientID {
		t.Fatalf("public client Secret keys %v", keysOf(s.Data))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status, body, err := e.provider.AuthorizationCodePKCE(ctx, c.Status.ClientID, "https://app.test/cb", "openid", "")
	if err != nil || status != 200 {
		t.Fatalf("authorization code + PKCE: %d %s %v", status, body, err)
	}
}

// waitToken polls token requests with the Secret's key until ok says the
// answer is what the test waits for; it returns how long that took.
func (e *docEnv) waitToken(t *testing.T, ns, secret string, within time.Duration, ok func(int, []byte) bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		status, body := e.token(t, ns, secret)
		if ok(status, body) {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("after %s the provider still answers %d %s", within, status, body)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func TestMetadataDocumentSpecChangeAndDeletionReachTheServerAfterMaxAge(t *testing.T) {
	e, ns, c := startDocClient(t, "m2m", m2m)
	if status, body := e.token(t, ns, "m2m-creds"); status != 200 {
		t.Fatalf("token: %d %s", status, body)
	}

	// Take client_credentials away: once the cached document is older than
	// its max-age (2 s), the provider refuses the grant.
	c.Spec.GrantTypes = []string{"authorization_code"}
	c.Spec.RedirectURIs = []oauthv1alpha1.RedirectURI{"https://app.test/cb"}
	if err := k8s.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	waitClient(t, ns, "m2m", 30*time.Second, func(c *oauthv1alpha1.OAuthClient) error {
		if err := ready(c); err != nil {
			return err
		}
		if !strings.Contains(c.Status.MetadataDocument.Document, "authorization_code") {
			return fmt.Errorf("document not updated yet")
		}
		return nil
	})
	took := e.waitToken(t, ns, "m2m-creds", 15*time.Second, func(status int, _ []byte) bool { return status != 200 })
	t.Logf("the spec change reached the provider %s after it was published", took.Round(100*time.Millisecond))

	// Deletion: the document answers 404 and the provider refuses the
	// client once its cached copy expires.
	if err := k8s.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(c), &oauthv1alpha1.OAuthClient{})
		if err == nil {
			return fmt.Errorf("still there")
		}
		return client.IgnoreNotFound(err)
	})
	if resp, _ := e.get(t, c.Status.ClientID, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a deleted client's document = %d, want 404", resp.StatusCode)
	}
}

func TestMetadataDocumentDeletedClientIsRefused(t *testing.T) {
	e, ns, c := startDocClient(t, "m2m", m2m)
	key, kid, alg, id := secretKey(t, ns, "m2m-creds")
	tokenWith := func() int {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		status, _, err := e.provider.TokenWithPrivateKeyJWT(ctx, id, key, kid, alg, "api", docResource)
		if err != nil {
			t.Fatal(err)
		}
		return status
	}
	if s := tokenWith(); s != 200 {
		t.Fatalf("token before deletion: %d", s)
	}
	if err := k8s.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for tokenWith() == 200 {
		if time.Since(start) > 20*time.Second {
			t.Fatal("the provider still accepts a deleted client 20 s later (max-age 2 s)")
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Logf("a deleted client was refused %s after the deletion", time.Since(start).Round(100*time.Millisecond))
}

func TestMetadataDocumentKeyRotationNeverFailsATokenRequest(t *testing.T) {
	e, ns, c := startDocClient(t, "m2m", m2m)
	oldKID := c.Status.MetadataDocument.ActiveKeyID
	// The provider caches the document now.
	if status, body := e.token(t, ns, "m2m-creds"); status != 200 {
		t.Fatalf("token: %d %s", status, body)
	}

	// A client that reloads its key from the Secret before every request
	// asks for tokens throughout the rotation.
	var requests, failures atomic.Int64
	var lastFailure atomic.Value
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			status, body := e.token(t, ns, "m2m-creds")
			requests.Add(1)
			if status != 200 {
				failures.Add(1)
				lastFailure.Store(fmt.Sprintf("%d %s", status, body))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	poke := c.DeepCopy()
	poke.Annotations = map[string]string{oauthv1alpha1.AnnotationRotate: "r1"}
	if err := k8s.Patch(context.Background(), poke, client.MergeFrom(c)); err != nil {
		t.Fatal(err)
	}
	var published, switched time.Time
	eventually(t, 60*time.Second, func() error {
		cur := &oauthv1alpha1.OAuthClient{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(c), cur); err != nil {
			return err
		}
		md := cur.Status.MetadataDocument
		if md.NextKeyID != "" && published.IsZero() {
			published = time.Now()
		}
		if md.ActiveKeyID != oldKID && switched.IsZero() {
			switched = time.Now()
		}
		if md.ActiveKeyID == oldKID || md.RetiredKeyID != "" || md.NextKeyID != "" {
			return fmt.Errorf("rotation under way: %+v", md)
		}
		return nil
	})
	time.Sleep(time.Second)
	close(stop)
	<-done
	if published.IsZero() || switched.Sub(published) < 2*time.Second {
		t.Errorf("the Secret switched %s after the next key was published; want max-age (2 s) plus the margin", switched.Sub(published))
	}
	if requests.Load() < 10 || failures.Load() != 0 {
		t.Fatalf("%d of %d token requests failed across the rotation (last: %v)", failures.Load(), requests.Load(), lastFailure.Load())
	}
	t.Logf("%d token requests across the rotation, none failed", requests.Load())
	if _, kid, _, _ := secretKey(t, ns, "m2m-creds"); kid == oldKID {
		t.Error("the Secret still holds the old key")
	}
}

func TestMetadataDocumentRefusals(t *testing.T) {
	e := startDocEnv(t)
	ns := newNamespace(t)
	e.docServer(t, ns)
	for _, tc := range []struct {
		name string
		mod  func(*oauthv1alpha1.OAuthClientSpec)
		want string
	}{
		{"basic", func(s *oauthv1alpha1.OAuthClientSpec) { m2m(s); s.TokenEndpointAuthMethod = "client_secret_basic" }, "needs a client secret"},
		{"post", func(s *oauthv1alpha1.OAuthClientSpec) { m2m(s); s.TokenEndpointAuthMethod = "client_secret_post" }, "needs a client secret"},
		{"secretjwt", func(s *oauthv1alpha1.OAuthClientSpec) { m2m(s); s.TokenEndpointAuthMethod = "client_secret_jwt" }, "needs a client secret"},
		{"oversized", func(s *oauthv1alpha1.OAuthClientSpec) {
			m2m(s)
			long := "https://app.test/" + strings.Repeat("p", 1500)
			s.ClientURI, s.PolicyURI, s.TOSURI = oauthv1alpha1.WebURL(long+"/c"), oauthv1alpha1.WebURL(long+"/p"), oauthv1alpha1.WebURL(long+"/t")
			for i := 0; i < 20; i++ {
				s.Contacts = append(s.Contacts, fmt.Sprintf("someone-with-a-long-mail-address-%03d@example.com", i))
			}
		}, "over the 5120-byte bound"},
	} {
		create(t, docClient(ns, tc.name, tc.mod))
		c := waitClient(t, ns, tc.name, 30*time.Second, readyFalse(oauthv1alpha1.ReasonInvalidMetadata))
		cond := findReady(c)
		if !strings.Contains(cond.Message, tc.want) {
			t.Errorf("%s: Ready message %q, want it to say %q", tc.name, cond.Message, tc.want)
		}
		if c.Status.ClientID != "" {
			t.Errorf("%s: a refused client got a client id", tc.name)
		}
		if resp, _ := e.get(t, e.base+"/"+ns+"/"+tc.name, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: a refused client's document = %d, want 404", tc.name, resp.StatusCode)
		}
	}
	for _, tc := range []struct{ base, want string }{
		{"http://clients.test/x", "https"},
		{"https://127.0.0.1:8443/x", "not an IP address"},
		{"https://clients.test/x?a=1", "query"},
	} {
		srv := &oauthv1alpha1.AuthorizationServer{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad"},
			Spec:       oauthv1alpha1.AuthorizationServerSpec{ClientIDMetadataDocument: &oauthv1alpha1.ClientIDMetadataDocumentServer{BaseURL: tc.base}},
		}
		err := k8s.Create(context.Background(), srv)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("base URL %s: %v, want a refusal saying %q", tc.base, err, tc.want)
			_ = k8s.Delete(context.Background(), srv)
		}
	}
}

func findReady(c *oauthv1alpha1.OAuthClient) metav1.Condition {
	for _, cond := range c.Status.Conditions {
		if cond.Type == oauthv1alpha1.ConditionReady {
			return cond
		}
	}
	return metav1.Condition{}
}
