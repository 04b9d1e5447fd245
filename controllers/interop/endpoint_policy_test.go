package interop

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// REG-37 through the operator: spec.registrationEndpoint.policy.rateLimit
// reaches the endpoint; over it a registration is 429 with Retry-After and
// a JSON error, and nothing is stored. (The refill is tested with an
// injected clock in registrar/endpoint.)
func TestEndpointRateLimit(t *testing.T) {
	e := startEndpoint(t)
	ns := newNamespace(t)
	srv := endpointServer(ns, "idp", func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.RegistrationEndpoint.Policy = &oauthv1alpha1.RegistrationPolicy{
			RateLimit: &oauthv1alpha1.RegistrationRateLimit{RegistrationsPerMinute: 1, Burst: 2},
		}
	})
	create(t, srv)
	issuer := waitEndpointIssuer(t, srv)
	body := map[string]any{"redirect_uris": []string{"https://app.example/cb"}}
	for i := range 2 {
		if st, got := e.call(t, http.MethodPost, issuer+"/register", "", body); st != http.StatusCreated {
			t.Fatalf("registration %d: %d %v", i, st, got)
		}
	}
	raw, _ := http.NewRequest(http.MethodPost, issuer+"/register", strings.NewReader(`{"redirect_uris":["https://app.example/cb"]}`))
	raw.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(raw)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
	if resp.StatusCode != http.StatusTooManyRequests || ra < 1 || ra > 60 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("third registration: %d, Retry-After %q, Content-Type %q", resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"))
	}
	if st, got := e.call(t, http.MethodPost, issuer+"/register", "", body); st != http.StatusTooManyRequests || got["error"] != "temporarily_unavailable" {
		t.Fatalf("fourth registration: %d %v", st, got)
	}
	list := &oauthv1alpha1.OAuthClientList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil || len(list.Items) != 2 {
		t.Fatalf("%d OAuthClients stored, want 2 (%v)", len(list.Items), err)
	}

	// The schema bounds the rate.
	bad := endpointServer(ns, "bad", func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.RegistrationEndpoint.Policy = &oauthv1alpha1.RegistrationPolicy{RateLimit: &oauthv1alpha1.RegistrationRateLimit{RegistrationsPerMinute: 0}}
	})
	if err := k8s.Create(context.Background(), bad); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "registrationsPerMinute") {
		t.Fatalf("rateLimit.registrationsPerMinute 0: %v, want Invalid", err)
	}
}

// SEC-08 through the operator: register V+{"software_id":"S",
// "software_version":"1"} twice with a single-instance policy for S; the
// second gives 400 ICM and no second OAuthClient. A Stateless endpoint
// cannot keep the policy: the API server refuses the combination.
func TestEndpointSingleInstanceSoftware(t *testing.T) {
	e := startEndpoint(t)
	ns := newNamespace(t)
	srv := endpointServer(ns, "idp", func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.RegistrationEndpoint.Policy = &oauthv1alpha1.RegistrationPolicy{SingleInstanceSoftwareIDs: []string{"S"}}
	})
	create(t, srv)
	issuer := waitEndpointIssuer(t, srv)
	body := map[string]any{"redirect_uris": []string{"https://client.example.org/cb"}, "software_id": "S", "software_version": "1"}
	st, first := e.call(t, http.MethodPost, issuer+"/register", "", body)
	if st != http.StatusCreated {
		t.Fatalf("first: %d %v", st, first)
	}
	if st, got := e.call(t, http.MethodPost, issuer+"/register", "", body); st != http.StatusBadRequest || got["error"] != "invalid_client_metadata" {
		t.Fatalf("second: %d %v, want 400 invalid_client_metadata", st, got)
	}
	list := &oauthv1alpha1.OAuthClientList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil || len(list.Items) != 1 {
		t.Fatalf("%d OAuthClients stored, want 1 (%v)", len(list.Items), err)
	}
	body["software_version"] = "2"
	if st, got := e.call(t, http.MethodPost, issuer+"/register", "", body); st != http.StatusCreated {
		t.Fatalf("another version: %d %v", st, got)
	}
	// Deleted over HTTP: the software may register again.
	if st, _ := e.call(t, http.MethodDelete, first["registration_client_uri"].(string), first["registration_access_token"].(string), nil); st != http.StatusNoContent {
		t.Fatalf("delete: %d", st)
	}
	body["software_version"] = "1"
	if st, got := e.call(t, http.MethodPost, issuer+"/register", "", body); st != http.StatusCreated {
		t.Fatalf("after the delete: %d %v", st, got)
	}

	sl := endpointServer(ns, "sl", func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.RegistrationEndpoint.Storage = oauthv1alpha1.StorageStateless
		s.Spec.RegistrationEndpoint.Policy = &oauthv1alpha1.RegistrationPolicy{SingleInstanceSoftwareIDs: []string{"S"}}
	})
	if err := k8s.Create(context.Background(), sl); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "singleInstanceSoftwareIDs needs Stateful storage") {
		t.Fatalf("Stateless storage with singleInstanceSoftwareIDs: %v, want Invalid", err)
	}
}
