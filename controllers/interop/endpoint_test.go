package interop

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/hack/interop/openidclient"
)

// endpointEnv is a manager serving the registration endpoint over TLS on a
// free 127.0.0.1 port.
type endpointEnv struct {
	*manager
	baseURL string
	caPEM   []byte
	http    *http.Client
}

func startEndpoint(t *testing.T) *endpointEnv {
	t.Helper()
	certFile, keyFile, caPEM := testTLS(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + l.Addr().String()
	m := startManager(t, func(_ *ctrl.Options, o *controllers.Options) {
		o.Endpoint = &controllers.EndpointOptions{BaseURL: base, CertFile: certFile, KeyFile: keyFile, Listener: l}
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	return &endpointEnv{manager: m, baseURL: base, caPEM: caPEM, http: hc}
}

// call sends a JSON request and decodes a JSON answer.
func (e *endpointEnv) call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		r = strings.NewReader(string(raw))
	}
	req, _ := http.NewRequest(method, url, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return doJSON(t, e.http, req)
}

func endpointServer(ns, name string, mods ...serverMod) *oauthv1alpha1.AuthorizationServer {
	s := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.AuthorizationServerSpec{
			Stateless:            &oauthv1alpha1.StatelessServer{Issuer: "https://" + name + ".example"},
			RegistrationEndpoint: &oauthv1alpha1.RegistrationEndpoint{Open: true},
		},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

// createEndpointServer creates the AuthorizationServer ns/idp of
// endpointServer and returns it with its issuer once its endpoint serves.
func createEndpointServer(t *testing.T, ns string) (*oauthv1alpha1.AuthorizationServer, string) {
	t.Helper()
	srv := endpointServer(ns, "idp")
	create(t, srv)
	return srv, waitEndpointIssuer(t, srv)
}

func waitEndpointIssuer(t *testing.T, s *oauthv1alpha1.AuthorizationServer) string {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
			return err
		}
		if s.Status.EndpointIssuer == "" || !meta.IsStatusConditionTrue(s.Status.Conditions, oauthv1alpha1.ConditionReady) {
			return fmt.Errorf("not ready: %+v", s.Status)
		}
		return nil
	})
	return s.Status.EndpointIssuer
}

func TestEndpointStatefulRegistrationIsAnOAuthClient(t *testing.T) {
	e := startEndpoint(t)
	ns := newNamespace(t)
	_, issuer := createEndpointServer(t, ns)
	if issuer != e.baseURL+"/namespaces/"+ns+"/idp" {
		t.Fatalf("status.endpointIssuer = %q", issuer)
	}
	status, reg := e.call(t, http.MethodPost, issuer+"/register", "", map[string]any{
		"redirect_uris": []string{"https://app.example/cb"}, "client_name": "web",
	})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %v", status, reg)
	}
	rat, _ := reg["registration_access_token"].(string)
	rcu, _ := reg["registration_client_uri"].(string)
	id, _ := reg["client_id"].(string)
	if rat == "" || !strings.HasPrefix(rcu, issuer+"/register/") || id == "" || reg["client_secret"] == nil {
		t.Fatalf("incomplete answer: %v", reg)
	}
	handle := strings.TrimPrefix(rcu, issuer+"/register/")

	// The registration is an OAuthClient (with its Secret) everyone can see.
	oc := &oauthv1alpha1.OAuthClient{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: handle}, oc); err != nil {
		t.Fatalf("no OAuthClient for the registration: %v", err)
	}
	if oc.Status.ClientID != id || oc.Spec.ClientName != "web" || oc.Labels[oauthv1alpha1.LabelRegisteredVia] == "" {
		t.Fatalf("OAuthClient does not hold the registration: %+v", oc)
	}
	raw, _ := json.Marshal(oc)
	if strings.Contains(string(raw), rat) {
		t.Fatal("the registration access token is stored in the object")
	}
	sec := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: oc.Spec.SecretName}, sec); err != nil || string(sec.Data["client_id"]) != id {
		t.Fatalf("credentials Secret: %v", err)
	}

	// Read with the token; another token does not work.
	if st, got := e.call(t, http.MethodGet, rcu, rat, nil); st != http.StatusOK || got["client_id"] != id || got["client_name"] != "web" {
		t.Fatalf("read: %d %v", st, got)
	}
	if st, _ := e.call(t, http.MethodGet, rcu, rat+"x", nil); st != http.StatusUnauthorized {
		t.Fatalf("read with a wrong token: %d", st)
	}

	// An edit with kubectl shows on the next read.
	patch := client.MergeFrom(oc.DeepCopy())
	oc.Spec.ClientName = "edited"
	if err := k8s.Patch(context.Background(), oc, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if st, got := e.call(t, http.MethodGet, rcu, rat, nil); st != http.StatusOK || got["client_name"] != "edited" {
			return fmt.Errorf("read: %d %v", st, got["client_name"])
		}
		return nil
	})

	// Deleting it with kubectl revokes the token at once.
	if err := k8s.Delete(context.Background(), oc); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, func() error {
		if st, _ := e.call(t, http.MethodGet, rcu, rat, nil); st != http.StatusUnauthorized {
			return fmt.Errorf("read after delete: %d", st)
		}
		return nil
	})
}

func TestEndpointInitialAccessTokenAndHTTPDelete(t *testing.T) {
	e := startEndpoint(t)
	ns := newNamespace(t)
	iat := "iat-" + strings.Repeat("0123456789abcdef", 3)
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iats"}, Data: map[string][]byte{"team-a": []byte(iat)}})
	srv := endpointServer(ns, "idp", func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.RegistrationEndpoint = &oauthv1alpha1.RegistrationEndpoint{InitialAccessTokens: &oauthv1alpha1.SecretReference{Name: "iats"}}
	})
	create(t, srv)
	issuer := waitEndpointIssuer(t, srv)
	body := map[string]any{"grant_types": []string{"client_credentials"}, "response_types": []string{}}
	if st, _ := e.call(t, http.MethodPost, issuer+"/register", "", body); st != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", st)
	}
	if st, _ := e.call(t, http.MethodPost, issuer+"/register", "wrong", body); st != http.StatusUnauthorized {
		t.Fatalf("with a wrong token: %d", st)
	}
	st, reg := e.call(t, http.MethodPost, issuer+"/register", iat, body)
	if st != http.StatusCreated {
		t.Fatalf("with the token: %d %v", st, reg)
	}
	rcu, rat := reg["registration_client_uri"].(string), reg["registration_access_token"].(string)
	if st, _ := e.call(t, http.MethodDelete, rcu, rat, nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	if st, _ := e.call(t, http.MethodGet, rcu, rat, nil); st != http.StatusUnauthorized {
		t.Fatalf("read after delete: %d", st)
	}
	handle := strings.TrimPrefix(rcu, issuer+"/register/")
	eventually(t, 30*time.Second, func() error {
		err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: handle}, &oauthv1alpha1.OAuthClient{})
		if err == nil {
			return errors.New("OAuthClient still there")
		}
		return nil
	})
}

func TestEndpointStatelessStoresNothing(t *testing.T) {
	e := startEndpoint(t)
	ns := newNamespace(t)
	srv := endpointServer(ns, "idp", func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.RegistrationEndpoint.Storage = oauthv1alpha1.StorageStateless
	})
	create(t, srv)
	issuer := waitEndpointIssuer(t, srv)
	st, reg := e.call(t, http.MethodPost, issuer+"/register", "", map[string]any{"redirect_uris": []string{"https://app.example/cb"}})
	if st != http.StatusCreated {
		t.Fatalf("register: %d %v", st, reg)
	}
	list := &oauthv1alpha1.OAuthClientList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil || len(list.Items) != 0 {
		t.Fatalf("a stateless registration stored %d objects (%v)", len(list.Items), err)
	}
	rcu, rat := reg["registration_client_uri"].(string), reg["registration_access_token"].(string)
	if st, got := e.call(t, http.MethodGet, rcu, rat, nil); st != http.StatusOK || got["client_id"] != reg["client_id"] {
		t.Fatalf("read: %d %v", st, got)
	}
	if st, _ := e.call(t, http.MethodPut, rcu, rat, map[string]any{"client_id": reg["client_id"], "redirect_uris": []string{"https://app.example/cb"}}); st != http.StatusMethodNotAllowed {
		t.Fatalf("PUT on a stateless registration: %d", st)
	}
}

func TestEndpointStatefulOnDynamicServerRegistersUpstream(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	e := startEndpoint(t)
	ns := newNamespace(t)
	srv := dynamicServer(ns, "idp", p, func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.RegistrationEndpoint = &oauthv1alpha1.RegistrationEndpoint{Open: true}
	})
	create(t, srv)
	issuer := waitEndpointIssuer(t, srv)
	st, reg := e.call(t, http.MethodPost, issuer+"/register", "", map[string]any{
		"grant_types": []string{"client_credentials"}, "response_types": []string{}, "client_name": "via-endpoint",
	})
	if st != http.StatusCreated {
		t.Fatalf("register: %d %v", st, reg)
	}
	id, secret := reg["client_id"].(string), reg["client_secret"].(string)
	// The answer carries the upstream credentials: they work at the upstream server.
	if got := tokenStatus(t, p, id, secret); got != http.StatusOK {
		t.Fatalf("upstream token with the endpoint's credentials: %d", got)
	}
	// The endpoint's own token and URI are not the upstream ones.
	if rcu := reg["registration_client_uri"].(string); !strings.HasPrefix(rcu, issuer) {
		t.Fatalf("registration_client_uri %q is not the endpoint's", rcu)
	}
}

// openid-client (npm, pinned), a registration client written by others,
// discovers the endpoint over TLS, registers and reads the registration back.
// The stateless server names the authorization server that accepts its ids
// (spec.stateless.authorizationServer), so the discovery documents carry its
// authorization and token endpoints; without them there is no document.
func TestEndpointWithOpenIDClient(t *testing.T) {
	e := startEndpoint(t)
	for _, storage := range []oauthv1alpha1.RegistrationStorage{oauthv1alpha1.StorageStateful, oauthv1alpha1.StorageStateless} {
		t.Run(string(storage), func(t *testing.T) {
			ns := newNamespace(t)
			srv := endpointServer(ns, "idp", func(s *oauthv1alpha1.AuthorizationServer) {
				s.Spec.RegistrationEndpoint.Storage = storage
			})
			create(t, srv)
			issuer := waitEndpointIssuer(t, srv)
			if st, _ := e.call(t, http.MethodGet, issuer+"/.well-known/openid-configuration", "", nil); st != http.StatusNotFound {
				t.Fatalf("discovery without a named authorization server: %d, want 404", st)
			}
			patchServer(t, srv, func(s *oauthv1alpha1.AuthorizationServer) {
				s.Spec.Stateless.AuthorizationServer = &oauthv1alpha1.StatelessAuthorizationServer{
					AuthorizationEndpoint: "https://idp.example/authorize", TokenEndpoint: "https://idp.example/token"}
			})
			eventually(t, 30*time.Second, func() error {
				st, d := e.call(t, http.MethodGet, issuer+"/.well-known/openid-configuration", "", nil)
				if st != http.StatusOK || d["authorization_endpoint"] != "https://idp.example/authorize" || d["token_endpoint"] != "https://idp.example/token" {
					return fmt.Errorf("discovery: %d %v", st, d)
				}
				return nil
			})
			res := openidclient.Register(t, issuer, e.caPEM, "", map[string]any{
				"redirect_uris": []string{"https://app.example/cb"}, "client_name": "from openid-client",
			}, true)
			if !res.OK {
				t.Fatalf("openid-client failed: %s (status %d)", res.Error, res.Status)
			}
			if res.Discovered.Issuer != issuer || res.Discovered.RegistrationEndpoint != issuer+"/register" {
				t.Fatalf("discovered %+v", res.Discovered)
			}
			id, _ := res.Registered["client_id"].(string)
			if id == "" || res.Read["client_id"] != id || res.Read["client_name"] != "from openid-client" {
				t.Fatalf("registered %v, read back %v", res.Registered["client_id"], res.Read)
			}
			list := &oauthv1alpha1.OAuthClientList{}
			if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
				t.Fatal(err)
			}
			want := map[oauthv1alpha1.RegistrationStorage]int{oauthv1alpha1.StorageStateful: 1, oauthv1alpha1.StorageStateless: 0}[storage]
			if len(list.Items) != want {
				t.Fatalf("%d OAuthClients stored, want %d", len(list.Items), want)
			}
		})
	}
}

// The older OpenID Connect registration drafts work with a plain HTTP client.
func TestEndpointLegacyDrafts(t *testing.T) {
	e := startEndpoint(t)
	ns := newNamespace(t)
	_, issuer := createEndpointServer(t, ns)
	form := "type=client_associate&redirect_uri=https%3A%2F%2Flegacy.example%2Fcb&application_name=Legacy&contact=a%40example.org%2Cb%40example.org"
	resp, err := e.http.Post(issuer+"/register", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	id, _ := got["client_id"].(string)
	secret, _ := got["client_secret"].(string)
	if resp.StatusCode != http.StatusOK || id == "" || secret == "" || got["expires_in"] == nil {
		t.Fatalf("client_associate: %d %v", resp.StatusCode, got)
	}
	oc := waitByClientID(t, ns, id)
	if oc.Spec.ClientName != "Legacy" || len(oc.Spec.Contacts) != 2 {
		t.Fatalf("mapped metadata: %+v", oc.Spec)
	}
	// client_update authenticates with client_id + client_secret. The
	// server is stateless: the id carries the metadata, so an update that
	// would change it is refused (403, access_denied) and changes nothing,
	// never a new client_id; one that changes nothing succeeds.
	base := "type=client_update&client_id=" + id + "&client_secret=" + secret + "&redirect_uri=https%3A%2F%2Flegacy.example%2Fcb&contact=a%40example.org%2Cb%40example.org"
	for _, tc := range []struct {
		params string
		status int
	}{{"&application_name=Renamed", http.StatusForbidden}, {"&application_name=Legacy", http.StatusOK}} {
		resp, err = e.http.Post(issuer+"/register", "application/x-www-form-urlencoded", strings.NewReader(base+tc.params))
		if err != nil {
			t.Fatal(err)
		}
		var answer map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&answer)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.status == http.StatusOK && answer["client_id"] != id) {
			t.Fatalf("client_update%s: %d %v, want %d with the same client_id", tc.params, resp.StatusCode, answer, tc.status)
		}
	}
	if oc = waitByClientID(t, ns, id); oc.Spec.ClientName != "Legacy" {
		t.Fatalf("the refused client_update changed the registration: %q", oc.Spec.ClientName)
	}
	update := base + "&application_name=Legacy"
	bad := strings.Replace(update, "client_secret="+secret, "client_secret=wrong", 1)
	resp, err = e.http.Post(issuer+"/register", "application/x-www-form-urlencoded", strings.NewReader(bad))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("client_update with a wrong secret: %d", resp.StatusCode)
	}
}

func waitByClientID(t *testing.T, ns, id string) *oauthv1alpha1.OAuthClient {
	t.Helper()
	var found *oauthv1alpha1.OAuthClient
	eventually(t, 10*time.Second, func() error {
		list := &oauthv1alpha1.OAuthClientList{}
		if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return err
		}
		for i := range list.Items {
			if list.Items[i].Status.ClientID == id {
				found = &list.Items[i]
				return nil
			}
		}
		return errors.New("no OAuthClient with that client id")
	})
	return found
}

// patchServer applies mutate to the server with a merge patch.
func patchServer(t *testing.T, s *oauthv1alpha1.AuthorizationServer, mutate func(*oauthv1alpha1.AuthorizationServer)) {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(s.DeepCopy())
	mutate(s)
	if err := k8s.Patch(context.Background(), s, patch); err != nil {
		t.Fatal(err)
	}
}
