package dynamic_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/controllers/backend/dynamic"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/registrar/dcr"
	"github.com/clientreg/clientreg/registrar/metadata"
)

const (
	serverNS           = "team-a"
	clusterNS          = "clientreg-system"
	issuer             = "https://idp.example"
	discoveredEndpoint = "https://idp.example/connect/register"
	tokenEndpoint      = "https://idp.example/token"
	explicitEndpoint   = "https://reg.example/clients"
	clientURI          = "https://idp.example/connect/register/c-1"
	serverUID          = types.UID("server-uid")
	clusterServerUID   = types.UID("cluster-server-uid")
	clientUID          = types.UID("client-uid")
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// ---------------------------------------------------------------- fixtures

type specMod func(*oauthv1alpha1.DynamicRegistration)

func withEndpoint(u string) specMod {
	return func(s *oauthv1alpha1.DynamicRegistration) { s.RegistrationEndpoint = oauthv1alpha1.HTTPSURL(u) }
}

func withIssuer(u string) specMod {
	return func(s *oauthv1alpha1.DynamicRegistration) { s.IssuerURL = oauthv1alpha1.HTTPSURL(u) }
}

func withIAT(ns, name, key string) specMod {
	return func(s *oauthv1alpha1.DynamicRegistration) {
		s.InitialAccessToken = &oauthv1alpha1.SecretKeySelector{Namespace: ns, Name: name, Key: key}
	}
}

func withSS(ns, name, key string) specMod {
	return func(s *oauthv1alpha1.DynamicRegistration) {
		s.SoftwareStatement = &oauthv1alpha1.SecretKeySelector{Namespace: ns, Name: name, Key: key}
	}
}

func withPolicy(p oauthv1alpha1.UnauthorizedPolicy) specMod {
	return func(s *oauthv1alpha1.DynamicRegistration) { s.OnUnauthorized = p }
}

func withResync(d time.Duration) specMod {
	return func(s *oauthv1alpha1.DynamicRegistration) { s.ResyncInterval = &metav1.Duration{Duration: d} }
}

func withTimeout(d time.Duration) specMod {
	return func(s *oauthv1alpha1.DynamicRegistration) { s.Timeout = &metav1.Duration{Duration: d} }
}

func withCA(pemBytes []byte) specMod {
	return func(s *oauthv1alpha1.DynamicRegistration) { s.CABundle = pemBytes }
}

func newServer(mods ...specMod) *oauthv1alpha1.AuthorizationServer {
	s := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: "idp", UID: serverUID, Generation: 1},
		Spec: oauthv1alpha1.AuthorizationServerSpec{
			DynamicRegistration: &oauthv1alpha1.DynamicRegistration{IssuerURL: issuer},
		},
	}
	for _, m := range mods {
		m(s.Spec.DynamicRegistration)
	}
	return s
}

func newClusterServer(mods ...specMod) *oauthv1alpha1.ClusterAuthorizationServer {
	s := &oauthv1alpha1.ClusterAuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Name: "global-idp", UID: clusterServerUID, Generation: 1},
		Spec: oauthv1alpha1.AuthorizationServerSpec{
			DynamicRegistration: &oauthv1alpha1.DynamicRegistration{IssuerURL: issuer},
		},
	}
	for _, m := range mods {
		m(s.Spec.DynamicRegistration)
	}
	return s
}

func secret(ns, name, key, val string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Data:       map[string][]byte{key: []byte(val)},
	}
}

// ccMeta is a client_credentials-only client: no redirects.
func ccMeta() *metadata.Metadata {
	return &metadata.Metadata{
		GrantTypes:              []string{metadata.GrantClientCredentials},
		TokenEndpointAuthMethod: metadata.AuthClientSecretBasic,
		ClientName:              "svc",
	}
}

// acMeta is an authorization_code client.
func acMeta() *metadata.Metadata {
	return &metadata.Metadata{
		RedirectURIs:            []string{"https://app.example/cb", "https://app.example/cb2"},
		GrantTypes:              []string{metadata.GrantAuthorizationCode, metadata.GrantRefreshToken},
		TokenEndpointAuthMethod: metadata.AuthClientSecretBasic,
		ClientName:              "web",
		Contacts:                []string{"a@example.com", "b@example.com"},
	}
}

func newReq(server oauthv1alpha1.ServerObject, md *metadata.Metadata, st *backend.Credentials) *backend.Request {
	return &backend.Request{
		Client: &oauthv1alpha1.OAuthClient{
			ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: "app", UID: clientUID},
		},
		Server:   server,
		Metadata: md,
		Stored:   st,
		Now:      t0,
	}
}

func storedCreds(digest string) *backend.Credentials {
	return &backend.Credentials{
		ClientID:                "c-1",
		ClientSecret:            "secret-1",
		RegistrationAccessToken: "rat-1",
		RegistrationClientURI:   clientURI,
		Issuer:                  issuer,
		IssuedAt:                t0.Add(-time.Hour),
		Digest:                  digest,
	}
}

// serverView is what a server answers on GET: the metadata plus credentials
// and server defaults, as JSON.
func serverView(t *testing.T, md *metadata.Metadata, extra map[string]any) json.RawMessage {
	t.Helper()
	raw, err := md.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["response_types"]; !ok && md.ResponseTypes == nil && !md.UsesRedirects() {
		m["response_types"] = []any{}
	}
	for k, v := range extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// env is a Backend wired to a dcr.Fake, a fake API reader and a fake clock.
type env struct {
	b     *dynamic.Backend
	fake  *dcr.Fake
	clock *clocktesting.FakeClock

	mu      sync.Mutex
	configs []dcr.Config
}

func (e *env) newRegistrarCalls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.configs)
}

func (e *env) lastConfig() dcr.Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.configs[len(e.configs)-1]
}

func newEnvWithReader(t *testing.T, r client.Reader) *env {
	t.Helper()
	e := &env{clock: clocktesting.NewFakeClock(t0)}
	e.fake = &dcr.Fake{
		DiscoverFunc: func(_ context.Context, iss string) (*dcr.ServerMetadata, error) {
			return &dcr.ServerMetadata{Issuer: iss, RegistrationEndpoint: discoveredEndpoint, TokenEndpoint: tokenEndpoint}, nil
		},
	}
	e.b = &dynamic.Backend{
		Reader:                   r,
		ClusterResourceNamespace: clusterNS,
		Clock:                    e.clock,
		NewRegistrar: func(c dcr.Config) (dcr.Registrar, error) {
			e.mu.Lock()
			e.configs = append(e.configs, c)
			e.mu.Unlock()
			return e.fake, nil
		},
	}
	return e
}

func newEnv(t *testing.T, objs ...client.Object) *env {
	t.Helper()
	return newEnvWithReader(t, testutil.FakeClient(objs...).Build())
}

// currentReq is a request for md at server whose stored credentials are
// current: their digest is the request's.
func (e *env) currentReq(t *testing.T, server oauthv1alpha1.ServerObject, md *metadata.Metadata) *backend.Request {
	t.Helper()
	req := newReq(server, md, nil)
	req.Stored = storedCreds(mustDigest(t, e.b, req))
	return req
}

// readsBack makes the server answer every read with client c-1 as it
// shows md.
func (e *env) readsBack(t *testing.T, md *metadata.Metadata) {
	t.Helper()
	e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
		return &dcr.Registration{ClientID: "c-1", Metadata: serverView(t, md, nil)}, nil
	}
}

// registered is a typical RFC 7591 answer.
func registered(id string) *dcr.Registration {
	return &dcr.Registration{
		ClientID:                id,
		ClientSecret:            "secret-" + id,
		RegistrationAccessToken: "rat-" + id,
		RegistrationClientURI:   discoveredEndpoint + "/" + id,
		ClientIDIssuedAt:        t0.Add(-time.Minute),
	}
}

func okRegister(reg *dcr.Registration) func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) {
	return func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) {
		r := *reg
		return &r, nil
	}
}

func mustDigest(t *testing.T, b *dynamic.Backend, req *backend.Request) string {
	t.Helper()
	d, err := b.Digest(req)
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return d
}

// ------------------------------------------------------------- assertions

// wantTyped fails t unless as finds its error type (kind names it) in err,
// and returns what it found.
func wantTyped[E error](t *testing.T, err error, kind, reason string, as func(error) (E, bool)) E {
	t.Helper()
	e, ok := as(err)
	if !ok {
		t.Fatalf("error = %v (%T), want a %s %s", err, err, kind, reason)
	}
	return e
}

func wantPermanent(t *testing.T, err error, reason string) {
	t.Helper()
	if p := wantTyped(t, err, "PermanentError", reason, backend.AsPermanent); p.Reason != reason {
		t.Fatalf("PermanentError reason = %q, want %q (%v)", p.Reason, reason, err)
	}
}

func wantTransient(t *testing.T, err error, reason string) {
	t.Helper()
	if tr := wantTyped(t, err, "TransientError", reason, backend.AsTransient); tr.Reason != reason {
		t.Fatalf("TransientError reason = %q, want %q (%v)", tr.Reason, reason, err)
	}
	if backend.IsUncertain(err) {
		t.Fatalf("error %v is uncertain, want a plain transient error", err)
	}
}

func wantPending(t *testing.T, err error, reason string, retry time.Duration) {
	t.Helper()
	if p := wantTyped(t, err, "PendingError", reason, backend.AsPending); p.Reason != reason || p.RetryAfter != retry {
		t.Fatalf("PendingError = {%q, %v}, want {%q, %v} (%v)", p.Reason, p.RetryAfter, reason, retry, err)
	}
}

// errCheck is an expectation on an error, for tables.
type errCheck func(t *testing.T, err error)

func isPermanent(reason string) errCheck {
	return func(t *testing.T, err error) { t.Helper(); wantPermanent(t, err, reason) }
}

func isTransient(reason string) errCheck {
	return func(t *testing.T, err error) { t.Helper(); wantTransient(t, err, reason) }
}

func isPending(reason string, retry time.Duration) errCheck {
	return func(t *testing.T, err error) { t.Helper(); wantPending(t, err, reason, retry) }
}

func isUncertain(t *testing.T, err error) {
	t.Helper()
	if !backend.IsUncertain(err) {
		t.Fatalf("error = %v (%T), want an UncertainError", err, err)
	}
	if _, ok := backend.AsTransient(err); ok {
		t.Fatalf("uncertain error %v must not also be a TransientError", err)
	}
	if _, ok := backend.AsPermanent(err); ok {
		t.Fatalf("uncertain error %v must not be a PermanentError", err)
	}
}

func dcrErr(op string, k dcr.Kind, status int) *dcr.Error {
	return &dcr.Error{Op: op, Kind: k, StatusCode: status, Sent: true, URL: discoveredEndpoint}
}

// ----------------------------------------------------------------- Create

func TestCreateDiscoveryIsCached(t *testing.T) {
	e := newEnv(t)
	var issuers []string
	e.fake.DiscoverFunc = func(_ context.Context, iss string) (*dcr.ServerMetadata, error) {
		issuers = append(issuers, iss)
		return &dcr.ServerMetadata{Issuer: iss, RegistrationEndpoint: discoveredEndpoint}, nil
	}
	var endpoints []string
	e.fake.RegisterFunc = func(_ context.Context, ep string, _ dcr.RegisterRequest) (*dcr.Registration, error) {
		endpoints = append(endpoints, ep)
		return registered("c-1"), nil
	}
	req := newReq(newServer(), ccMeta(), nil)
	for i := 0; i < 2; i++ {
		if _, err := e.b.Create(context.Background(), req); err != nil {
			t.Fatalf("Create #%d: %v", i+1, err)
		}
	}
	if got := e.fake.Calls().Discover; got != 1 {
		t.Errorf("Discover called %d times, want 1 (cached)", got)
	}
	if !reflect.DeepEqual(issuers, []string{issuer}) {
		t.Errorf("Discover issuers = %q, want [%q]", issuers, issuer)
	}
	if !reflect.DeepEqual(endpoints, []string{discoveredEndpoint, discoveredEndpoint}) {
		t.Errorf("Register endpoints = %q, want the discovered endpoint twice", endpoints)
	}
}

func TestCreateEndpointSelection(t *testing.T) {
	tests := []struct {
		name         string
		mods         []specMod
		discovered   string
		discoverErr  error
		wantEndpoint string
		wantDiscover int
		wantErr      errCheck
	}{
		{name: "discovered", discovered: discoveredEndpoint, wantEndpoint: discoveredEndpoint, wantDiscover: 1},
		{name: "explicit overrides discovery", mods: []specMod{withEndpoint(explicitEndpoint)}, discovered: discoveredEndpoint, wantEndpoint: explicitEndpoint, wantDiscover: 0},
		{name: "explicit, discovery would fail", mods: []specMod{withEndpoint(explicitEndpoint)}, discoverErr: dcrErr("discover", dcr.KindTransient, 503), wantEndpoint: explicitEndpoint, wantDiscover: 0},
		{name: "no registration_endpoint published", discovered: "", wantDiscover: 1, wantErr: isPermanent(oauthv1alpha1.ReasonDiscoveryFailed)},
		{name: "discovery fails transiently", discoverErr: dcrErr("discover", dcr.KindTransient, 502), wantDiscover: 1, wantErr: isTransient(oauthv1alpha1.ReasonDiscoveryFailed)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.DiscoverFunc = func(_ context.Context, iss string) (*dcr.ServerMetadata, error) {
				if tc.discoverErr != nil {
					return nil, tc.discoverErr
				}
				return &dcr.ServerMetadata{Issuer: iss, RegistrationEndpoint: tc.discovered}, nil
			}
			var got string
			e.fake.RegisterFunc = func(_ context.Context, ep string, _ dcr.RegisterRequest) (*dcr.Registration, error) {
				got = ep
				return registered("c-1"), nil
			}
			_, err := e.b.Create(context.Background(), newReq(newServer(tc.mods...), ccMeta(), nil))
			if tc.wantErr != nil {
				tc.wantErr(t, err)
				if n := e.fake.Calls().Register; n != 0 {
					t.Errorf("Register called %d times after a failed resolution", n)
				}
			} else if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if got != tc.wantEndpoint {
				t.Errorf("Register endpoint = %q, want %q", got, tc.wantEndpoint)
			}
			if n := e.fake.Calls().Discover; n != tc.wantDiscover {
				t.Errorf("Discover calls = %d, want %d", n, tc.wantDiscover)
			}
		})
	}
}

func TestCreateBody(t *testing.T) {
	tests := []struct {
		name              string
		md                *metadata.Metadata
		wantResponseTypes any // nil: member absent
	}{
		{name: "client_credentials only sends empty response_types", md: ccMeta(), wantResponseTypes: []any{}},
		{name: "authorization_code leaves response_types out", md: acMeta(), wantResponseTypes: nil},
		{name: "explicit response_types kept", md: func() *metadata.Metadata {
			m := acMeta()
			m.ResponseTypes = []string{"code"}
			return m
		}(), wantResponseTypes: []any{"code"}},
		{name: "client_credentials plus jwt-bearer still empty", md: &metadata.Metadata{
			GrantTypes: []string{metadata.GrantClientCredentials, metadata.GrantJWTBearer},
		}, wantResponseTypes: []any{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var sent dcr.RegisterRequest
			e.fake.RegisterFunc = func(_ context.Context, _ string, r dcr.RegisterRequest) (*dcr.Registration, error) {
				sent = r
				return registered("c-1"), nil
			}
			before := tc.md.DeepCopy()
			if _, err := e.b.Create(context.Background(), newReq(newServer(), tc.md, nil)); err != nil {
				t.Fatalf("Create: %v", err)
			}
			var m map[string]any
			if err := json.Unmarshal(sent.Metadata, &m); err != nil {
				t.Fatalf("body %s: %v", sent.Metadata, err)
			}
			rt, ok := m["response_types"]
			switch {
			case tc.wantResponseTypes == nil && ok:
				t.Errorf("body has response_types %v, want it absent: %s", rt, sent.Metadata)
			case tc.wantResponseTypes != nil && !reflect.DeepEqual(rt, tc.wantResponseTypes):
				t.Errorf("body response_types = %#v (present %v), want %#v: %s", rt, ok, tc.wantResponseTypes, sent.Metadata)
			}
			wantGrants := make([]any, 0, len(tc.md.GrantTypes))
			for _, g := range tc.md.GrantTypes {
				wantGrants = append(wantGrants, g)
			}
			if !reflect.DeepEqual(m["grant_types"], wantGrants) {
				t.Errorf("body grant_types = %v, want %v", m["grant_types"], wantGrants)
			}
			for _, k := range []string{"client_id", "client_secret", "registration_access_token"} {
				if _, ok := m[k]; ok {
					t.Errorf("body carries %q", k)
				}
			}
			if sent.InitialAccessToken != "" || sent.SoftwareStatement != "" {
				t.Errorf("IAT/SS sent without a reference: %q %q", sent.InitialAccessToken, sent.SoftwareStatement)
			}
			if !reflect.DeepEqual(tc.md, before) {
				t.Errorf("Create mutated the request metadata: %+v, was %+v", tc.md, before)
			}
		})
	}
}

func TestCreateSecretReferences(t *testing.T) {
	objs := []client.Object{
		secret(serverNS, "iat", "token", "iat-own-ns"),
		secret("other", "iat", "token", "iat-other-ns"),
		secret(clusterNS, "iat", "token", "iat-cluster-ns"),
		secret("selected", "iat", "token", "iat-selected-ns"),
		secret(serverNS, "ss", "jwt", "ss-own-ns"),
		secret(clusterNS, "ss", "jwt", "ss-cluster-ns"),
		secret(serverNS, "empty", "token", ""),
	}
	tests := []struct {
		name             string
		server           oauthv1alpha1.ServerObject
		wantIAT, wantSS  string
		wantErr          errCheck
		wantErrSubstring string
	}{
		{name: "namespaced: own namespace", server: newServer(withIAT("", "iat", "token")), wantIAT: "iat-own-ns"},
		{name: "namespaced: namespace in selector ignored", server: newServer(withIAT("other", "iat", "token")), wantIAT: "iat-own-ns"},
		{name: "namespaced: software statement", server: newServer(withIAT("", "iat", "token"), withSS("", "ss", "jwt")), wantIAT: "iat-own-ns", wantSS: "ss-own-ns"},
		{name: "cluster: ClusterResourceNamespace", server: newClusterServer(withIAT("", "iat", "token"), withSS("", "ss", "jwt")), wantIAT: "iat-cluster-ns", wantSS: "ss-cluster-ns"},
		{name: "cluster: selector namespace", server: newClusterServer(withIAT("selected", "iat", "token")), wantIAT: "iat-selected-ns"},
		{
			name: "missing IAT Secret is pending", server: newServer(withIAT("", "nope", "token")),
			wantErr: isPending(oauthv1alpha1.ReasonInvalidSpec, time.Minute), wantErrSubstring: serverNS + "/nope",
		},
		{
			name: "missing SS Secret is pending", server: newClusterServer(withSS("", "nope", "jwt")),
			wantErr: isPending(oauthv1alpha1.ReasonInvalidSpec, time.Minute), wantErrSubstring: clusterNS + "/nope",
		},
		{
			name: "missing key is permanent", server: newServer(withIAT("", "iat", "other-key")),
			wantErr: isPermanent(oauthv1alpha1.ReasonInvalidSpec), wantErrSubstring: `"other-key"`,
		},
		{
			name: "empty value is permanent", server: newServer(withIAT("", "empty", "token")),
			wantErr: isPermanent(oauthv1alpha1.ReasonInvalidSpec), wantErrSubstring: `"token"`,
		},
		{
			name: "cluster: Secret only in another namespace", server: newClusterServer(withSS("", "ss-x", "jwt")),
			wantErr: isPending(oauthv1alpha1.ReasonInvalidSpec, time.Minute),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, objs...)
			var sent dcr.RegisterRequest
			e.fake.RegisterFunc = func(_ context.Context, _ string, r dcr.RegisterRequest) (*dcr.Registration, error) {
				sent = r
				return registered("c-1"), nil
			}
			before := 0
			req := newReq(tc.server, ccMeta(), nil)
			req.BeforeRegister = func(context.Context, string) error { before++; return nil }
			_, err := e.b.Create(context.Background(), req)
			if tc.wantErr != nil {
				tc.wantErr(t, err)
				if tc.wantErrSubstring != "" && !strings.Contains(err.Error(), tc.wantErrSubstring) {
					t.Errorf("error %q does not mention %q", err, tc.wantErrSubstring)
				}
				if n := e.fake.Calls().Register; n != 0 || before != 0 {
					t.Errorf("Register calls = %d, BeforeRegister calls = %d; want 0, 0", n, before)
				}
				return
			}
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			if sent.InitialAccessToken != tc.wantIAT || sent.SoftwareStatement != tc.wantSS {
				t.Errorf("sent IAT %q SS %q, want %q %q", sent.InitialAccessToken, sent.SoftwareStatement, tc.wantIAT, tc.wantSS)
			}
		})
	}
}

func TestCreateSecretReadErrorIsRetried(t *testing.T) {
	boom := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "iat", errors.New("rbac"))
	r := testutil.FakeClient().WithInterceptorFuncs(interceptor.Funcs{
		Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
			return boom
		},
	}).Build()
	e := newEnvWithReader(t, r)
	e.fake.RegisterFunc = okRegister(registered("c-1"))
	_, err := e.b.Create(context.Background(), newReq(newServer(withIAT("", "iat", "token")), ccMeta(), nil))
	if err == nil || !errors.Is(err, boom) {
		t.Fatalf("error = %v, want one wrapping the API error", err)
	}
	if _, ok := backend.AsPermanent(err); ok {
		t.Errorf("an API read failure must not be permanent: %v", err)
	}
	if _, ok := backend.AsPending(err); ok {
		t.Errorf("an API read failure is not a missing Secret: %v", err)
	}
	if n := e.fake.Calls().Register; n != 0 {
		t.Errorf("Register called %d times", n)
	}
}

func TestCreateBeforeRegister(t *testing.T) {
	hookErr := errors.New("cannot persist in-flight mark")
	tests := []struct {
		name         string
		mods         []specMod
		hookErr      error
		wantEndpoint string
		wantRegister int
	}{
		{name: "called before Register with discovered endpoint", wantEndpoint: discoveredEndpoint, wantRegister: 1},
		{name: "called with explicit endpoint", mods: []specMod{withEndpoint(explicitEndpoint)}, wantEndpoint: explicitEndpoint, wantRegister: 1},
		{name: "failure sends nothing", hookErr: hookErr, wantEndpoint: discoveredEndpoint, wantRegister: 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var events []string
			e.fake.RegisterFunc = func(_ context.Context, ep string, _ dcr.RegisterRequest) (*dcr.Registration, error) {
				events = append(events, "register "+ep)
				return registered("c-1"), nil
			}
			req := newReq(newServer(tc.mods...), ccMeta(), nil)
			req.BeforeRegister = func(_ context.Context, ep string) error {
				events = append(events, "before "+ep)
				return tc.hookErr
			}
			creds, err := e.b.Create(context.Background(), req)
			want := []string{"before " + tc.wantEndpoint}
			if tc.wantRegister == 1 {
				want = append(want, "register "+tc.wantEndpoint)
			}
			if !reflect.DeepEqual(events, want) {
				t.Errorf("events = %q, want %q", events, want)
			}
			if n := e.fake.Calls().Register; n != tc.wantRegister {
				t.Errorf("Register calls = %d, want %d", n, tc.wantRegister)
			}
			if tc.hookErr != nil {
				if !errors.Is(err, tc.hookErr) || creds != nil {
					t.Errorf("Create = %v, %v; want nil and the hook's error", creds, err)
				}
			} else if err != nil || creds == nil {
				t.Errorf("Create = %v, %v", creds, err)
			}
		})
	}
}

func TestCreateCredentials(t *testing.T) {
	expires := t0.Add(90 * 24 * time.Hour)
	tests := []struct {
		name         string
		reg          dcr.Registration
		wantIssued   time.Time
		wantExpires  time.Time
		wantURI      string
		wantRAT      string
		wantSecretID string
	}{
		{
			name: "expiring secret",
			reg: dcr.Registration{ClientID: "c-9", ClientSecret: "sec-9", RegistrationAccessToken: "rat-9", RegistrationClientURI: "https://idp.example/r/c-9",
				ClientIDIssuedAt: t0.Add(-time.Minute), ClientSecretExpiresAt: expires, SecretExpires: true},
			wantIssued: t0.Add(-time.Minute), wantExpires: expires, wantURI: "https://idp.example/r/c-9", wantRAT: "rat-9", wantSecretID: "sec-9",
		},
		{
			name: "expiry time without SecretExpires is ignored",
			reg: dcr.Registration{ClientID: "c-9", ClientSecret: "sec-9", RegistrationAccessToken: "rat-9", RegistrationClientURI: "https://idp.example/r/c-9",
				ClientSecretExpiresAt: expires},
			wantIssued: t0, wantURI: "https://idp.example/r/c-9", wantRAT: "rat-9", wantSecretID: "sec-9",
		},
		{
			name:       "public client without RFC 7592",
			reg:        dcr.Registration{ClientID: "c-9"},
			wantIssued: t0,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.RegisterFunc = okRegister(&tc.reg)
			req := newReq(newServer(), ccMeta(), nil)
			got, err := e.b.Create(context.Background(), req)
			if err != nil {
				t.Fatalf("Create: %v", err)
			}
			want := &backend.Credentials{
				ClientID: "c-9", ClientSecret: tc.wantSecretID, RegistrationAccessToken: tc.wantRAT,
				RegistrationClientURI: tc.wantURI, Issuer: issuer, IssuedAt: tc.wantIssued, ExpiresAt: tc.wantExpires,
				Digest: mustDigest(t, e.b, req), CheckAfter: t0.Add(dynamic.DefaultResyncInterval),
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Create =\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

func TestCreateErrorMapping(t *testing.T) {
	netErr := errors.New("connection reset by peer")
	tests := []struct {
		name           string
		err            error
		check          errCheck
		wantRediscover bool
	}{
		{name: "invalid metadata", err: dcrErr("register", dcr.KindInvalidMetadata, 400), check: isPermanent(oauthv1alpha1.ReasonRegistrationRejected)},
		{name: "unauthorized", err: dcrErr("register", dcr.KindUnauthorized, 401), check: isPermanent(oauthv1alpha1.ReasonUnauthorized)},
		{name: "forbidden", err: dcrErr("register", dcr.KindForbidden, 403), check: isPermanent(oauthv1alpha1.ReasonForbidden)},
		{name: "rate limited with Retry-After", err: &dcr.Error{Op: "register", Kind: dcr.KindRateLimited, StatusCode: 429, Sent: true, RetryAfter: 42 * time.Second},
			check: isPending(oauthv1alpha1.ReasonRateLimited, 42*time.Second)},
		{name: "rate limited without Retry-After", err: dcrErr("register", dcr.KindRateLimited, 429), check: isPending(oauthv1alpha1.ReasonRateLimited, 30*time.Second)},
		{name: "transient 5xx", err: dcrErr("register", dcr.KindTransient, 502), check: isTransient(oauthv1alpha1.ReasonServerUnavailable), wantRediscover: true},
		{name: "protocol", err: dcrErr("register", dcr.KindProtocol, 405), check: isTransient(oauthv1alpha1.ReasonServerUnavailable), wantRediscover: true},
		{name: "sent, no answer: uncertain", err: &dcr.Error{Op: "register", Kind: dcr.KindTransient, Sent: true, StatusCode: 0, Err: netErr}, check: isUncertain},
		{name: "not sent network error: transient", err: &dcr.Error{Op: "register", Kind: dcr.KindTransient, Sent: false, Err: netErr},
			check: isTransient(oauthv1alpha1.ReasonServerUnavailable), wantRediscover: true},
		{name: "wrapped dcr error keeps its kind", err: wrapErr(dcrErr("register", dcr.KindForbidden, 403)), check: isPermanent(oauthv1alpha1.ReasonForbidden)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.RegisterFunc = func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) { return nil, tc.err }
			req := newReq(newServer(), ccMeta(), nil)
			creds, err := e.b.Create(context.Background(), req)
			if creds != nil {
				t.Errorf("credentials %+v returned with an error", creds)
			}
			tc.check(t, err)
			if _, perm := backend.AsPermanent(err); !perm && !errors.Is(err, tc.err) {
				t.Errorf("error %v does not wrap the protocol error", err)
			}
			if !strings.Contains(err.Error(), discoveredEndpoint) {
				t.Errorf("error %q does not name the endpoint", err)
			}
			// The next Create discovers again only after transient/protocol failures.
			e.fake.RegisterFunc = okRegister(registered("c-2"))
			if _, err := e.b.Create(context.Background(), req); err != nil {
				t.Fatalf("second Create: %v", err)
			}
			want := 1
			if tc.wantRediscover {
				want = 2
			}
			if n := e.fake.Calls().Discover; n != want {
				t.Errorf("Discover calls = %d, want %d", n, want)
			}
		})
	}
}

func TestCreateNonProtocolErrorIsWrapped(t *testing.T) {
	e := newEnv(t)
	boom := errors.New("boom")
	e.fake.RegisterFunc = func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) { return nil, boom }
	_, err := e.b.Create(context.Background(), newReq(newServer(), ccMeta(), nil))
	if !errors.Is(err, boom) {
		t.Fatalf("error = %v, want it to wrap %v", err, boom)
	}
	if _, ok := backend.AsPermanent(err); ok || backend.IsUncertain(err) {
		t.Errorf("a plain error became %T", err)
	}
}

type wrapped struct{ err error }

func (w wrapped) Error() string { return "wrapped: " + w.err.Error() }
func (w wrapped) Unwrap() error { return w.err }

func wrapErr(err error) error { return wrapped{err} }

// A 2xx the client cannot use (dcr KindProtocol, Partial set) means a client
// probably exists: it is deleted again when the answer says how, otherwise
// the outcome is uncertain.
func TestCreateUnusable2xx(t *testing.T) {
	full := &dcr.Registration{ClientID: "c-p", ClientSecret: "sec-p", RegistrationAccessToken: "rat-p", RegistrationClientURI: "https://idp.example/r/c-p"}
	tests := []struct {
		name          string
		partial       *dcr.Registration
		deleteErr     error
		wantDelete    int
		wantUncertain bool
	}{
		{name: "deleted again", partial: full, wantDelete: 1},
		{name: "delete fails", partial: full, deleteErr: dcrErr("delete", dcr.KindTransient, 500), wantDelete: 1, wantUncertain: true},
		{name: "no token to delete with", partial: &dcr.Registration{ClientID: "c-p", RegistrationClientURI: full.RegistrationClientURI}, wantUncertain: true},
		{name: "no URI to delete at", partial: &dcr.Registration{ClientID: "c-p", RegistrationAccessToken: "rat-p"}, wantUncertain: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.RegisterFunc = func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) {
				return nil, &dcr.Error{Op: "register", Kind: dcr.KindProtocol, StatusCode: 201, Sent: true, Partial: tc.partial}
			}
			var gotURI, gotToken string
			e.fake.DeleteFunc = func(_ context.Context, uri, tok string) error {
				gotURI, gotToken = uri, tok
				return tc.deleteErr
			}
			creds, err := e.b.Create(context.Background(), newReq(newServer(), ccMeta(), nil))
			if creds != nil {
				t.Errorf("credentials %+v returned", creds)
			}
			if n := e.fake.Calls().Delete; n != tc.wantDelete {
				t.Errorf("Delete calls = %d, want %d", n, tc.wantDelete)
			}
			if tc.wantDelete > 0 && (gotURI != full.RegistrationClientURI || gotToken != "rat-p") {
				t.Errorf("Delete(%q, %q), want the partial registration's URI and token", gotURI, gotToken)
			}
			if tc.wantUncertain {
				isUncertain(t, err)
				return
			}
			wantTransient(t, err, oauthv1alpha1.ReasonServerUnavailable)
			if !strings.Contains(err.Error(), "deleted again") {
				t.Errorf("error %q does not say the registration was deleted", err)
			}
		})
	}
}

// A 2xx whose body is not a JSON object, or too large, is KindProtocol with a
// 2xx StatusCode and no Partial (dcr doc: "After Register, a KindProtocol
// error with a 2xx StatusCode means a client probably exists on the
// server"). Create only looks at Partial, so this becomes a plain
// TransientError and the retry registers a duplicate client.
func TestCreateUnusable2xxWithoutPartialIsUncertain(t *testing.T) {
	e := newEnv(t)
	e.fake.RegisterFunc = func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) {
		return nil, &dcr.Error{Op: "register", Kind: dcr.KindProtocol, StatusCode: 201, Sent: true, Description: "response body larger than 1048576 bytes"}
	}
	_, err := e.b.Create(context.Background(), newReq(newServer(), ccMeta(), nil))
	isUncertain(t, err)
}

func TestCreateInvalidArgumentIsPermanent(t *testing.T) {
	e := newEnv(t)
	e.fake.RegisterFunc = func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) {
		return nil, &dcr.Error{Op: "register", Kind: dcr.KindInvalidArgument, Description: "not an https URL"}
	}
	_, err := e.b.Create(context.Background(), newReq(newServer(), ccMeta(), nil))
	wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
}

// ---------------------------------------------------------------- Observe

func TestObserveNothingStored(t *testing.T) {
	for _, st := range []*backend.Credentials{nil, {ClientSecret: "x"}} {
		e := newEnv(t)
		obs, err := e.b.Observe(context.Background(), newReq(newServer(), ccMeta(), st))
		if err != nil {
			t.Fatalf("Observe: %v", err)
		}
		if obs.Exists || obs.UpToDate || obs.Gone || obs.Refreshed != nil || obs.Message == "" {
			t.Errorf("Observe(%v) = %+v, want !Exists with a message", st, obs)
		}
		if c := e.fake.Calls(); c != (dcr.FakeCalls{}) {
			t.Errorf("calls = %+v, want none", c)
		}
	}
}

func TestObserveReadsOncePerResync(t *testing.T) {
	const resync = 5 * time.Minute
	e := newEnv(t)
	server := newServer(withResync(resync))
	md := acMeta()
	req := newReq(server, md, nil)
	digest := mustDigest(t, e.b, req)
	req.Stored = storedCreds(digest)
	var gotURI, gotToken string
	e.fake.ReadFunc = func(_ context.Context, uri, tok string) (*dcr.Registration, error) {
		gotURI, gotToken = uri, tok
		return &dcr.Registration{ClientID: "c-1", RegistrationClientURI: clientURI, Metadata: serverView(t, md, nil)}, nil
	}
	ctx := context.Background()

	observe := func(step string, wantReads int, wantUpToDate bool, wantNext time.Time) backend.Observation {
		t.Helper()
		obs, err := e.b.Observe(ctx, req)
		if err != nil {
			t.Fatalf("%s: Observe: %v", step, err)
		}
		if n := e.fake.Calls().Read; n != wantReads {
			t.Errorf("%s: Read calls = %d, want %d", step, n, wantReads)
		}
		if !obs.Exists || obs.UpToDate != wantUpToDate || !obs.NextCheck.Equal(wantNext) || obs.Refreshed != nil || obs.Gone {
			t.Errorf("%s: Observe = %+v, want Exists, UpToDate=%v, NextCheck=%v", step, obs, wantUpToDate, wantNext)
		}
		return obs
	}

	observe("first", 1, true, t0.Add(resync))
	if gotURI != clientURI || gotToken != "rat-1" {
		t.Errorf("Read(%q, %q), want (%q, %q)", gotURI, gotToken, clientURI, "rat-1")
	}
	e.clock.Step(time.Minute)
	observe("within resync", 1, true, t0.Add(resync))

	// A spec change between reads is noticed by digest alone.
	req.Metadata = acMeta()
	req.Metadata.ClientName = "renamed"
	obs := observe("spec changed within resync", 1, false, t0.Add(resync))
	if !strings.Contains(obs.Message, "spec changed") {
		t.Errorf("message = %q, want it to say the spec changed", obs.Message)
	}
	req.Metadata = md

	e.clock.Step(resync - time.Minute - time.Nanosecond)
	observe("just before resync", 1, true, t0.Add(resync))
	e.clock.Step(time.Nanosecond)
	observe("at resync", 2, true, t0.Add(2*resync))
	observe("right after the second read", 2, true, t0.Add(2*resync))
	e.clock.Step(resync)
	observe("second resync", 3, true, t0.Add(3*resync))
}

func TestObserveDefaultResync(t *testing.T) {
	e := newEnv(t)
	md := ccMeta()
	req := e.currentReq(t, newServer(), md)
	e.readsBack(t, md)
	obs, err := e.b.Observe(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(dynamic.DefaultResyncInterval); !obs.NextCheck.Equal(want) {
		t.Errorf("NextCheck = %v, want %v", obs.NextCheck, want)
	}
}

func TestObserveFailedReadIsRetriedNextTime(t *testing.T) {
	e := newEnv(t)
	md := ccMeta()
	req := e.currentReq(t, newServer(), md)
	fail := true
	e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
		if fail {
			return nil, dcrErr("read", dcr.KindTransient, 503)
		}
		return &dcr.Registration{ClientID: "c-1", Metadata: serverView(t, md, nil)}, nil
	}
	if _, err := e.b.Observe(context.Background(), req); err == nil {
		t.Fatal("Observe succeeded on a 503")
	}
	fail = false
	obs, err := e.b.Observe(context.Background(), req)
	if err != nil || !obs.UpToDate {
		t.Fatalf("Observe = %+v, %v", obs, err)
	}
	if n := e.fake.Calls().Read; n != 2 {
		t.Errorf("Read calls = %d, want 2 (a failed read does not count as a read)", n)
	}
}

func TestObserveRefreshedCredentials(t *testing.T) {
	expires := t0.Add(48 * time.Hour)
	tests := []struct {
		name string
		reg  dcr.Registration
		want *backend.Credentials // nil: no Refreshed
	}{
		{name: "nothing new", reg: dcr.Registration{ClientID: "c-1", RegistrationClientURI: clientURI}},
		{name: "same values echoed", reg: dcr.Registration{ClientID: "c-1", ClientSecret: "secret-1", RegistrationAccessToken: "rat-1", RegistrationClientURI: clientURI}},
		{
			name: "new registration access token",
			reg:  dcr.Registration{ClientID: "c-1", RegistrationAccessToken: "rat-2", RegistrationClientURI: clientURI},
			want: &backend.Credentials{ClientID: "c-1", ClientSecret: "secret-1", RegistrationAccessToken: "rat-2", RegistrationClientURI: clientURI},
		},
		{
			name: "new client secret",
			reg:  dcr.Registration{ClientID: "c-1", ClientSecret: "secret-2"},
			want: &backend.Credentials{ClientID: "c-1", ClientSecret: "secret-2", RegistrationAccessToken: "rat-1", RegistrationClientURI: clientURI},
		},
		{
			name: "both rotated, secret expires",
			reg: dcr.Registration{ClientID: "c-1", ClientSecret: "secret-2", RegistrationAccessToken: "rat-2",
				RegistrationClientURI: clientURI, ClientSecretExpiresAt: expires, SecretExpires: true},
			want: &backend.Credentials{ClientID: "c-1", ClientSecret: "secret-2", RegistrationAccessToken: "rat-2", RegistrationClientURI: clientURI, ExpiresAt: expires},
		},
		{
			name: "moved configuration endpoint",
			reg:  dcr.Registration{ClientID: "c-1", RegistrationClientURI: "https://idp.example/v2/c-1"},
			want: &backend.Credentials{ClientID: "c-1", ClientSecret: "secret-1", RegistrationAccessToken: "rat-1", RegistrationClientURI: "https://idp.example/v2/c-1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			md := acMeta()
			req := newReq(newServer(), md, nil)
			digest := mustDigest(t, e.b, req)
			req.Stored = storedCreds(digest)
			orig := *req.Stored
			e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
				r := tc.reg
				r.Metadata = serverView(t, md, nil)
				return &r, nil
			}
			obs, err := e.b.Observe(context.Background(), req)
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			if !obs.Exists || !obs.UpToDate {
				t.Errorf("Observe = %+v, want Exists and UpToDate", obs)
			}
			if !reflect.DeepEqual(*req.Stored, orig) {
				t.Errorf("Observe mutated the stored credentials: %+v", req.Stored)
			}
			if tc.want == nil {
				if obs.Refreshed != nil {
					t.Errorf("Refreshed = %+v, want nil", obs.Refreshed)
				}
				return
			}
			if obs.Refreshed == nil {
				t.Fatalf("Refreshed = nil, want %+v", tc.want)
			}
			tc.want.Issuer, tc.want.IssuedAt, tc.want.Digest = issuer, orig.IssuedAt, digest
			if !reflect.DeepEqual(obs.Refreshed, tc.want) {
				t.Errorf("Refreshed =\n %+v\nwant\n %+v", obs.Refreshed, tc.want)
			}
		})
	}
}

func TestObserveCompare(t *testing.T) {
	tests := []struct {
		name          string
		spec          *metadata.Metadata
		server        func(t *testing.T) json.RawMessage
		emptyDigest   bool
		wantUpToDate  bool
		wantMessage   string // substring
		wantNewDigest bool   // Refreshed carries the current digest
	}{
		{
			name: "identical", spec: acMeta(),
			server:       func(t *testing.T) json.RawMessage { return serverView(t, acMeta(), nil) },
			wantUpToDate: true,
		},
		{
			name: "server reorders arrays and adds defaults", spec: acMeta(),
			server: func(t *testing.T) json.RawMessage {
				return json.RawMessage(`{"client_id":"c-1","client_secret":"secret-1","client_secret_expires_at":0,
					"grant_types":["refresh_token","authorization_code"],
					"redirect_uris":["https://app.example/cb2","https://app.example/cb"],
					"contacts":["b@example.com","a@example.com"],
					"token_endpoint_auth_method":"client_secret_basic","client_name":"web",
					"response_types":["code"],"id_token_signed_response_alg":"RS256","application_type":"web"}`)
			},
			wantUpToDate: true,
		},
		{
			name: "client_credentials with empty response_types", spec: ccMeta(),
			server: func(t *testing.T) json.RawMessage {
				return serverView(t, ccMeta(), map[string]any{"response_types": []any{}, "scope": "openid"})
			},
			wantUpToDate: true,
		},
		{
			name: "drift: name changed at the server", spec: acMeta(),
			server: func(t *testing.T) json.RawMessage {
				return serverView(t, acMeta(), map[string]any{"client_name": "someone else"})
			},
			wantMessage: "drift",
		},
		{
			name: "drift: redirect URI removed at the server", spec: acMeta(),
			server: func(t *testing.T) json.RawMessage {
				return serverView(t, acMeta(), map[string]any{"redirect_uris": []any{"https://app.example/cb"}})
			},
			wantMessage: "drift",
		},
		{
			name: "drift: grant type added at the server", spec: acMeta(),
			server: func(t *testing.T) json.RawMessage {
				return serverView(t, acMeta(), map[string]any{"grant_types": []any{"authorization_code", "refresh_token", "implicit"}})
			},
			wantMessage: "drift",
		},
		{
			name: "drift: member missing at the server", spec: acMeta(),
			server: func(t *testing.T) json.RawMessage {
				return serverView(t, acMeta(), map[string]any{"contacts": nil})
			},
			wantMessage: "drift",
		},
		{
			name: "drift: contacts with a duplicate", spec: acMeta(),
			server: func(t *testing.T) json.RawMessage {
				return serverView(t, acMeta(), map[string]any{"contacts": []any{"a@example.com", "a@example.com"}})
			},
			wantMessage: "drift",
		},
		{
			name: "unparsable server metadata", spec: acMeta(),
			server:      func(*testing.T) json.RawMessage { return json.RawMessage(`not json`) },
			wantMessage: "drift",
		},
		{
			name: "adoption: matches, no stored digest", spec: acMeta(), emptyDigest: true,
			server:       func(t *testing.T) json.RawMessage { return serverView(t, acMeta(), map[string]any{"client_id": "c-1"}) },
			wantUpToDate: true, wantNewDigest: true,
		},
		{
			name: "adoption: differs, no stored digest", spec: acMeta(), emptyDigest: true,
			server: func(t *testing.T) json.RawMessage {
				return serverView(t, acMeta(), map[string]any{"client_name": "old"})
			},
			wantMessage: "spec changed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := newReq(newServer(), tc.spec, nil)
			digest := mustDigest(t, e.b, req)
			stored := digest
			if tc.emptyDigest {
				stored = ""
			}
			req.Stored = storedCreds(stored)
			e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
				return &dcr.Registration{ClientID: "c-1", RegistrationClientURI: clientURI, Metadata: tc.server(t)}, nil
			}
			obs, err := e.b.Observe(context.Background(), req)
			if err != nil {
				t.Fatalf("Observe: %v", err)
			}
			if !obs.Exists || obs.UpToDate != tc.wantUpToDate {
				t.Errorf("Observe = %+v, want Exists, UpToDate=%v", obs, tc.wantUpToDate)
			}
			if tc.wantMessage != "" && !strings.Contains(obs.Message, tc.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", obs.Message, tc.wantMessage)
			}
			if tc.wantUpToDate && obs.Message != "" {
				t.Errorf("up-to-date observation has message %q", obs.Message)
			}
			if tc.wantNewDigest {
				if obs.Refreshed == nil {
					t.Fatalf("Refreshed = nil, want the adopted digest")
				}
				want := *req.Stored
				want.Digest = digest
				if !reflect.DeepEqual(*obs.Refreshed, want) {
					t.Errorf("Refreshed = %+v, want %+v", obs.Refreshed, want)
				}
			} else if obs.Refreshed != nil {
				t.Errorf("Refreshed = %+v, want nil", obs.Refreshed)
			}
		})
	}
}

// A member removed from the spec cannot be seen at the server (members the
// server has and the spec lacks are ignored as server defaults). When the
// read path runs (first Observe after a restart, or at a resync), the stored
// digest differs, the metadata "matches", the new digest is recorded and no
// PUT is ever sent: the removal never reaches the server.
func TestObserveRemovedMemberIsNotAdoptedAway(t *testing.T) {
	e := newEnv(t)
	old := acMeta()
	old.LogoURI = "https://app.example/logo.png"
	oldReq := newReq(newServer(), old, nil)
	req := newReq(newServer(), acMeta(), storedCreds(mustDigest(t, e.b, oldReq)))
	e.readsBack(t, old)
	obs, err := e.b.Observe(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if obs.UpToDate {
		t.Fatalf("Observe = %+v: the server still has logo_uri, which the spec no longer sets; want UpToDate=false so Update removes it", obs)
	}
}

// serverErrorCase is a server answering a request with err, for a client
// under policy: either the backend registers the client anew (reregister)
// or the request fails as check says.
type serverErrorCase struct {
	name       string
	policy     oauthv1alpha1.UnauthorizedPolicy
	err        error
	check      errCheck
	reregister bool
}

func TestObserveReadErrors(t *testing.T) {
	tests := []serverErrorCase{
		{name: "401 default policy stops", err: dcrErr("read", dcr.KindUnauthorized, 401), check: isPermanent(oauthv1alpha1.ReasonUnauthorized)},
		{name: "401 Stop", policy: oauthv1alpha1.UnauthorizedStop, err: dcrErr("read", dcr.KindUnauthorized, 401), check: isPermanent(oauthv1alpha1.ReasonUnauthorized)},
		{name: "404 Stop", policy: oauthv1alpha1.UnauthorizedStop, err: dcrErr("read", dcr.KindGone, 404), check: isPermanent(oauthv1alpha1.ReasonUnauthorized)},
		{name: "401 Reregister", policy: oauthv1alpha1.UnauthorizedReregister, err: dcrErr("read", dcr.KindUnauthorized, 401), reregister: true},
		{name: "410 Reregister", policy: oauthv1alpha1.UnauthorizedReregister, err: dcrErr("read", dcr.KindGone, 410), reregister: true},
		{name: "403", policy: oauthv1alpha1.UnauthorizedReregister, err: dcrErr("read", dcr.KindForbidden, 403), check: isPermanent(oauthv1alpha1.ReasonForbidden)},
		{name: "429", err: &dcr.Error{Op: "read", Kind: dcr.KindRateLimited, StatusCode: 429, Sent: true, RetryAfter: 7 * time.Second}, check: isPending(oauthv1alpha1.ReasonRateLimited, 7*time.Second)},
		{name: "429 no Retry-After", err: dcrErr("read", dcr.KindRateLimited, 429), check: isPending(oauthv1alpha1.ReasonRateLimited, 30*time.Second)},
		{name: "500", err: dcrErr("read", dcr.KindTransient, 500), check: isTransient(oauthv1alpha1.ReasonServerUnavailable)},
		{name: "400 on read", err: dcrErr("read", dcr.KindInvalidMetadata, 400), check: isPermanent(oauthv1alpha1.ReasonRegistrationRejected)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := e.currentReq(t, newServer(withPolicy(tc.policy)), ccMeta())
			e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) { return nil, tc.err }
			obs, err := e.b.Observe(context.Background(), req)
			if tc.reregister {
				if err != nil {
					t.Fatalf("Observe error = %v, want Gone", err)
				}
				if !obs.Gone || obs.Exists || obs.UpToDate || obs.Refreshed != nil || obs.Message == "" {
					t.Errorf("Observe = %+v, want Gone with a message", obs)
				}
				return
			}
			tc.check(t, err)
			if obs != (backend.Observation{}) {
				t.Errorf("Observation with an error = %+v, want zero", obs)
			}
			for _, s := range []string{"rat-1", "secret-1"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q leaks %q", err, s)
				}
			}
		})
	}
}

func TestObserveTransientReadForgetsDiscovery(t *testing.T) {
	e := newEnv(t)
	req := newReq(newServer(), ccMeta(), nil)
	e.fake.RegisterFunc = okRegister(registered("c-1"))
	creds, err := e.b.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Step(dynamic.DefaultResyncInterval)
	req.Stored = creds
	e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
		return nil, dcrErr("read", dcr.KindTransient, 502)
	}
	if _, err := e.b.Observe(context.Background(), req); err == nil {
		t.Fatal("Observe succeeded on a 502")
	}
	if _, err := e.b.Create(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls().Discover; n != 2 {
		t.Errorf("Discover calls = %d, want 2 (a 5xx on read forgets discovery)", n)
	}
}

func TestObserveUnmanageableStoredCredentials(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*backend.Credentials)
	}{
		{name: "no registration_client_uri", mod: func(c *backend.Credentials) { c.RegistrationClientURI = "" }},
		{name: "no registration_access_token", mod: func(c *backend.Credentials) { c.RegistrationAccessToken = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
				t.Error("Read called without a URI or token")
				return nil, errors.New("unreachable")
			}
			req := e.currentReq(t, newServer(), ccMeta())
			tc.mod(req.Stored)
			_, err := e.b.Observe(context.Background(), req)
			wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
			if n := e.fake.Calls().Read; n != 0 {
				t.Errorf("Read calls = %d, want 0", n)
			}
		})
	}
}

func TestCreateCountsAsRead(t *testing.T) {
	e := newEnv(t)
	md := ccMeta()
	req := newReq(newServer(withResync(time.Hour)), md, nil)
	e.fake.RegisterFunc = okRegister(registered("c-1"))
	creds, err := e.b.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	req.Stored = creds
	e.readsBack(t, md)
	e.clock.Step(30 * time.Minute)
	obs, err := e.b.Observe(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls().Read; n != 0 {
		t.Errorf("Read calls = %d right after Create, want 0", n)
	}
	if !obs.Exists || !obs.UpToDate || !obs.NextCheck.Equal(t0.Add(time.Hour)) {
		t.Errorf("Observe = %+v, want up to date until %v", obs, t0.Add(time.Hour))
	}
}

// A read answered with a 2xx the client cannot fully parse (dcr KindProtocol,
// Partial set) may still carry rotated credentials (Keycloak, Curity rotate
// the registration access token on every GET). dcr's contract: "the caller
// can persist rotated credentials". Dropping them invalidates the stored
// token: the next read answers 401.
func TestObservePartialReadKeepsRotatedToken(t *testing.T) {
	e := newEnv(t)
	req := e.currentReq(t, newServer(), ccMeta())
	e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
		return nil, &dcr.Error{Op: "read", Kind: dcr.KindProtocol, StatusCode: 200, Sent: true,
			Partial: &dcr.Registration{ClientID: "c-1", RegistrationAccessToken: "rat-2", RegistrationClientURI: clientURI}}
	}
	obs, err := e.b.Observe(context.Background(), req)
	if obs.Refreshed == nil || obs.Refreshed.RegistrationAccessToken != "rat-2" {
		t.Fatalf("Observe = %+v, %v; want Refreshed with the rotated token rat-2", obs, err)
	}
}

// ----------------------------------------------------------------- Update

func TestUpdateSendsMetadataWithoutSecret(t *testing.T) {
	e := newEnv(t, secret(serverNS, "iat", "token", "iat-value"))
	md := acMeta()
	req := newReq(newServer(withIAT("", "iat", "token"), withResync(time.Hour)), md, nil)
	digest := mustDigest(t, e.b, req)
	req.Stored = storedCreds("sha256:old")
	var gotURI, gotToken string
	var sent dcr.UpdateRequest
	e.fake.UpdateFunc = func(_ context.Context, uri, tok string, r dcr.UpdateRequest) (*dcr.Registration, error) {
		gotURI, gotToken, sent = uri, tok, r
		return &dcr.Registration{ClientID: "c-1", RegistrationAccessToken: "rat-2", RegistrationClientURI: clientURI}, nil
	}
	got, err := e.b.Update(context.Background(), req)
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if gotURI != clientURI || gotToken != "rat-1" {
		t.Errorf("Update(%q, %q), want (%q, rat-1)", gotURI, gotToken, clientURI)
	}
	if sent.ClientID != "c-1" {
		t.Errorf("PUT client_id = %q, want c-1", sent.ClientID)
	}
	if sent.ClientSecret != "" {
		t.Errorf("PUT carries a client secret")
	}
	if strings.Contains(string(sent.Metadata), "secret-1") || strings.Contains(string(sent.Metadata), "iat-value") {
		t.Errorf("PUT metadata leaks a secret: %s", sent.Metadata)
	}
	var sentMD metadata.Metadata
	if err := json.Unmarshal(sent.Metadata, &sentMD); err != nil {
		t.Fatalf("PUT metadata %s: %v", sent.Metadata, err)
	}
	if !reflect.DeepEqual(&sentMD, md) {
		t.Errorf("PUT metadata = %+v, want %+v", sentMD, *md)
	}
	want := storedCreds(digest)
	want.RegistrationAccessToken = "rat-2"
	want.CheckAfter = t0.Add(time.Hour)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Update =\n %+v\nwant\n %+v", got, want)
	}
	if c := e.fake.Calls(); c.Register != 0 || c.Discover != 0 {
		t.Errorf("calls = %+v, want no Register or Discover", c)
	}
	// The PUT answer counts as a read.
	e.readsBack(t, md)
	req.Stored = got
	if obs, err := e.b.Observe(context.Background(), req); err != nil || !obs.UpToDate || e.fake.Calls().Read != 0 {
		t.Errorf("Observe after Update = %+v, %v, reads %d; want up to date without a read", obs, err, e.fake.Calls().Read)
	}
}

func TestUpdateClientCredentialsBody(t *testing.T) {
	e := newEnv(t)
	req := newReq(newServer(), ccMeta(), storedCreds(""))
	var sent dcr.UpdateRequest
	e.fake.UpdateFunc = func(_ context.Context, _, _ string, r dcr.UpdateRequest) (*dcr.Registration, error) {
		sent = r
		return &dcr.Registration{ClientID: "c-1"}, nil
	}
	if _, err := e.b.Update(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(sent.Metadata, &m); err != nil {
		t.Fatal(err)
	}
	if rt, ok := m["response_types"]; !ok || !reflect.DeepEqual(rt, []any{}) {
		t.Errorf("PUT response_types = %v (present %v), want []", rt, ok)
	}
}

func TestUpdateErrors(t *testing.T) {
	tests := []serverErrorCase{
		{name: "401 Reregister registers anew", policy: oauthv1alpha1.UnauthorizedReregister, err: dcrErr("update", dcr.KindUnauthorized, 401), reregister: true},
		{name: "404 Reregister registers anew", policy: oauthv1alpha1.UnauthorizedReregister, err: dcrErr("update", dcr.KindGone, 404), reregister: true},
		{name: "401 Stop", policy: oauthv1alpha1.UnauthorizedStop, err: dcrErr("update", dcr.KindUnauthorized, 401), check: isPermanent(oauthv1alpha1.ReasonUnauthorized)},
		{name: "401 default policy", err: dcrErr("update", dcr.KindUnauthorized, 401), check: isPermanent(oauthv1alpha1.ReasonUnauthorized)},
		{name: "400", policy: oauthv1alpha1.UnauthorizedReregister, err: dcrErr("update", dcr.KindInvalidMetadata, 400), check: isPermanent(oauthv1alpha1.ReasonRegistrationRejected)},
		{name: "403", policy: oauthv1alpha1.UnauthorizedReregister, err: dcrErr("update", dcr.KindForbidden, 403), check: isPermanent(oauthv1alpha1.ReasonForbidden)},
		{name: "503", err: dcrErr("update", dcr.KindTransient, 503), check: isTransient(oauthv1alpha1.ReasonServerUnavailable)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			req := newReq(newServer(withPolicy(tc.policy)), ccMeta(), storedCreds("sha256:old"))
			e.fake.UpdateFunc = func(context.Context, string, string, dcr.UpdateRequest) (*dcr.Registration, error) {
				return nil, tc.err
			}
			e.fake.RegisterFunc = okRegister(registered("c-new"))
			var hookEndpoints []string
			req.BeforeRegister = func(_ context.Context, ep string) error {
				hookEndpoints = append(hookEndpoints, ep)
				return nil
			}
			got, err := e.b.Update(context.Background(), req)
			wantRegister := 0
			if tc.reregister {
				wantRegister = 1
			}
			if n := e.fake.Calls().Register; n != wantRegister {
				t.Errorf("Register calls = %d, want %d", n, wantRegister)
			}
			if !tc.reregister {
				tc.check(t, err)
				if got != nil || len(hookEndpoints) != 0 {
					t.Errorf("Update = %+v, BeforeRegister %q; want nil, none", got, hookEndpoints)
				}
				return
			}
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if !reflect.DeepEqual(hookEndpoints, []string{discoveredEndpoint}) {
				t.Errorf("BeforeRegister endpoints = %q, want [%q]", hookEndpoints, discoveredEndpoint)
			}
			if got.ClientID != "c-new" || got.ClientSecret != "secret-c-new" || got.RegistrationAccessToken != "rat-c-new" || got.Digest != mustDigest(t, e.b, req) {
				t.Errorf("Update = %+v, want the new registration c-new", got)
			}
		})
	}
}

// ----------------------------------------------------------------- Rotate

func TestRotateRegistersNewClient(t *testing.T) {
	e := newEnv(t, secret(serverNS, "iat", "token", "iat-value"))
	req := newReq(newServer(withIAT("", "iat", "token")), ccMeta(), storedCreds(""))
	var sent dcr.RegisterRequest
	e.fake.RegisterFunc = func(_ context.Context, _ string, r dcr.RegisterRequest) (*dcr.Registration, error) {
		sent = r
		return registered("c-2"), nil
	}
	before := 0
	req.BeforeRegister = func(context.Context, string) error { before++; return nil }
	got, err := e.b.Rotate(context.Background(), req)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if got.ClientID != "c-2" || got.ClientSecret != "secret-c-2" || got.RegistrationAccessToken != "rat-c-2" || got.Issuer != issuer {
		t.Errorf("Rotate = %+v, want the new client c-2", got)
	}
	if sent.InitialAccessToken != "iat-value" {
		t.Errorf("Rotate sent IAT %q", sent.InitialAccessToken)
	}
	if c := e.fake.Calls(); c.Register != 1 || c.Update != 0 || c.Delete != 0 || before != 1 {
		t.Errorf("calls = %+v, BeforeRegister %d; want one Register, one BeforeRegister", c, before)
	}
	if req.Stored.ClientID != "c-1" {
		t.Errorf("Rotate changed the stored credentials")
	}
}

// ----------------------------------------------------------------- Delete

func TestDelete(t *testing.T) {
	tests := []struct {
		name      string
		server    oauthv1alpha1.ServerObject
		stored    *backend.Credentials
		err       error
		wantErr   errCheck
		wantCalls int
	}{
		{name: "success", server: newServer(), stored: storedCreds("d"), wantCalls: 1},
		{name: "401 counts as deleted", server: newServer(), stored: storedCreds("d"), err: dcrErr("delete", dcr.KindUnauthorized, 401), wantCalls: 1},
		{name: "404 counts as deleted", server: newServer(), stored: storedCreds("d"), err: dcrErr("delete", dcr.KindGone, 404), wantCalls: 1},
		{name: "500 is an error", server: newServer(), stored: storedCreds("d"), err: dcrErr("delete", dcr.KindTransient, 500), wantErr: isTransient(oauthv1alpha1.ReasonServerUnavailable), wantCalls: 1},
		{name: "403 is an error", server: newServer(), stored: storedCreds("d"), err: dcrErr("delete", dcr.KindForbidden, 403), wantErr: isPermanent(oauthv1alpha1.ReasonForbidden), wantCalls: 1},
		{name: "nothing stored", server: newServer(), stored: nil},
		{name: "no registration_client_uri", server: newServer(), stored: func() *backend.Credentials { c := storedCreds("d"); c.RegistrationClientURI = ""; return c }()},
		{name: "no registration_access_token", server: newServer(), stored: func() *backend.Credentials { c := storedCreds("d"); c.RegistrationAccessToken = ""; return c }()},
		{name: "cluster server", server: newClusterServer(), stored: storedCreds("d"), wantCalls: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var gotURI, gotToken string
			e.fake.DeleteFunc = func(_ context.Context, uri, tok string) error {
				gotURI, gotToken = uri, tok
				return tc.err
			}
			err := e.b.Delete(context.Background(), newReq(tc.server, ccMeta(), tc.stored))
			if tc.wantErr != nil {
				tc.wantErr(t, err)
				if !strings.Contains(err.Error(), "c-1") {
					t.Errorf("error %q does not name the client", err)
				}
			} else if err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if n := e.fake.Calls().Delete; n != tc.wantCalls {
				t.Errorf("Delete calls = %d, want %d", n, tc.wantCalls)
			}
			if tc.wantCalls > 0 && (gotURI != clientURI || gotToken != "rat-1") {
				t.Errorf("Delete(%q, %q), want (%q, rat-1)", gotURI, gotToken, clientURI)
			}
		})
	}
}

func TestDeleteWithoutServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		server oauthv1alpha1.ServerObject
	}{
		{name: "server gone", server: nil},
		{name: "server without dynamicRegistration", server: &oauthv1alpha1.AuthorizationServer{
			ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: "x", UID: "x", Generation: 1},
			Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: issuer}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.DeleteFunc = func(_ context.Context, uri, tok string) error {
				if uri != clientURI || tok != "rat-1" {
					t.Errorf("Delete(%q, %q)", uri, tok)
				}
				return nil
			}
			req := newReq(tc.server, ccMeta(), storedCreds("d"))
			req.Client = nil
			if err := e.b.Delete(context.Background(), req); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if n := e.fake.Calls().Delete; n != 1 {
				t.Errorf("Delete calls = %d, want 1", n)
			}
			if n := e.newRegistrarCalls(); n != 1 {
				t.Fatalf("NewRegistrar calls = %d, want 1", n)
			}
			want := dcr.Config{Timeout: dynamic.DefaultTimeout, UserAgent: dynamic.UserAgent, WithSystemRoots: true}
			if got := e.lastConfig(); !reflect.DeepEqual(got, want) {
				t.Errorf("NewRegistrar config = %+v, want %+v", got, want)
			}
		})
	}
}

func TestDeleteRegistrarBuildError(t *testing.T) {
	e := newEnv(t)
	boom := errors.New("no roots")
	e.b.NewRegistrar = func(dcr.Config) (dcr.Registrar, error) { return nil, boom }
	err := e.b.Delete(context.Background(), newReq(nil, ccMeta(), storedCreds("d")))
	if !errors.Is(err, boom) {
		t.Fatalf("Delete = %v, want it to wrap %v", err, boom)
	}
}

func TestDeleteOfDeletedClientForgetsRead(t *testing.T) {
	e := newEnv(t)
	md := ccMeta()
	req := e.currentReq(t, newServer(), md)
	e.readsBack(t, md)
	e.fake.DeleteFunc = func(context.Context, string, string) error { return nil }
	if _, err := e.b.Observe(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	now := metav1.NewTime(t0)
	req.Client.DeletionTimestamp = &now
	if err := e.b.Delete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.Observe(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if n := e.fake.Calls().Read; n != 2 {
		t.Errorf("Read calls = %d, want 2 (the read time is forgotten with the deleted client)", n)
	}
}

// ------------------------------------------------------------------ Probe

type regServer struct {
	srv    *httptest.Server
	status atomic.Int32
	hits   atomic.Int32
	mu     sync.Mutex
	method string
	path   string
	ua     string
}

func newRegServer(t *testing.T) *regServer {
	t.Helper()
	rs := &regServer{}
	rs.status.Store(http.StatusMethodNotAllowed)
	rs.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rs.hits.Add(1)
		rs.mu.Lock()
		rs.method, rs.path, rs.ua = r.Method, r.URL.Path, r.Header.Get("User-Agent")
		rs.mu.Unlock()
		w.WriteHeader(int(rs.status.Load()))
	}))
	t.Cleanup(rs.srv.Close)
	return rs
}

func (rs *regServer) caPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rs.srv.Certificate().Raw})
}

func (rs *regServer) endpoint() string { return rs.srv.URL + "/reg" }

func TestProbe(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		closed      bool
		mods        func(rs *regServer) []specMod
		cluster     bool
		discoverErr error
		discovered  func(rs *regServer) string
		wantErr     errCheck
		wantHits    int32
		wantToken   string
		wantDisc    int
	}{
		{name: "405 is fine", status: 405, wantHits: 1, wantToken: tokenEndpoint, wantDisc: 1},
		{name: "401 is fine", status: 401, wantHits: 1, wantToken: tokenEndpoint, wantDisc: 1},
		{name: "404 is fine", status: 404, wantHits: 1, wantToken: tokenEndpoint, wantDisc: 1},
		{name: "503 is unavailable", status: 503, wantHits: 1, wantErr: isTransient(oauthv1alpha1.ReasonServerUnavailable), wantDisc: 1},
		{name: "500 is unavailable", status: 500, wantHits: 1, wantErr: isTransient(oauthv1alpha1.ReasonServerUnavailable), wantDisc: 1},
		{name: "closed server", closed: true, wantErr: isTransient(oauthv1alpha1.ReasonServerUnavailable), wantDisc: 1},
		{name: "discovery fails, explicit endpoint still probed", status: 405, discoverErr: dcrErr("discover", dcr.KindGone, 404),
			wantHits: 1, wantToken: "", wantDisc: 1},
		{name: "discovered endpoint probed", status: 405, wantHits: 1, wantToken: tokenEndpoint, wantDisc: 1,
			mods:       func(rs *regServer) []specMod { return []specMod{withCA(rs.caPEM())} },
			discovered: func(rs *regServer) string { return rs.endpoint() }},
		{name: "discovery fails without explicit endpoint", discoverErr: dcrErr("discover", dcr.KindTransient, 502),
			mods:    func(rs *regServer) []specMod { return []specMod{withCA(rs.caPEM())} },
			wantErr: isTransient(oauthv1alpha1.ReasonDiscoveryFailed), wantDisc: 1},
		{name: "IAT in another namespace", mods: func(rs *regServer) []specMod {
			return []specMod{withEndpoint(rs.endpoint()), withCA(rs.caPEM()), withIAT("other", "iat", "token")}
		}, wantErr: isPermanent(oauthv1alpha1.ReasonInvalidSpec)},
		{name: "software statement in another namespace", mods: func(rs *regServer) []specMod {
			return []specMod{withEndpoint(rs.endpoint()), withCA(rs.caPEM()), withSS("other", "ss", "jwt")}
		}, wantErr: isPermanent(oauthv1alpha1.ReasonInvalidSpec)},
		{name: "IAT naming own namespace is fine", status: 405, mods: func(rs *regServer) []specMod {
			return []specMod{withEndpoint(rs.endpoint()), withCA(rs.caPEM()), withIAT(serverNS, "iat", "token")}
		}, wantHits: 1, wantToken: tokenEndpoint, wantDisc: 1},
		{name: "cluster server may name any namespace", status: 405, cluster: true, mods: func(rs *regServer) []specMod {
			return []specMod{withEndpoint(rs.endpoint()), withCA(rs.caPEM()), withIAT("other", "iat", "token")}
		}, wantHits: 1, wantToken: tokenEndpoint, wantDisc: 1},
		{name: "bad caBundle", mods: func(rs *regServer) []specMod {
			return []specMod{withEndpoint(rs.endpoint()), withCA([]byte("not a certificate"))}
		}, wantErr: isPermanent(oauthv1alpha1.ReasonInvalidSpec)},
		{name: "no caBundle: system roots do not trust the server", mods: func(rs *regServer) []specMod {
			return []specMod{withEndpoint(rs.endpoint())}
		}, wantErr: isTransient(oauthv1alpha1.ReasonServerUnavailable), wantDisc: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs := newRegServer(t)
			rs.status.Store(int32(tc.status))
			e := newEnv(t)
			discovered := discoveredEndpoint
			if tc.discovered != nil {
				discovered = tc.discovered(rs)
			}
			e.fake.DiscoverFunc = func(_ context.Context, iss string) (*dcr.ServerMetadata, error) {
				if tc.discoverErr != nil {
					return nil, tc.discoverErr
				}
				return &dcr.ServerMetadata{Issuer: iss, RegistrationEndpoint: discovered, TokenEndpoint: tokenEndpoint}, nil
			}
			mods := []specMod{withEndpoint(rs.endpoint()), withCA(rs.caPEM())}
			if tc.mods != nil {
				mods = tc.mods(rs)
			}
			var server oauthv1alpha1.ServerObject = newServer(mods...)
			if tc.cluster {
				server = newClusterServer(mods...)
			}
			if tc.closed {
				rs.srv.Close()
			}
			info, err := e.b.Probe(context.Background(), server)
			if n := rs.hits.Load(); n != tc.wantHits {
				t.Errorf("registration endpoint hits = %d, want %d", n, tc.wantHits)
			}
			if n := e.fake.Calls().Discover; n != tc.wantDisc {
				t.Errorf("Discover calls = %d, want %d", n, tc.wantDisc)
			}
			if tc.wantErr != nil {
				tc.wantErr(t, err)
				if info != (dynamic.Info{}) {
					t.Errorf("Info with an error = %+v", info)
				}
				return
			}
			if err != nil {
				t.Fatalf("Probe: %v", err)
			}
			want := dynamic.Info{Issuer: issuer, RegistrationEndpoint: rs.endpoint(), TokenEndpoint: tc.wantToken}
			if info != want {
				t.Errorf("Probe = %+v, want %+v", info, want)
			}
			rs.mu.Lock()
			defer rs.mu.Unlock()
			if rs.method != http.MethodGet || rs.path != "/reg" || rs.ua != dynamic.UserAgent {
				t.Errorf("probe request = %s %s UA %q, want GET /reg UA %q", rs.method, rs.path, rs.ua, dynamic.UserAgent)
			}
		})
	}
}

func TestProbeFailureForgetsDiscovery(t *testing.T) {
	rs := newRegServer(t)
	rs.status.Store(http.StatusServiceUnavailable)
	e := newEnv(t)
	server := newServer(withEndpoint(rs.endpoint()), withCA(rs.caPEM()))
	if _, err := e.b.Probe(context.Background(), server); err == nil {
		t.Fatal("Probe succeeded on 503")
	}
	rs.status.Store(http.StatusMethodNotAllowed)
	if _, err := e.b.Probe(context.Background(), server); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if _, err := e.b.Probe(context.Background(), server); err != nil {
		t.Fatalf("Probe: %v", err)
	}
	if n := e.fake.Calls().Discover; n != 2 {
		t.Errorf("Discover calls = %d, want 2 (rediscovered once after the 503, then cached)", n)
	}
}

// ----------------------------------------------------------------- Digest

func TestDigest(t *testing.T) {
	e := newEnv(t)
	base := func() *backend.Request { return newReq(newServer(), acMeta(), nil) }
	d0 := mustDigest(t, e.b, base())
	if !strings.HasPrefix(d0, "sha256:") || len(d0) != len("sha256:")+43 {
		t.Fatalf("digest %q is not sha256:<43 base64url chars>", d0)
	}
	tests := []struct {
		name     string
		req      func() *backend.Request
		wantSame bool
	}{
		{name: "equal inputs", req: base, wantSame: true},
		{name: "other object, same spec", req: func() *backend.Request {
			s := newServer()
			s.Name, s.UID, s.Generation = "other", "other-uid", 7
			return newReq(s, acMeta(), storedCreds("x"))
		}, wantSame: true},
		{name: "metadata changed", req: func() *backend.Request {
			r := base()
			r.Metadata.ClientName = "renamed"
			return r
		}},
		{name: "redirect URI added", req: func() *backend.Request {
			r := base()
			r.Metadata.RedirectURIs = append(r.Metadata.RedirectURIs, "https://app.example/cb3")
			return r
		}},
		{name: "issuer changed", req: func() *backend.Request {
			return newReq(newServer(withIssuer("https://idp2.example")), acMeta(), nil)
		}},
		{name: "explicit endpoint set", req: func() *backend.Request {
			return newReq(newServer(withEndpoint(explicitEndpoint)), acMeta(), nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustDigest(t, e.b, tc.req())
			if (d == d0) != tc.wantSame {
				t.Errorf("digest %q vs base %q: same=%v, want %v", d, d0, d == d0, tc.wantSame)
			}
		})
	}
	t.Run("endpoint changed", func(t *testing.T) {
		a := mustDigest(t, e.b, newReq(newServer(withEndpoint(explicitEndpoint)), acMeta(), nil))
		b := mustDigest(t, e.b, newReq(newServer(withEndpoint(explicitEndpoint+"/v2")), acMeta(), nil))
		if a == b {
			t.Errorf("digest unchanged when the registration endpoint changes: %q", a)
		}
	})
	t.Run("implicit and explicit empty response_types are the same body", func(t *testing.T) {
		m := ccMeta()
		m.ResponseTypes = []string{}
		a := mustDigest(t, e.b, newReq(newServer(), ccMeta(), nil))
		b := mustDigest(t, e.b, newReq(newServer(), m, nil))
		if a != b {
			t.Errorf("digests differ: %q %q", a, b)
		}
	})
	t.Run("no dynamicRegistration", func(t *testing.T) {
		s := newServer()
		s.Spec.DynamicRegistration = nil
		_, err := e.b.Digest(newReq(s, acMeta(), nil))
		wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
	})
}

// ------------------------------------------------------------ entry cache

func TestEntryCachePerGeneration(t *testing.T) {
	e := newEnv(t)
	var fakes []*dcr.Fake
	e.b.NewRegistrar = func(c dcr.Config) (dcr.Registrar, error) {
		e.mu.Lock()
		e.configs = append(e.configs, c)
		e.mu.Unlock()
		f := &dcr.Fake{
			DiscoverFunc: func(_ context.Context, iss string) (*dcr.ServerMetadata, error) {
				return &dcr.ServerMetadata{Issuer: iss, RegistrationEndpoint: discoveredEndpoint}, nil
			},
			RegisterFunc: okRegister(registered("c-1")),
		}
		fakes = append(fakes, f)
		return f, nil
	}
	ctx := context.Background()
	server := newServer(withTimeout(7*time.Second), withCA(nil))
	create := func(step string) {
		t.Helper()
		if _, err := e.b.Create(ctx, newReq(server, ccMeta(), nil)); err != nil {
			t.Fatalf("%s: Create: %v", step, err)
		}
	}
	// createTwice creates twice in generation gen, which builds registrar
	// number built: one discovery for two registrations.
	createTwice := func(gen string, built int) {
		t.Helper()
		create(gen)
		create(gen + " again")
		if n := e.newRegistrarCalls(); n != built {
			t.Fatalf("NewRegistrar calls = %d after two Creates of %s, want %d", n, gen, built)
		}
		if c := fakes[built-1].Calls(); c.Register != 2 || c.Discover != 1 {
			t.Errorf("%s registrar calls = %+v, want 2 Register, 1 Discover (discovery is per generation)", gen, c)
		}
	}
	createTwice("gen 1", 1)
	if want := (dcr.Config{Timeout: 7 * time.Second, UserAgent: dynamic.UserAgent}); !reflect.DeepEqual(e.lastConfig(), want) {
		t.Errorf("config = %+v, want %+v", e.lastConfig(), want)
	}

	server = server.DeepCopy()
	server.Generation = 2
	server.Spec.DynamicRegistration.Timeout = nil
	server.Spec.DynamicRegistration.CABundle = []byte("bundle")
	// The registrar is built with the new bundle; the probe client then
	// refuses it, so the entry is not kept.
	_, err := e.b.Create(ctx, newReq(server, ccMeta(), nil))
	wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
	if n := e.newRegistrarCalls(); n != 2 {
		t.Fatalf("NewRegistrar calls = %d after a new generation, want 2", n)
	}
	if got := e.lastConfig(); string(got.CABundle) != "bundle" || got.Timeout != dynamic.DefaultTimeout {
		t.Errorf("config = %+v, want the new CA bundle and the default timeout", got)
	}

	server.Generation = 3
	server.Spec.DynamicRegistration.CABundle = nil
	createTwice("gen 3", 3)
	if c := fakes[0].Calls(); c.Register != 2 {
		t.Errorf("gen 1 registrar used after the generation changed: %+v", c)
	}

	e.b.Forget(serverUID)
	create("after Forget")
	if n := e.newRegistrarCalls(); n != 4 {
		t.Errorf("NewRegistrar calls = %d after Forget, want 4", n)
	}

	// Another server object is its own entry.
	if _, err := e.b.Create(ctx, newReq(newClusterServer(), ccMeta(), nil)); err != nil {
		t.Fatal(err)
	}
	if n := e.newRegistrarCalls(); n != 5 {
		t.Errorf("NewRegistrar calls = %d for a second server, want 5", n)
	}
}

func TestEntryErrors(t *testing.T) {
	t.Run("NewRegistrar fails", func(t *testing.T) {
		e := newEnv(t)
		e.b.NewRegistrar = func(dcr.Config) (dcr.Registrar, error) { return nil, errors.New("bad bundle") }
		_, err := e.b.Create(context.Background(), newReq(newServer(), ccMeta(), nil))
		wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
		if !strings.Contains(err.Error(), "bad bundle") {
			t.Errorf("error %q does not carry the cause", err)
		}
	})
	t.Run("server without dynamicRegistration", func(t *testing.T) {
		e := newEnv(t)
		s := newServer()
		s.Spec.DynamicRegistration = nil
		_, err := e.b.Create(context.Background(), newReq(s, ccMeta(), nil))
		wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
		_, err = e.b.Probe(context.Background(), s)
		wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
		if n := e.newRegistrarCalls(); n != 0 {
			t.Errorf("NewRegistrar calls = %d, want 0", n)
		}
	})
}

// ------------------------------------------------------------ concurrency

func TestConcurrentUse(t *testing.T) {
	e := newEnv(t)
	md := ccMeta()
	view := serverView(t, md, nil)
	e.fake.RegisterFunc = okRegister(registered("c-1"))
	e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
		return &dcr.Registration{ClientID: "c-1", Metadata: view}, nil
	}
	server := newServer()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 20; i++ {
		wg.Add(2)
		uid := types.UID("client-" + string(rune('a'+i)))
		go func() {
			defer wg.Done()
			req := newReq(server, md, nil)
			req.Client.UID = uid
			_, err := e.b.Create(context.Background(), req)
			errs <- err
		}()
		go func() {
			defer wg.Done()
			req := newReq(server, md, storedCreds(""))
			req.Client.UID = uid + "-obs"
			_, err := e.b.Observe(context.Background(), req)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := e.newRegistrarCalls(); n != 1 {
		t.Errorf("NewRegistrar calls = %d, want 1", n)
	}
	if c := e.fake.Calls(); c.Register != 20 || c.Read != 20 {
		t.Errorf("calls = %+v, want 20 Register and 20 Read", c)
	}
}

// What Create and Update issue carries the next resync, so the controller
// need not observe fresh credentials to learn it.
func TestIssuedCredentialsCarryNextResync(t *testing.T) {
	e := newEnv(t)
	e.fake.RegisterFunc = func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) {
		return registered("c-1"), nil
	}
	srv := newServer(withResync(7 * time.Minute))
	c, err := e.b.Create(context.Background(), newReq(srv, ccMeta(), nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(7 * time.Minute); !c.CheckAfter.Equal(want) {
		t.Fatalf("Create: CheckAfter = %s, want %s", c.CheckAfter, want)
	}
	e.fake.UpdateFunc = func(context.Context, string, string, dcr.UpdateRequest) (*dcr.Registration, error) {
		return registered("c-1"), nil
	}
	e.clock.Step(time.Minute)
	u, err := e.b.Update(context.Background(), newReq(srv, ccMeta(), c))
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(8 * time.Minute); !u.CheckAfter.Equal(want) {
		t.Fatalf("Update: CheckAfter = %s, want %s", u.CheckAfter, want)
	}
}

// ------------------------------------------------------------------ CA bundle kept with the credentials

// caPEM returns a new self-signed CA certificate as PEM.
func caPEM(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// Credentials the backend hands out carry the server's CA bundle, and a
// stored set without it (written before, or before a CA change) is refreshed
// with it without a read at the server, so deletion finds it in the Secret.
func TestCredentialsCarryTheServerCABundle(t *testing.T) {
	ca := caPEM(t, "private-ca")
	e := newEnv(t)
	e.fake.RegisterFunc = okRegister(registered("c-1"))
	server := newServer(withCA(ca))
	req := newReq(server, ccMeta(), nil)
	created, err := e.b.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(created.CABundle, ca) {
		t.Fatalf("Create: CABundle %q", created.CABundle)
	}
	reads := e.fake.Calls().Read
	for _, tc := range []struct {
		name   string
		stored []byte
		want   []byte // nil: no refresh
	}{
		{"stored without a CA bundle", nil, ca},
		{"stored with an old CA bundle", caPEM(t, "old-ca"), ca},
		{"stored with the current CA bundle", ca, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := *created
			st.CABundle = tc.stored
			obs, err := e.b.Observe(context.Background(), newReq(server, ccMeta(), &st))
			if err != nil || !obs.Exists || !obs.UpToDate {
				t.Fatalf("Observe = %+v, %v", obs, err)
			}
			switch {
			case tc.want == nil && obs.Refreshed != nil:
				t.Fatalf("refreshed although nothing changed: %+v", obs.Refreshed)
			case tc.want != nil && (obs.Refreshed == nil || !bytes.Equal(obs.Refreshed.CABundle, tc.want)):
				t.Fatalf("Refreshed = %+v, want the server's CA bundle", obs.Refreshed)
			case tc.want != nil && (obs.Refreshed.ClientSecret != st.ClientSecret || obs.Refreshed.RegistrationAccessToken != st.RegistrationAccessToken):
				t.Fatalf("the refresh changed the credentials: %+v", obs.Refreshed)
			}
		})
	}
	if n := e.fake.Calls().Read; n != reads {
		t.Errorf("%d reads at the server to learn its own CA bundle", n-reads)
	}
}

// Deletion trusts the CA bundle stored with the credentials: with the server
// object gone, with a server whose caBundle changed since (both are trusted),
// and with a server that is no dynamicRegistration server any more.
func TestDeleteTrustsTheStoredCABundle(t *testing.T) {
	stored, rotated := caPEM(t, "stored-ca"), caPEM(t, "rotated-ca")
	for _, tc := range []struct {
		name   string
		server oauthv1alpha1.ServerObject
		want   [][]byte
	}{
		{name: "server gone", server: nil, want: [][]byte{stored}},
		{name: "server with the same caBundle", server: newServer(withCA(stored)), want: [][]byte{stored}},
		{name: "server with a rotated caBundle", server: newServer(withCA(rotated)), want: [][]byte{stored, rotated}},
		{name: "server without a caBundle", server: newServer(), want: [][]byte{stored}},
		{name: "server without dynamicRegistration", server: &oauthv1alpha1.AuthorizationServer{
			ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: "x", UID: "x", Generation: 1},
			Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: issuer}},
		}, want: [][]byte{stored}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.fake.DeleteFunc = func(context.Context, string, string) error { return nil }
			st := storedCreds("d")
			st.CABundle = stored
			if err := e.b.Delete(context.Background(), newReq(tc.server, ccMeta(), st)); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if n := e.fake.Calls().Delete; n != 1 {
				t.Fatalf("Delete calls = %d", n)
			}
			got := e.lastConfig().CABundle
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(got) {
				t.Fatalf("the registration client trusts no certificate: %q", got)
			}
			for _, w := range tc.want {
				if !bytes.Contains(got, w) {
					t.Errorf("the registration client does not trust %q", w)
				}
			}
			if tc.server == nil && e.lastConfig().Timeout != dynamic.DefaultTimeout {
				t.Errorf("timeout %s", e.lastConfig().Timeout)
			}
			if tc.name != "server with the same caBundle" && !e.lastConfig().WithSystemRoots {
				t.Error("the system roots are not trusted besides the stored CA bundle")
			}
		})
	}
}

// The spread tests: 1000 clients at a 10-minute resync, their read points
// counted per tenth of the interval.
const (
	spreadResync  = 10 * time.Minute
	spreadClients = 1000
	spreadBuckets = 10
)

// spreadingEnv is a backend as the manager sets it up (SpreadFirstReads) and
// a server with the spread tests' resync interval.
func spreadingEnv(t *testing.T) (*env, *oauthv1alpha1.AuthorizationServer) {
	t.Helper()
	e := newEnv(t)
	e.b.SpreadFirstReads = true
	return e, newServer(withResync(spreadResync))
}

// With SpreadFirstReads (the manager's setting), the clients a fresh process
// finds are not all read at once: each is trusted (its stored digest answers
// the spec) until a point of the first resync interval its UID chooses, the
// points spread evenly, and each client is then read once per interval as
// usual. A client whose spec changed is looked at at once.
func TestObserveSpreadsFirstReadsAfterRestart(t *testing.T) {
	e, server := spreadingEnv(t)
	md := acMeta()
	digest := mustDigest(t, e.b, newReq(server, md, nil))
	e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
		return &dcr.Registration{ClientID: "c-1", RegistrationClientURI: clientURI, Metadata: serverView(t, md, nil)}, nil
	}
	reqs := make([]*backend.Request, spreadClients)
	next := make([]time.Time, spreadClients)
	var perBucket [spreadBuckets]int
	for i := range reqs {
		reqs[i] = newReq(server, md, storedCreds(digest))
		reqs[i].Client.UID = types.UID(fmt.Sprintf("uid-%d", i))
		obs, err := e.b.Observe(context.Background(), reqs[i])
		if err != nil || !obs.Exists || !obs.UpToDate {
			t.Fatalf("client %d: %+v %v", i, obs, err)
		}
		if !obs.NextCheck.After(t0) || obs.NextCheck.After(t0.Add(spreadResync)) {
			t.Fatalf("client %d: first read at %s, want within the first interval", i, obs.NextCheck.Sub(t0))
		}
		next[i] = obs.NextCheck
		perBucket[int(obs.NextCheck.Sub(t0)*spreadBuckets/spreadResync)%spreadBuckets]++
	}
	if n := e.fake.Calls().Read; n != 0 {
		t.Fatalf("%d reads at start, want 0", n)
	}
	for b, n := range perBucket {
		if n < spreadClients/spreadBuckets/2 || n > spreadClients/spreadBuckets*2 {
			t.Errorf("%d first reads in tenth %d of the interval, want about %d: %v", n, b, spreadClients/spreadBuckets, perBucket)
		}
	}
	// Each client is read when its point comes, once.
	e.clock.Step(spreadResync)
	for i, r := range reqs {
		obs, err := e.b.Observe(context.Background(), r)
		if err != nil || !obs.NextCheck.Equal(t0.Add(spreadResync).Add(spreadResync)) && !obs.NextCheck.Equal(next[i].Add(spreadResync)) {
			t.Fatalf("client %d after its first read: %+v %v", i, obs, err)
		}
	}
	if n := e.fake.Calls().Read; n != spreadClients {
		t.Fatalf("%d reads after one interval, want %d (one per client)", n, spreadClients)
	}
	// A client whose spec changed while the manager was down is looked at at once.
	changed := newReq(server, md, storedCreds("sha256:older"))
	changed.Client.UID = "uid-changed"
	if obs, err := e.b.Observe(context.Background(), changed); err != nil || obs.UpToDate {
		t.Fatalf("changed client: %+v %v", obs, err)
	}
}

// Clients registered in a burst (GitOps applies 10,000 at once) are not read
// back in the same burst every interval from then on: with SpreadFirstReads
// each client's reads fall on its own read points, which spread evenly over
// the interval, and stay there.
func TestObserveSpreadsReadsAfterAMassRegistration(t *testing.T) {
	e, server := spreadingEnv(t)
	md := ccMeta()
	e.fake.RegisterFunc = func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) {
		return registered("c-1"), nil
	}
	e.fake.ReadFunc = func(context.Context, string, string) (*dcr.Registration, error) {
		return &dcr.Registration{ClientID: "c-1", RegistrationClientURI: clientURI, Metadata: serverView(t, md, nil)}, nil
	}
	var perBucket [spreadBuckets]int
	due := make([]time.Time, spreadClients)
	reqs := make([]*backend.Request, spreadClients)
	for i := range reqs {
		reqs[i] = newReq(server, md, nil)
		reqs[i].Client.UID = types.UID(fmt.Sprintf("uid-%d", i))
		c, err := e.b.Create(context.Background(), reqs[i]) // all at t0
		if err != nil {
			t.Fatal(err)
		}
		if !c.CheckAfter.After(t0) || c.CheckAfter.After(t0.Add(spreadResync)) {
			t.Fatalf("client %d: next read %s after registering, want within one interval", i, c.CheckAfter.Sub(t0))
		}
		due[i] = c.CheckAfter
		perBucket[int(c.CheckAfter.Sub(t0)*spreadBuckets/spreadResync)%spreadBuckets]++
		reqs[i].Stored = c
	}
	for b, n := range perBucket {
		if n < spreadClients/spreadBuckets/2 || n > spreadClients/spreadBuckets*2 {
			t.Fatalf("%d spreadClients due in tenth %d of the interval, want about %d: %v", n, b, spreadClients/spreadBuckets, perBucket)
		}
	}
	// Read each when it is due (late by up to a second, as a busy queue
	// would): the next read is one interval after its point, not after the
	// late read, so the spread holds.
	order := make([]int, spreadClients)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return due[a].Compare(due[b]) })
	for _, i := range order {
		e.clock.SetTime(due[i].Add(time.Second))
		obs, err := e.b.Observe(context.Background(), reqs[i])
		if err != nil || !obs.Exists {
			t.Fatalf("client %d: %+v %v", i, obs, err)
		}
		if want := due[i].Add(spreadResync); !obs.NextCheck.Equal(want) {
			t.Fatalf("client %d read at %s: next read at %s, want %s (its read point)", i, e.clock.Now().Sub(t0), obs.NextCheck.Sub(t0), want.Sub(t0))
		}
	}
	if n := e.fake.Calls().Read; n != spreadClients {
		t.Fatalf("%d reads, want %d", n, spreadClients)
	}
}
