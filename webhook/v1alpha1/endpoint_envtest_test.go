package v1alpha1

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/internal/testutil"
)

// TestEnvtestEndpointUpdateOfStatelessRegistration runs the reconcilers and
// the embedded registration endpoint next to the webhooks: an RFC 7592 PUT
// that would change a Stateful registration on a stateless server is refused
// with 403 (the id carries the metadata, and RFC 7592 §2.2 forbids a new
// client_id), and nothing changes, neither the object nor the client id; a
// PUT that changes nothing is answered with the same client id; and the
// same change made with kubectl, without a rotation request, is refused by
// the webhook.
func TestEnvtestEndpointUpdateOfStatelessRegistration(t *testing.T) {
	needEnvtest(t)
	ctx, cancel := context.WithCancel(context.Background())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + l.Addr().String()
	mgr, err := ctrl.NewManager(restCfg, ctrl.Options{
		Scheme:  k8s.Scheme(),
		Metrics: metricsserver.Options{BindAddress: "0"},
		Cache:   controllers.CacheOptions(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.Setup(ctx, mgr, controllers.Options{
		ClusterResourceNamespace: "clientreg-system",
		Endpoint:                 &controllers.EndpointOptions{BaseURL: base, Insecure: true, Listener: l},
		MetricsRegisterer:        prometheus.NewRegistry(),
	}); err != nil {
		t.Fatal(err)
	}
	testutil.RunManager(t, ctx, cancel, mgr)

	ns := testutil.NewNamespace(t, k8s)
	srv := nsServer(statelessSpec())
	srv.Namespace = ns
	srv.Spec.RegistrationEndpoint = &oauthv1alpha1.RegistrationEndpoint{Open: true}
	accepted(t, k8s.Create(ctx, srv), "an AuthorizationServer with an open endpoint")
	testutil.Eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(srv), srv); err != nil {
			return err
		}
		if srv.Status.EndpointIssuer == "" || !meta.IsStatusConditionTrue(srv.Status.Conditions, oauthv1alpha1.ConditionReady) {
			return fmt.Errorf("server not ready: %+v", srv.Status.Conditions)
		}
		return nil
	})
	issuer := srv.Status.EndpointIssuer

	st, reg := call(t, http.MethodPost, issuer+"/register", "", map[string]any{"redirect_uris": []string{"https://app.example/cb"}, "client_name": "web"})
	if st != http.StatusCreated {
		t.Fatalf("register: %d %v", st, reg)
	}
	id, rat, rcu := reg["client_id"].(string), reg["registration_access_token"].(string), reg["registration_client_uri"].(string)
	handle := rcu[strings.LastIndex(rcu, "/")+1:]

	// The same metadata again: nothing changes, no rotation.
	st, same := call(t, http.MethodPut, rcu, rat, map[string]any{"client_id": id, "redirect_uris": []string{"https://app.example/cb"}, "client_name": "web"})
	if st != http.StatusOK || same["client_id"] != id {
		t.Fatalf("unchanged PUT: %d, client_id changed: %v", st, same["client_id"] != id)
	}

	// Changed metadata: refused, never a new client id.
	st, upd := call(t, http.MethodPut, rcu, rat, map[string]any{"client_id": id, "redirect_uris": []string{"https://app.example/cb"}, "client_name": "web v2"})
	if st != http.StatusForbidden || upd["client_id"] != nil {
		t.Fatalf("PUT that changes a stateless registration: %d %v, want 403 without a client", st, upd)
	}
	oc := &oauthv1alpha1.OAuthClient{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: handle}, oc); err != nil {
		t.Fatal(err)
	}
	if oc.Annotations[oauthv1alpha1.AnnotationRotate] != "" || oc.Spec.ClientName != "web" || oc.Status.ClientID != id {
		t.Fatalf("the refused PUT changed the registration: rotate=%q name=%q same id=%v",
			oc.Annotations[oauthv1alpha1.AnnotationRotate], oc.Spec.ClientName, oc.Status.ClientID == id)
	}
	st, read := call(t, http.MethodGet, rcu, rat, nil)
	if st != http.StatusOK || read["client_id"] != id || read["client_name"] != "web" {
		t.Fatalf("read after the refused PUT: %d %v", st, read)
	}

	// The same kind of change with kubectl, without a rotation request.
	oc.Spec.ClientName = "edited"
	refusedBy(t, k8s.Update(ctx, oc), "voauthclient-v1alpha1.oauth.clientreg.dev", "spec.clientName")
}

// call sends a JSON request and decodes the JSON answer.
func call(t *testing.T, method, url, token string, body any) (int, map[string]any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}
