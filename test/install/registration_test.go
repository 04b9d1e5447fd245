package install

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/testcerts"
	"github.com/clientreg/clientreg/internal/httprec"
	"github.com/clientreg/clientreg/internal/testtls"
)

// TestRegistrationEndpointUnderChartIdentity installs the chart with the
// registration endpoint enabled and runs the manager as the chart's
// ServiceAccount: the endpoint serves TLS with the certificate from the
// Secret named in the values, and a client registered over RFC 7591 (with an
// initial access token from the user's Secret) becomes an OAuthClient and a
// Secret, is read back over RFC 7592 and deleted again. The endpoint's writes (OAuthClients
// it creates and deletes) need the ClusterRole to allow them.
func TestRegistrationEndpointUnderChartIdentity(t *testing.T) {
	addr := freeAddr(t)
	base := "https://" + addr
	// Debug logging, so that an endpoint error (logged at V(1)) that is a
	// refusal by the API server fails the test by its "forbidden".
	env, objs, _ := installChart(t, "registration: {enabled: true, baseURL: "+base+", tls: {secretName: clientreg-registration-tls}}\nlogging: {level: debug}")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The endpoint's certificate, in the Secret the chart points the manager
	// at (read through the API, as the chart's ServiceAccount).
	caPEM, certPEM, keyPEM, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	if err := env.c.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "clientreg-system", Name: "clientreg-registration-tls"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: certPEM, corev1.TLSPrivateKeyKey: keyPEM},
	}); err != nil {
		t.Fatal(err)
	}
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: testtls.Trusting(caPEM)}}
	replicas := runReplicas(ctx, t, env, objs, 1)
	removeWebhookConfigurations(t, env, objs)

	ns := "apps"
	token := "an-initial-access-token-of-at-least-32-bytes"
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		// The user's Secret: read by the manager, never written.
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "team-iats"}, Data: map[string][]byte{"t1": []byte(token)}},
		&oauthv1alpha1.AuthorizationServer{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "reg"},
			Spec: oauthv1alpha1.AuthorizationServerSpec{
				Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://idp.example.com"},
				RegistrationEndpoint: &oauthv1alpha1.RegistrationEndpoint{
					InitialAccessTokens: &oauthv1alpha1.SecretReference{Name: "team-iats"},
					Storage:             oauthv1alpha1.RegistrationStorage("Stateful"),
				},
			},
		},
	} {
		if err := env.c.Create(ctx, o); err != nil {
			t.Fatalf("creating %T: %v", o, err)
		}
	}
	server := &oauthv1alpha1.AuthorizationServer{}
	eventually(t, 60*time.Second, func() error {
		if err := env.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: "reg"}, server); err != nil {
			return err
		}
		for _, c := range server.Status.Conditions {
			if c.Type == "Ready" && c.Status == metav1.ConditionTrue {
				return nil
			}
		}
		return fmt.Errorf("server not Ready: %v", server.Status.Conditions)
	})

	issuer := base + "/namespaces/" + ns + "/reg"
	var reg map[string]any
	eventually(t, 30*time.Second, func() error {
		a, err := httprec.Call(ctx, httpClient, http.MethodPost, issuer+"/register", token,
			map[string]any{"client_name": "Registered", "redirect_uris": []string{"https://app.example.com/cb"}})
		if err != nil {
			return err
		}
		if a.Status != http.StatusCreated {
			return fmt.Errorf("register: %d %s", a.Status, a.Body)
		}
		return json.Unmarshal(a.Body, &reg)
	})
	uri, _ := reg["registration_client_uri"].(string)
	rat, _ := reg["registration_access_token"].(string)
	if uri == "" || rat == "" || reg["client_id"] == nil {
		t.Fatalf("registration response without client_id, registration_client_uri or token: %v", keysOf(reg))
	}
	list := &oauthv1alpha1.OAuthClientList{}
	if err := env.c.List(ctx, list, client.InNamespace(ns)); err != nil || len(list.Items) != 1 {
		t.Fatalf("OAuthClients after registration: %d, %v", len(list.Items), err)
	}
	oc := list.Items[0]
	eventually(t, 60*time.Second, func() error {
		if err := env.c.Get(ctx, client.ObjectKeyFromObject(&oc), &oc); err != nil {
			return err
		}
		s := &corev1.Secret{}
		if err := env.c.Get(ctx, client.ObjectKey{Namespace: ns, Name: oc.Spec.SecretName}, s); err != nil {
			return err
		}
		if s.Labels[oauthv1alpha1.LabelManagedBy] != oauthv1alpha1.ManagedByValue {
			return fmt.Errorf("Secret labels %v", s.Labels)
		}
		return nil
	})
	if a, err := httprec.Call(ctx, httpClient, http.MethodGet, uri, rat, nil); err != nil || a.Status != http.StatusOK {
		t.Fatalf("RFC 7592 read: %d %s %v", a.Status, a.Body, err)
	}
	if a, err := httprec.Call(ctx, httpClient, http.MethodDelete, uri, rat, nil); err != nil || a.Status != http.StatusNoContent {
		t.Fatalf("RFC 7592 delete: %d %s %v", a.Status, a.Body, err)
	}
	eventually(t, 60*time.Second, func() error {
		err := env.c.Get(ctx, client.ObjectKeyFromObject(&oc), &oauthv1alpha1.OAuthClient{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("OAuthClient still there: %v", err)
	})
	stopReplicas(t, replicas)
}

func keysOf(m map[string]any) []string {
	var k []string
	for key := range m {
		k = append(k, key)
	}
	return k
}
