package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// Fixture builders with modifier functions (cert-manager's test/unit/gen style).

type serverMod func(*oauthv1alpha1.AuthorizationServer)

func statelessServer(ns, name string, mods ...serverMod) *oauthv1alpha1.AuthorizationServer {
	s := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{
			Issuer: "https://" + name + "." + ns + ".example",
		}},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func withAlg(alg oauthv1alpha1.SigningAlgorithm) serverMod {
	return func(s *oauthv1alpha1.AuthorizationServer) { s.Spec.Stateless.SigningAlgorithm = alg }
}

func withEncryption(mode oauthv1alpha1.EncryptionMode) serverMod {
	return func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.Stateless.Encryption = &oauthv1alpha1.StatelessEncryption{Mode: mode}
	}
}

func withLifetimes(idLifetime, keyRotation time.Duration) serverMod {
	return func(s *oauthv1alpha1.AuthorizationServer) {
		s.Spec.Stateless.ClientIDLifetime = &metav1.Duration{Duration: idLifetime}
		s.Spec.Stateless.KeyRotationInterval = &metav1.Duration{Duration: keyRotation}
	}
}

type clientMod func(*oauthv1alpha1.OAuthClient)

func oauthClient(ns, name, server string, mods ...clientMod) *oauthv1alpha1.OAuthClient {
	c := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:    oauthv1alpha1.ServerReference{Name: server},
			SecretName:   name + "-oauth",
			ClientName:   "Client " + name,
			RedirectURIs: []oauthv1alpha1.RedirectURI{oauthv1alpha1.RedirectURI("https://" + name + ".example.org/callback")},
			GrantTypes:   []string{"authorization_code", "refresh_token"},
			Contacts:     []string{"ops@example.org"},
		},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

func withSecretName(n string) clientMod {
	return func(c *oauthv1alpha1.OAuthClient) { c.Spec.SecretName = n }
}

func withDeletionPolicy(p oauthv1alpha1.DeletionPolicy) clientMod {
	return func(c *oauthv1alpha1.OAuthClient) { c.Spec.DeletionPolicy = p }
}

func withRedirectURIs(uris ...oauthv1alpha1.RedirectURI) clientMod {
	return func(c *oauthv1alpha1.OAuthClient) { c.Spec.RedirectURIs = uris }
}

func withClusterServer() clientMod {
	return func(c *oauthv1alpha1.OAuthClient) {
		c.Spec.ServerRef.Kind = oauthv1alpha1.KindClusterAuthorizationServer
	}
}

func create(t testing.TB, obj client.Object) {
	t.Helper()
	if err := k8s.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// waitClient waits until the Ready condition of ns/name passes check and
// returns the object.
func waitClient(t testing.TB, ns, name string, check func(c *oauthv1alpha1.OAuthClient, ready *metav1.Condition) error) *oauthv1alpha1.OAuthClient {
	t.Helper()
	c := &oauthv1alpha1.OAuthClient{}
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, c); err != nil {
			return err
		}
		return check(c, meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady))
	})
	return c
}

// waitClientReady waits for Ready=True at the current generation and
// returns the object.
func waitClientReady(t testing.TB, ns, name string) *oauthv1alpha1.OAuthClient {
	t.Helper()
	return waitClient(t, ns, name, func(c *oauthv1alpha1.OAuthClient, cond *metav1.Condition) error {
		if cond == nil || cond.Status != metav1.ConditionTrue || c.Status.ObservedGeneration != c.Generation {
			return fmt.Errorf("not ready: %+v", cond)
		}
		return nil
	})
}

// waitClientReason waits for Ready to carry reason (and status False).
func waitClientReason(t testing.TB, ns, name, reason string) *oauthv1alpha1.OAuthClient {
	t.Helper()
	return waitClient(t, ns, name, func(_ *oauthv1alpha1.OAuthClient, cond *metav1.Condition) error {
		if cond == nil || cond.Reason != reason || cond.Status != metav1.ConditionFalse {
			return fmt.Errorf("want Ready=False %s, have %+v", reason, cond)
		}
		return nil
	})
}

func waitServerReady(t testing.TB, obj client.Object) oauthv1alpha1.ServerObject {
	t.Helper()
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		s := obj.(oauthv1alpha1.ServerObject)
		cond := meta.FindStatusCondition(s.GetStatus().Conditions, oauthv1alpha1.ConditionReady)
		if cond == nil || cond.Status != metav1.ConditionTrue || s.GetStatus().ObservedGeneration != s.GetGeneration() {
			return fmt.Errorf("server not ready: %+v", cond)
		}
		return nil
	})
	return obj.(oauthv1alpha1.ServerObject)
}

func getSecret(t testing.TB, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatalf("reading Secret %s/%s: %v", ns, name, err)
	}
	return s
}

// publicVerifier builds a verifier from nothing but the server's published
// status: its issuer and JWKS. That is what a third-party authorization
// server would do.
func publicVerifier(t testing.TB, s oauthv1alpha1.ServerObject) *sci.Verifier {
	t.Helper()
	var set jose.JSONWebKeySet
	if err := json.Unmarshal([]byte(s.GetStatus().JWKS), &set); err != nil {
		t.Fatalf("status.jwks is not a JWK Set: %v", err)
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			t.Fatalf("status.jwks publishes a private key %q", k.KeyID)
		}
	}
	spec := s.GetSpec().Stateless
	v, err := sci.NewVerifier(sci.VerifierConfig{
		TrustedIssuers: map[string]jose.JSONWebKeySet{spec.Issuer: set},
		Audience:       spec.EffectiveAudience(),
		Clock:          fakeClock,
	})
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// keySet reads the server's private key set from its key Secret.
func keySet(t testing.TB, s oauthv1alpha1.ServerObject) *sci.KeySet {
	t.Helper()
	ref := s.GetStatus().KeySecretRef
	if ref == nil {
		t.Fatal("status.keySecretRef is not set")
	}
	sec := getSecret(t, ref.Namespace, ref.Name)
	ks, err := sci.ParseKeySet(sec.Data[statelessbackend.KeySetDataKey])
	if err != nil {
		t.Fatalf("parsing key Secret: %v", err)
	}
	return ks
}
