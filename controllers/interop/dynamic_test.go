package interop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/internal/testutil"
)

type serverMod func(*oauthv1alpha1.AuthorizationServer)

func dynamicServer(ns, name string, p *oidcprovider.Provider, mods ...serverMod) *oauthv1alpha1.AuthorizationServer {
	s := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: &oauthv1alpha1.DynamicRegistration{
			IssuerURL:      oauthv1alpha1.HTTPSURL(p.URL),
			CABundle:       p.CAPEM,
			ResyncInterval: &metav1.Duration{Duration: time.Minute},
			Timeout:        &metav1.Duration{Duration: 5 * time.Second},
		}},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

type clientMod = func(*oauthv1alpha1.OAuthClient)

// serviceClient is a client_credentials client (no redirect URIs).
func serviceClient(ns, name, server string, mods ...clientMod) *oauthv1alpha1.OAuthClient {
	return testutil.OAuthClient(ns, name, server, oauthv1alpha1.OAuthClientSpec{
		ClientName:              "Service " + name,
		GrantTypes:              []string{"client_credentials"},
		TokenEndpointAuthMethod: "client_secret_basic",
	}, mods...)
}

func waitServerReady(t testing.TB, s *oauthv1alpha1.AuthorizationServer) {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
			return err
		}
		if !meta.IsStatusConditionTrue(s.Status.Conditions, oauthv1alpha1.ConditionReady) {
			return fmt.Errorf("server not Ready: %+v", s.Status.Conditions)
		}
		return nil
	})
}

// creds reads the stored credentials.
func creds(t testing.TB, ns, secret string) (id, sec, rat, rcu string) {
	t.Helper()
	s := getSecret(t, ns, secret)
	return string(s.Data["client_id"]), string(s.Data["client_secret"]), string(s.Data["registration_access_token"]), string(s.Data["registration_client_uri"])
}

// tokenStatus asks the provider for a client_credentials token.
func tokenStatus(t testing.TB, p *oidcprovider.Provider, id, secret string) int {
	t.Helper()
	status, _, err := p.ClientCredentialsToken(context.Background(), id, secret)
	if err != nil {
		t.Fatal(err)
	}
	return status
}

// readAtServer reads a registration (RFC 7592 GET) as a third party would.
func readAtServer(t testing.TB, p *oidcprovider.Provider, rcu, rat string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rcu, nil)
	req.Header.Set("Authorization", "Bearer "+rat)
	return doJSON(t, p.HTTPClient(), req)
}

// deleteAndWait deletes c and waits until it is gone.
func deleteAndWait(t testing.TB, c *oauthv1alpha1.OAuthClient) {
	t.Helper()
	if err := k8s.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(c), c); !apierrors.IsNotFound(err) {
			return errors.New("OAuthClient not gone yet")
		}
		return nil
	})
}

func patchClient(t testing.TB, c *oauthv1alpha1.OAuthClient, mutate func(*oauthv1alpha1.OAuthClient)) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(c.DeepCopy())
	mutate(c)
	if err := k8s.Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterObtainTokenUpdateAndDelete(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{RotateRegistrationAccessToken: true})
	m := startManager(t)
	_ = m
	ns := newNamespace(t)
	srv := dynamicServer(ns, "idp", p)
	create(t, srv)
	waitServerReady(t, srv)
	if srv.Status.RegistrationEndpoint != p.URL+"/reg" {
		t.Fatalf("status.registrationEndpoint = %q", srv.Status.RegistrationEndpoint)
	}

	c := serviceClient(ns, "billing", "idp")
	create(t, c)
	c = waitClient(t, ns, "billing", 30*time.Second, ready)
	id, secret, rat, rcu := creds(t, ns, "billing-oauth")
	if id == "" || secret == "" || rat == "" || rcu == "" {
		t.Fatalf("Secret lacks credentials: id=%q rcu=%q secret? %v rat? %v", id, rcu, secret != "", rat != "")
	}
	if c.Status.ClientID != id || c.Status.RegistrationClientURI != rcu {
		t.Fatalf("status does not mirror the Secret: %+v", c.Status)
	}
	if got := tokenStatus(t, p, id, secret); got != http.StatusOK {
		t.Fatalf("token request with the stored credentials: %d", got)
	}
	if got := tokenStatus(t, p, id, secret+"x"); got != http.StatusUnauthorized {
		t.Fatalf("token request with a wrong secret: %d", got)
	}

	// A spec change reaches the server (PUT); the rotated token is stored.
	patchClient(t, c, func(c *oauthv1alpha1.OAuthClient) { c.Spec.ClientName = "Billing v2" })
	eventually(t, 30*time.Second, func() error {
		_, _, newRAT, _ := creds(t, ns, "billing-oauth")
		if newRAT == rat {
			return errors.New("registration access token not rotated yet")
		}
		status, reg := readAtServer(t, p, rcu, newRAT)
		if status != http.StatusOK || reg["client_name"] != "Billing v2" {
			return fmt.Errorf("server has %d %v", status, reg["client_name"])
		}
		return nil
	})
	waitClient(t, ns, "billing", 30*time.Second, ready)
	if _, sec2, _, _ := creds(t, ns, "billing-oauth"); sec2 != secret {
		t.Fatal("an update changed the client secret")
	}
	if status, _ := readAtServer(t, p, rcu, rat); status != http.StatusUnauthorized {
		t.Fatalf("the old registration access token still works: %d", status)
	}

	// Deletion removes the client at the server.
	_, _, rat, _ = creds(t, ns, "billing-oauth")
	deleteAndWait(t, c)
	if status, _ := readAtServer(t, p, rcu, rat); status != http.StatusUnauthorized {
		t.Fatalf("the server still knows the deleted client: %d", status)
	}
	if got := tokenStatus(t, p, id, secret); got != http.StatusUnauthorized {
		t.Fatalf("the deleted client still gets tokens: %d", got)
	}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "billing-oauth"}, &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Fatal("the Secret of the deleted client remains")
	}
}

func TestInitialAccessToken(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{InitialAccessToken: "iat-correct-horse-battery-staple"})
	startManager(t)
	ns := newNamespace(t)
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "iat"}, Data: map[string][]byte{"token": []byte("iat-correct-horse-battery-staple")}})
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bad-iat"}, Data: map[string][]byte{"token": []byte("wrong")}})
	good := dynamicServer(ns, "idp", p, func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.DynamicRegistration.InitialAccessToken = &oauthv1alpha1.SecretKeySelector{Name: "iat", Key: "token"}
	})
	bad := dynamicServer(ns, "idp-bad", p, func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.DynamicRegistration.InitialAccessToken = &oauthv1alpha1.SecretKeySelector{Name: "bad-iat", Key: "token"}
	})
	create(t, good)
	create(t, bad)
	create(t, serviceClient(ns, "ok", "idp"))
	create(t, serviceClient(ns, "refused", "idp-bad"))
	waitClient(t, ns, "ok", 30*time.Second, ready)
	id, secret, _, _ := creds(t, ns, "ok-oauth")
	if got := tokenStatus(t, p, id, secret); got != http.StatusOK {
		t.Fatalf("token: %d", got)
	}
	c := waitClient(t, ns, "refused", 30*time.Second, readyFalse(oauthv1alpha1.ReasonUnauthorized))
	if c.Status.PendingRegistration != nil {
		t.Fatal("a refused registration left an in-flight mark")
	}
	if len(p.Clients(t)) != 1 {
		t.Fatalf("server has %d clients, want 1", len(p.Clients(t)))
	}
}

func TestOrphanKeepsTheClientAtTheServer(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	startManager(t)
	ns := newNamespace(t)
	create(t, dynamicServer(ns, "idp", p))
	c := serviceClient(ns, "kept", "idp", func(c *oauthv1alpha1.OAuthClient) { c.Spec.DeletionPolicy = oauthv1alpha1.DeletionPolicyOrphan })
	create(t, c)
	waitClient(t, ns, "kept", 30*time.Second, ready)
	id, secret, _, _ := creds(t, ns, "kept-oauth")
	deleteAndWait(t, c)
	if got := tokenStatus(t, p, id, secret); got != http.StatusOK {
		t.Fatalf("orphaned client no longer works at the server: %d", got)
	}
	s := getSecret(t, ns, "kept-oauth")
	if len(s.OwnerReferences) != 0 || string(s.Data["client_id"]) != id {
		t.Fatal("orphaned Secret not kept intact")
	}
}

func TestRotationRegistersNewClientAndRetiresOldAfterOverlap(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	m := startManager(t)
	ns := newNamespace(t)
	create(t, dynamicServer(ns, "idp", p))
	c := serviceClient(ns, "app", "idp", func(c *oauthv1alpha1.OAuthClient) {
		c.Spec.Rotation = &oauthv1alpha1.Rotation{Overlap: &metav1.Duration{Duration: 10 * time.Minute}}
	})
	create(t, c)
	waitClient(t, ns, "app", 30*time.Second, ready)
	oldID, oldSecret, _, _ := creds(t, ns, "app-oauth")

	patchClient(t, c, func(c *oauthv1alpha1.OAuthClient) {
		c.Annotations = map[string]string{oauthv1alpha1.AnnotationRotate: "2026-11-22"}
	})
	c = waitClient(t, ns, "app", 30*time.Second, func(c *oauthv1alpha1.OAuthClient) error {
		if c.Status.ObservedRotationRequest != "2026-11-22" {
			return errors.New("rotation not done yet")
		}
		return ready(c)
	})
	newID, newSecret, _, _ := creds(t, ns, "app-oauth")
	if newID == oldID || c.Status.RetiringClientID != oldID || c.Status.RetireAt == nil {
		t.Fatalf("rotation: new %q old %q status %+v", newID, oldID, c.Status)
	}
	s := getSecret(t, ns, "app-oauth")
	if string(s.Data["previous_client_id"]) != oldID || string(s.Data["previous_client_secret"]) != oldSecret {
		t.Fatal("the previous credentials are not kept for the overlap")
	}
	// During the overlap both clients work.
	if tokenStatus(t, p, oldID, oldSecret) != http.StatusOK || tokenStatus(t, p, newID, newSecret) != http.StatusOK {
		t.Fatal("both clients must work during the overlap")
	}
	// After the overlap the old client is deleted at the server.
	m.clock.Step(11 * time.Minute)
	patchClient(t, c, func(c *oauthv1alpha1.OAuthClient) { c.Annotations["test.clientreg.dev/poke"] = "1" })
	waitClient(t, ns, "app", 30*time.Second, func(c *oauthv1alpha1.OAuthClient) error {
		if c.Status.RetiringClientID != "" {
			return errors.New("old client not retired yet")
		}
		return ready(c)
	})
	if got := tokenStatus(t, p, oldID, oldSecret); got != http.StatusUnauthorized {
		t.Fatalf("the retired client still works: %d", got)
	}
	if got := tokenStatus(t, p, newID, newSecret); got != http.StatusOK {
		t.Fatalf("the new client does not work: %d", got)
	}
	if _, ok := getSecret(t, ns, "app-oauth").Data["previous_client_id"]; ok {
		t.Fatal("previous credentials left in the Secret after retirement")
	}
	if n := len(p.Clients(t)); n != 1 {
		t.Fatalf("server has %d clients after the overlap, want 1", n)
	}
}

func TestServerLosesStateDriftPolicy(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	m := startManager(t)
	ns := newNamespace(t)
	create(t, dynamicServer(ns, "stop", p))
	create(t, dynamicServer(ns, "rereg", p, func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.DynamicRegistration.OnUnauthorized = oauthv1alpha1.UnauthorizedReregister
	}))
	create(t, serviceClient(ns, "a", "stop"))
	create(t, serviceClient(ns, "b", "rereg"))
	waitClient(t, ns, "a", 30*time.Second, ready)
	waitClient(t, ns, "b", 30*time.Second, ready)
	aID, aSecret, _, _ := creds(t, ns, "a-oauth")
	bID, _, _, _ := creds(t, ns, "b-oauth")

	p.Restart(t) // all clients lost
	m.clock.Step(2 * time.Minute)
	for _, n := range []string{"a", "b"} {
		c := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n}}
		patchClient(t, c, func(c *oauthv1alpha1.OAuthClient) {
			c.Annotations = map[string]string{"test.clientreg.dev/poke": "1"}
		})
	}
	// Stop: the credentials are kept and the condition says why.
	waitClient(t, ns, "a", 30*time.Second, readyFalse(oauthv1alpha1.ReasonUnauthorized))
	if id, sec, _, _ := creds(t, ns, "a-oauth"); id != aID || sec != aSecret {
		t.Fatal("Stop policy changed the stored credentials")
	}
	// Reregister: a new client, working.
	waitClient(t, ns, "b", 30*time.Second, func(c *oauthv1alpha1.OAuthClient) error {
		if c.Status.ClientID == bID {
			return errors.New("not re-registered yet")
		}
		return ready(c)
	})
	id, secret, _, _ := creds(t, ns, "b-oauth")
	if got := tokenStatus(t, p, id, secret); got != http.StatusOK {
		t.Fatalf("re-registered client: token %d", got)
	}
}

func TestAdoptionKeepsClientIDAndSecret(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	startManager(t)
	ns := newNamespace(t)
	create(t, dynamicServer(ns, "idp", p))
	// A registration made outside the operator.
	body := `{"client_name":"Legacy","grant_types":["client_credentials"],"response_types":[],"token_endpoint_auth_method":"client_secret_basic"}`
	resp, err := p.HTTPClient().Post(p.URL+"/reg", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var reg map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("raw registration: %d", resp.StatusCode)
	}
	str := func(k string) []byte { v, _ := reg[k].(string); return []byte(v) }
	create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "legacy"}, Data: map[string][]byte{
		"client_id": str("client_id"), "client_secret": str("client_secret"),
		"registration_access_token": str("registration_access_token"), "registration_client_uri": str("registration_client_uri"),
	}})
	before := p.Stats(t)
	create(t, serviceClient(ns, "legacy", "idp", func(c *oauthv1alpha1.OAuthClient) {
		c.Spec.ClientName = "Legacy"
		c.Spec.SecretName = "legacy"
		c.Spec.AdoptFrom = &oauthv1alpha1.AdoptFrom{SecretName: "legacy"}
	}))
	c := waitClient(t, ns, "legacy", 30*time.Second, ready)
	s := getSecret(t, ns, "legacy")
	if string(s.Data["client_id"]) != string(str("client_id")) || string(s.Data["client_secret"]) != string(str("client_secret")) {
		t.Fatal("adoption changed the client id or secret")
	}
	if !metav1.IsControlledBy(s, c) {
		t.Fatal("the adopted Secret is not controlled by the OAuthClient")
	}
	after := p.Stats(t)
	if after.Register != before.Register || after.Update != before.Update {
		t.Fatalf("adoption registered or updated: before %+v after %+v", before, after)
	}
	if got := tokenStatus(t, p, string(s.Data["client_id"]), string(s.Data["client_secret"])); got != http.StatusOK {
		t.Fatalf("adopted client: token %d", got)
	}
}
