package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/registrar/dcr"
)

func newMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

func TestNewTwiceReusesCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, err := New(reg)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(reg)
	if err != nil {
		t.Fatalf("second New on the same registry: %v", err)
	}
	a.Failed(BackendStateless, oauthv1alpha1.ReasonMintFailed)
	b.Failed(BackendStateless, oauthv1alpha1.ReasonMintFailed)
	if got := testutil.Gather(t, reg)[`clientreg_registration_failures_total{backend="stateless",reason="MintFailed"}`]; got != 2 {
		t.Fatalf("failures = %v, want 2 (both Metrics count into one series)", got)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.Issued(nil, "Create")
	m.Failed("x", "y")
	m.SetSecretExpiry("ns", "n", &metav1.Time{Time: time.Now()})
	m.ForgetClient("ns", "n")
	f := &dcr.Fake{}
	if got := m.InstrumentRegistrar(f); got != dcr.Registrar(f) {
		t.Fatal("a nil Metrics must return the registrar unwrapped")
	}
	h := http.NotFoundHandler()
	if got := m.InstrumentEndpoint(h); got == nil {
		t.Fatal("nil handler")
	}
}

func TestIssuedLabels(t *testing.T) {
	m, reg := newMetrics(t)
	srv := &oauthv1alpha1.ClusterAuthorizationServer{Spec: oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://x"}}}
	m.Issued(srv, "Create")
	m.Issued(srv, "Rotate")
	m.Issued(srv, "Rotate")
	expectSeries(t, testutil.Gather(t, reg), "clientreg_registrations_total", map[string]float64{
		`clientreg_registrations_total{action="create",backend="stateless",server_kind="ClusterAuthorizationServer"}`: 1,
		`clientreg_registrations_total{action="rotate",backend="stateless",server_kind="ClusterAuthorizationServer"}`: 2,
	})
}

func TestSecretExpirySetAndDeleted(t *testing.T) {
	m, reg := newMetrics(t)
	exp := metav1.NewTime(time.Unix(1_900_000_000, 0))
	m.SetSecretExpiry("apps", "a", &exp)
	m.SetSecretExpiry("apps", "b", &exp)
	expectSeries(t, testutil.Gather(t, reg), "clientreg_client_secret_expires_timestamp_seconds", map[string]float64{
		`clientreg_client_secret_expires_timestamp_seconds{name="a",namespace="apps"}`: 1_900_000_000,
		`clientreg_client_secret_expires_timestamp_seconds{name="b",namespace="apps"}`: 1_900_000_000,
	})
	m.SetSecretExpiry("apps", "a", nil) // no longer expires
	m.ForgetClient("apps", "b")         // deleted
	expectSeries(t, testutil.Gather(t, reg), "clientreg_client_secret_expires_timestamp_seconds", map[string]float64{})
}

func TestInstrumentRegistrar(t *testing.T) {
	m, reg := newMetrics(t)
	unauthorized := &dcr.Error{Op: "read", Kind: dcr.KindUnauthorized, StatusCode: 401}
	f := &dcr.Fake{
		DiscoverFunc: func(context.Context, string) (*dcr.ServerMetadata, error) {
			return &dcr.ServerMetadata{Issuer: "https://x"}, nil
		},
		RegisterFunc: func(context.Context, string, dcr.RegisterRequest) (*dcr.Registration, error) {
			return &dcr.Registration{ClientID: "c"}, nil
		},
		ReadFunc: func(context.Context, string, string) (*dcr.Registration, error) { return nil, unauthorized },
		UpdateFunc: func(context.Context, string, string, dcr.UpdateRequest) (*dcr.Registration, error) {
			return nil, errors.New("plain")
		},
		DeleteFunc: func(context.Context, string, string) error { return nil },
	}
	r := m.InstrumentRegistrar(f)
	ctx := context.Background()
	if md, err := r.Discover(ctx, "https://x"); err != nil || md.Issuer != "https://x" {
		t.Fatalf("Discover = %v, %v", md, err)
	}
	if reg, err := r.Register(ctx, "https://x/reg", dcr.RegisterRequest{}); err != nil || reg.ClientID != "c" {
		t.Fatalf("Register = %v, %v", reg, err)
	}
	if _, err := r.Read(ctx, "https://x/reg/c", "t"); err != unauthorized {
		t.Fatalf("Read error = %v, want the registrar's error unchanged", err)
	}
	if _, err := r.Update(ctx, "https://x/reg/c", "t", dcr.UpdateRequest{ClientID: "c"}); err == nil {
		t.Fatal("Update error lost")
	}
	if err := r.Delete(ctx, "https://x/reg/c", "t"); err != nil {
		t.Fatal(err)
	}
	if c := f.Calls(); c != (dcr.FakeCalls{Discover: 1, Register: 1, Read: 1, Update: 1, Delete: 1}) {
		t.Fatalf("calls = %+v", c)
	}
	// Histograms are keyed by their sample count.
	expectSeries(t, testutil.Gather(t, reg), "clientreg_remote_request_duration_seconds", map[string]float64{
		`clientreg_remote_request_duration_seconds{operation="discover",outcome="success"}`:  1,
		`clientreg_remote_request_duration_seconds{operation="register",outcome="success"}`:  1,
		`clientreg_remote_request_duration_seconds{operation="read",outcome="Unauthorized"}`: 1,
		`clientreg_remote_request_duration_seconds{operation="update",outcome="Error"}`:      1,
		`clientreg_remote_request_duration_seconds{operation="delete",outcome="success"}`:    1,
	})
}

// expectSeries checks that the series of name in got are exactly want.
func expectSeries(t *testing.T, got map[string]float64, name string, want map[string]float64) {
	t.Helper()
	for k, v := range got {
		if !strings.HasPrefix(k, name+"{") {
			continue
		}
		if w, ok := want[k]; !ok || w != v {
			t.Errorf("unexpected %s = %v", k, v)
		}
	}
	for k, w := range want {
		if v, ok := got[k]; !ok || v != w {
			t.Errorf("%s = %v (present %t), want %v", k, v, ok, w)
		}
	}
}

func TestEndpointOperation(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/namespaces/apps/idp/register", "register"},
		{"GET", "/clusters/corp/register/abc", "read"},
		{"PUT", "/clusters/corp/register/abc", "update"},
		{"DELETE", "/clusters/corp/register/abc", "delete"},
		{"GET", "/clusters/corp/.well-known/openid-configuration", "discovery"},
		{"GET", "/.well-known/oauth-authorization-server/clusters/corp", "discovery"},
		{"GET", "/clusters/corp/jwks", "jwks"},
		{"GET", "/clusters/corp/register", "other"},
		{"OPTIONS", "/clusters/corp/register/abc", "other"},
		{"GET", "/", "other"},
	} {
		if got := EndpointOperation(tc.method, tc.path); got != tc.want {
			t.Errorf("EndpointOperation(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestInstrumentEndpointCountsStatus(t *testing.T) {
	m, reg := newMetrics(t)
	h := m.InstrumentEndpoint(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodPost:
			w.WriteHeader(http.StatusCreated)
		case http.MethodGet:
			_, _ = w.Write([]byte("{}")) // implicit 200
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	for _, req := range []*http.Request{
		httptest.NewRequest("POST", "/clusters/corp/register", nil),
		httptest.NewRequest("POST", "/clusters/corp/register", nil),
		httptest.NewRequest("GET", "/clusters/corp/register/h", nil),
		httptest.NewRequest("DELETE", "/clusters/corp/register/h", nil),
	} {
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	expectSeries(t, testutil.Gather(t, reg), "clientreg_endpoint_requests_total", map[string]float64{
		`clientreg_endpoint_requests_total{code="200",operation="read"}`:     1,
		`clientreg_endpoint_requests_total{code="201",operation="register"}`: 2,
		`clientreg_endpoint_requests_total{code="401",operation="delete"}`:   1,
	})
}
