package interop

import (
	"context"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

// A stateless server whose ids node-oidc-provider accepts names it
// (spec.stateless.authorizationServer): the operator discovers the
// provider's metadata from the issuer, as it does a dynamic server's, and
// publishes its authorization and token endpoints in status (the embedded
// endpoint's discovery documents carry them). A provider it cannot trust
// (no caBundle) is reported on AuthorizationServerResolved, not on Ready:
// ids are minted regardless.
func TestStatelessServerDiscoversItsAuthorizationServer(t *testing.T) {
	p := oidcprovider.Start(t, oidcprovider.Options{})
	startManager(t)
	ns := newNamespace(t)
	for _, tc := range []struct {
		name  string
		ca    []byte
		check func(*oauthv1alpha1.AuthorizationServer) error
	}{
		{"trusted", p.CAPEM, func(s *oauthv1alpha1.AuthorizationServer) error {
			c := meta.FindStatusCondition(s.Status.Conditions, oauthv1alpha1.ConditionAuthorizationServerResolved)
			if c == nil || c.Status != metav1.ConditionTrue || s.Status.TokenEndpoint != p.URL+"/token" || s.Status.AuthorizationEndpoint != p.URL+"/auth" {
				return fmt.Errorf("status %+v", s.Status)
			}
			return nil
		}},
		{"untrusted", nil, func(s *oauthv1alpha1.AuthorizationServer) error {
			c := meta.FindStatusCondition(s.Status.Conditions, oauthv1alpha1.ConditionAuthorizationServerResolved)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != oauthv1alpha1.ReasonDiscoveryFailed || s.Status.TokenEndpoint != "" {
				return fmt.Errorf("status %+v", s.Status)
			}
			if !meta.IsStatusConditionTrue(s.Status.Conditions, oauthv1alpha1.ConditionReady) {
				return fmt.Errorf("a failed discovery made the server not Ready: %+v", s.Status.Conditions)
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &oauthv1alpha1.AuthorizationServer{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tc.name},
				Spec: oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{
					Issuer:              p.URL,
					AuthorizationServer: &oauthv1alpha1.StatelessAuthorizationServer{CABundle: tc.ca},
				}},
			}
			create(t, srv)
			eventually(t, 30*time.Second, func() error {
				if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(srv), srv); err != nil {
					return err
				}
				return tc.check(srv)
			})
		})
	}
}
