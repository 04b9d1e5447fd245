package health

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/testutil"
)

// TestMetricsScrapedFromManager scrapes the manager's metrics endpoint and
// finds the operator's own series with the values the objects imply: one
// registration per client created, the expiry gauge equal to
// status.clientSecretExpiresAt (and gone with the object), a failure counted
// by reason, and every RFC 7591/7592 call timed by operation and outcome.
// Counters are process-wide, so they are compared with a scrape taken before.
func TestMetricsScrapedFromManager(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	idp := newFakeIDP(t)
	mgr := startManager(t)
	before := testutil.Scrape(t, mgr.metricsURL)

	mustCreate(t, statelessServer(ns, "idp"))
	mustCreate(t, &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "remote"},
		Spec: oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: &oauthv1alpha1.DynamicRegistration{
			IssuerURL: oauthv1alpha1.HTTPSURL(idp.srv.URL), CABundle: idp.caPEM,
		}},
	})
	mustCreate(t, oauthClient(ns, "minted", "idp"))
	mustCreate(t, oauthClient(ns, "registered", "remote"))
	rejected := oauthClient(ns, "rejected", "remote")
	rejected.Spec.ClientName = "reject me"
	mustCreate(t, rejected)

	minted := waitReady(t, ns, "minted")
	registered := waitReady(t, ns, "registered")
	eventually(t, func() error {
		c := &oauthv1alpha1.OAuthClient{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "rejected"}, c); err != nil {
			return err
		}
		if r := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady); r == nil || r.Reason != oauthv1alpha1.ReasonRegistrationRejected {
			return fmt.Errorf("rejected client: %v", c.Status.Conditions)
		}
		return nil
	})
	for _, c := range []*oauthv1alpha1.OAuthClient{minted, registered} {
		if c.Status.ClientSecretExpiresAt == nil {
			t.Fatalf("%s has no status.clientSecretExpiresAt", c.Name)
		}
	}

	var after map[string]float64
	eventually(t, func() error {
		after = testutil.Scrape(t, mgr.metricsURL)
		// The failure is counted right after the status write the test waited for.
		if delta(before, after, `clientreg_registration_failures_total{backend="dynamicRegistration",reason="RegistrationRejected"}`) < 1 {
			return fmt.Errorf("no RegistrationRejected failure counted yet")
		}
		return nil
	})
	for series, want := range map[string]float64{
		`clientreg_registrations_total{action="create",backend="stateless",server_kind="AuthorizationServer"}`:           1,
		`clientreg_registrations_total{action="create",backend="dynamicRegistration",server_kind="AuthorizationServer"}`: 1,
		`clientreg_remote_request_duration_seconds{operation="register",outcome="success"}`:                              1,
		`clientreg_remote_request_duration_seconds{operation="register",outcome="InvalidMetadata"}`:                      float64(idp.rejectedCount()),
	} {
		if got := delta(before, after, series); got != want {
			t.Errorf("%s rose by %v, want %v", series, got, want)
		}
	}
	if got := delta(before, after, `clientreg_remote_request_duration_seconds{operation="discover",outcome="success"}`); got < 1 {
		t.Errorf("no discovery timed (%v)", got)
	}
	if got, want := delta(before, after, `clientreg_registration_failures_total{backend="dynamicRegistration",reason="RegistrationRejected"}`), float64(idp.rejectedCount()); got > want {
		t.Errorf("%v RegistrationRejected failures counted for %v rejected requests", got, want)
	}
	for _, c := range []*oauthv1alpha1.OAuthClient{minted, registered} {
		series := fmt.Sprintf(`clientreg_client_secret_expires_timestamp_seconds{name=%q,namespace=%q}`, c.Name, ns)
		if got, want := after[series], float64(c.Status.ClientSecretExpiresAt.Unix()); got != want {
			t.Errorf("%s = %v, want status.clientSecretExpiresAt %v", series, got, want)
		}
	}
	for k := range after {
		if strings.Contains(k, minted.Status.ClientID) || strings.Contains(k, registered.Status.ClientID) {
			t.Errorf("a client id is a label value: %s", k)
		}
	}

	// The expiry series goes with its object.
	if err := k8s.Delete(ctx, minted); err != nil {
		t.Fatal(err)
	}
	gone := fmt.Sprintf(`clientreg_client_secret_expires_timestamp_seconds{name="minted",namespace=%q}`, ns)
	eventually(t, func() error {
		if _, ok := testutil.Scrape(t, mgr.metricsURL)[gone]; ok {
			return fmt.Errorf("%s still exported", gone)
		}
		return nil
	})
}

func waitReady(t *testing.T, ns, name string) *oauthv1alpha1.OAuthClient {
	t.Helper()
	c := &oauthv1alpha1.OAuthClient{}
	eventually(t, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(c.Status.Conditions, oauthv1alpha1.ConditionReady) {
			return fmt.Errorf("%s not Ready: %v", name, c.Status.Conditions)
		}
		return nil
	})
	return c
}

func delta(before, after map[string]float64, series string) float64 {
	return after[series] - before[series]
}

// fakeIDP is a minimal RFC 7591/7592 server over TLS: discovery, register
// (refusing a client named "reject me" with invalid_client_metadata), read,
// update and delete, echoing the metadata it was given.
type fakeIDP struct {
	srv      *httptest.Server
	caPEM    []byte
	mu       sync.Mutex
	clients  map[string]map[string]any
	rejected int
}

func newFakeIDP(t *testing.T) *fakeIDP {
	t.Helper()
	f := &fakeIDP{clients: map[string]map[string]any{}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	return f
}

func (f *fakeIDP) rejectedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rejected
}

func (f *fakeIDP) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	write := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	switch {
	case r.URL.Path == "/.well-known/openid-configuration":
		write(http.StatusOK, map[string]any{"issuer": f.srv.URL, "registration_endpoint": f.srv.URL + "/register", "token_endpoint": f.srv.URL + "/token"})
	case r.URL.Path == "/register" && r.Method == http.MethodPost:
		md := map[string]any{}
		if err := json.NewDecoder(r.Body).Decode(&md); err != nil {
			write(http.StatusBadRequest, map[string]any{"error": "invalid_client_metadata"})
			return
		}
		if md["client_name"] == "reject me" {
			f.rejected++
			write(http.StatusBadRequest, map[string]any{"error": "invalid_client_metadata", "error_description": "refused by the test"})
			return
		}
		id := fmt.Sprintf("client-%d", len(f.clients)+1)
		md["client_id"] = id
		md["client_secret"] = "secret-" + id
		md["registration_access_token"] = "token-" + id
		md["registration_client_uri"] = f.srv.URL + "/register/" + id
		md["client_id_issued_at"] = time.Now().Unix()
		md["client_secret_expires_at"] = time.Now().Add(30 * 24 * time.Hour).Unix()
		f.clients[id] = md
		write(http.StatusCreated, md)
	case strings.HasPrefix(r.URL.Path, "/register/"):
		id := strings.TrimPrefix(r.URL.Path, "/register/")
		md, ok := f.clients[id]
		if !ok || r.Header.Get("Authorization") != "Bearer token-"+id {
			write(http.StatusUnauthorized, map[string]any{"error": "invalid_token"})
			return
		}
		switch r.Method {
		case http.MethodGet:
			write(http.StatusOK, md)
		case http.MethodPut:
			upd := map[string]any{}
			if err := json.NewDecoder(r.Body).Decode(&upd); err != nil {
				write(http.StatusBadRequest, map[string]any{"error": "invalid_client_metadata"})
				return
			}
			for _, k := range []string{"client_secret", "registration_access_token", "registration_client_uri", "client_id_issued_at", "client_secret_expires_at"} {
				upd[k] = md[k]
			}
			f.clients[id] = upd
			write(http.StatusOK, upd)
		case http.MethodDelete:
			delete(f.clients, id)
			w.WriteHeader(http.StatusNoContent)
		}
	case r.URL.Path == "/register":
		// The operator probes the registration endpoint with a GET.
		w.WriteHeader(http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}
