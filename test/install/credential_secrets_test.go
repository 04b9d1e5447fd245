package install

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// TestSecretWritePolicyRefusesCredentialTypes installs the chart, in both
// Secret modes, and checks under the chart's ServiceAccount (impersonation)
// that the manager cannot write a Secret that makes Kubernetes mint or honour
// credentials of another identity, even with the managed-by label that the
// Secret-write policy otherwise accepts:
//
//   - a kubernetes.io/service-account-token Secret naming another
//     ServiceAccount: the token controller would fill it with that
//     ServiceAccount's token, which the manager can read;
//   - a bootstrap.kubernetes.io/token Secret in kube-system: the API server
//     authenticates its token as a node-bootstrapping identity;
//   - any other type (the manager writes only Opaque Secrets).
//
// Creates are server dry runs, so the policy decides and nothing is stored.
// Updates are tried on typed Secrets an administrator created: adopting one
// that holds a registration, and changing one that carries the label. The
// positive control in each namespace is the same create with type Opaque.
func TestSecretWritePolicyRefusesCredentialTypes(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		// writable are namespaces where RBAC lets the manager write
		// Secrets, so a refusal there is the policy's.
		writable []string
		// outside are namespaces where RBAC alone refuses.
		outside []string
	}{
		{name: "cluster-wide Secrets", writable: []string{"kube-system", "apps", "clientreg-system"}},
		{name: "namespaced Secrets", values: secretNamespacesValues, writable: []string{"apps", "clientreg-system"}, outside: []string{"kube-system"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, objs, sa := installChart(t, tc.values)
			ctx := context.Background()
			// No manager serves the webhooks here (the API server cannot
			// reach a Service in envtest anyway): the OAuthClient this test
			// creates must not wait for them.
			for _, o := range objs {
				if strings.HasSuffix(o.GetKind(), "WebhookConfiguration") {
					if err := env.c.Delete(ctx, o.DeepCopy()); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := env.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}); err != nil && !apierrors.IsAlreadyExists(err) {
				t.Fatal(err)
			}
			for _, ns := range tc.writable {
				checkCredentialSecretsRefused(ctx, t, env, sa, ns, true)
			}
			for _, ns := range tc.outside {
				checkCredentialSecretsRefused(ctx, t, env, sa, ns, false)
			}
		})
	}
}

// credentialSecrets are Secrets, labelled as the manager's, whose type makes
// Kubernetes mint or accept another identity's credentials, plus other typed
// Secrets the manager never writes.
func credentialSecrets(ns string) []*corev1.Secret {
	labels := map[string]string{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue}
	owned := []metav1.OwnerReference{{APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient", Name: "x", UID: "0000", Controller: ptrTrue()}}
	list := []*corev1.Secret{
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "takeover-token", Labels: labels,
				Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
			Type: corev1.SecretTypeServiceAccountToken,
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bootstrap-token-abcdef", Labels: labels},
			Type:       corev1.SecretTypeBootstrapToken,
			StringData: map[string]string{
				"token-id": "abcdef", "token-secret": "0123456789abcdef",
				"usage-bootstrap-authentication": "true", "auth-extra-groups": "system:masters",
			},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "typed-tls", Labels: labels},
			Type:       corev1.SecretTypeTLS,
			Data:       map[string][]byte{corev1.TLSCertKey: []byte("x"), corev1.TLSPrivateKeyKey: []byte("y")},
		},
		{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "typed-custom", Labels: labels},
			Type:       "example.com/anything",
		},
	}
	// As the manager writes them: controlled by a clientreg object, so the
	// only thing wrong with them is the type.
	for _, s := range list {
		s.OwnerReferences = owned
	}
	return list
}

// checkCredentialSecretsRefused checks, in ns, that the manager's identity
// can create none of credentialSecrets, cannot adopt or change such Secrets
// made by someone else, and (when writable) can create the same Secret as
// Opaque.
func checkCredentialSecretsRefused(ctx context.Context, t *testing.T, env *testEnv, sa client.Client, ns string, writable bool) {
	t.Helper()
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s in %s: allowed", what, ns)
		} else if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
			t.Errorf("%s in %s: %v (want a refusal)", what, ns, err)
		}
	}
	for _, s := range credentialSecrets(ns) {
		refused("creating a "+string(s.Type)+" Secret", sa.Create(ctx, s.DeepCopy(), client.DryRunAll))
		if !writable {
			continue
		}
		// The positive control: the same Secret as Opaque passes the
		// policy, so the refusal above is about the type.
		opaque := s.DeepCopy()
		opaque.Type = corev1.SecretTypeOpaque
		opaque.Annotations = nil
		if err := sa.Create(ctx, opaque, client.DryRunAll); err != nil {
			t.Errorf("creating the same Secret as Opaque in %s: %v", ns, err)
		}
	}
	if !writable {
		return
	}

	// Typed Secrets made by an administrator: the manager may neither adopt
	// one that happens to hold a registration (the adoption rule) nor change
	// one that carries its label.
	adoptable := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adoptable-token",
			Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}},
		Type: corev1.SecretTypeServiceAccountToken,
		Data: map[string][]byte{"client_id": []byte("c1"), "registration_access_token": []byte("rat"), "registration_client_uri": []byte("https://idp.example/reg/c1")},
	}
	if err := env.c.Create(ctx, adoptable); err != nil {
		t.Fatal(err)
	}
	owner := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "token-adopter"},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:  oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindAuthorizationServer, Name: "not-there"},
			SecretName: adoptable.Name,
		},
	}
	if err := env.c.Create(ctx, owner); err != nil {
		t.Fatal(err)
	}
	adopt := adoptable.DeepCopy()
	adopt.Labels = map[string]string{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue}
	adopt.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, oauthv1alpha1.GroupVersion.WithKind("OAuthClient"))}
	refused("adopting a service account token Secret", sa.Update(ctx, adopt, client.DryRunAll))

	labelled := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "labelled-bootstrap-token-012345",
			Labels: map[string]string{oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue}},
		Type:       corev1.SecretTypeBootstrapToken,
		StringData: map[string]string{"token-id": "012345", "token-secret": "0123456789abcdef"},
	}
	if err := env.c.Create(ctx, labelled); err != nil {
		t.Fatal(err)
	}
	change := labelled.DeepCopy()
	change.StringData = map[string]string{"usage-bootstrap-authentication": "true", "auth-extra-groups": "system:masters"}
	refused("changing a labelled bootstrap token Secret", sa.Update(ctx, change, client.DryRunAll))
}
