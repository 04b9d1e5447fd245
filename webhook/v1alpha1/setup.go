package v1alpha1

import (
	"fmt"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// The names the generated configurations carry (config/webhook/manifests.yaml);
// the certificate rotator injects the CA bundle into these.
// +kubebuilder:webhookconfiguration:mutating=true,name=clientreg-mutating-webhook-configuration
// +kubebuilder:webhookconfiguration:mutating=false,name=clientreg-validating-webhook-configuration

// What self-managed certificates need (cmd flag --webhook-cert-management=self):
// the rotator writes the serving certificate into one Secret and the CA
// bundle into both webhook configurations. It reads them through a cache
// (get, list, watch); the update, limited to these two names, is granted by
// the chart's and config/rbac's webhook-cert ClusterRole, since a marker
// cannot name resources.
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations;mutatingwebhookconfigurations,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;update

// Names of the webhook objects, as generated into config/webhook and used by
// the chart and the certificate rotator.
const (
	// ValidatingWebhookConfigurationName is the ValidatingWebhookConfiguration.
	ValidatingWebhookConfigurationName = "clientreg-validating-webhook-configuration"
	// MutatingWebhookConfigurationName is the MutatingWebhookConfiguration.
	MutatingWebhookConfigurationName = "clientreg-mutating-webhook-configuration"
	// ServiceName is the Service in front of the webhook server.
	ServiceName = "clientreg-webhook-service"
	// CertSecretName is the Secret holding the self-managed serving certificate.
	CertSecretName = "clientreg-webhook-tls"
)

// Options configures the webhooks.
type Options struct {
	// Reader reads server objects for the OAuthClient update rules. Use an
	// uncached reader (the manager's APIReader): the answer must be current
	// on every replica, and a read happens only when a minted client's
	// registration changes.
	Reader client.Reader
	// Policy is the metadata validation policy; pass the reconciler's.
	Policy metadata.Policy
	// Backends validate and default their member of server specs.
	Backends *backend.Registry
}

// SetupWithManager registers the validating webhooks of the three kinds and
// the defaulting webhooks of the two server kinds with mgr's webhook server.
// OAuthClient has no defaulting webhook: its defaults (serverRef.kind,
// deletionPolicy, rotation.overlap) are in the CRD schema, and the RFC 7591
// defaults are applied when validating, never written into the spec.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.Backends == nil {
		// Server specs would pass unchecked.
		return fmt.Errorf("the webhooks need the backends (Options.Backends) to validate server specs")
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &oauthv1alpha1.OAuthClient{}).
		WithValidator(&OAuthClientValidator{Reader: opts.Reader, Policy: opts.Policy, Backends: opts.Backends}).
		Complete(); err != nil {
		return fmt.Errorf("registering the OAuthClient webhook: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &oauthv1alpha1.AuthorizationServer{}).
		WithValidator(ServerValidator[*oauthv1alpha1.AuthorizationServer]{Backends: opts.Backends}).
		WithDefaulter(ServerDefaulter[*oauthv1alpha1.AuthorizationServer]{Backends: opts.Backends}).
		Complete(); err != nil {
		return fmt.Errorf("registering the AuthorizationServer webhooks: %w", err)
	}
	if err := ctrl.NewWebhookManagedBy(mgr, &oauthv1alpha1.ClusterAuthorizationServer{}).
		WithValidator(ServerValidator[*oauthv1alpha1.ClusterAuthorizationServer]{Backends: opts.Backends}).
		WithDefaulter(ServerDefaulter[*oauthv1alpha1.ClusterAuthorizationServer]{Backends: opts.Backends}).
		Complete(); err != nil {
		return fmt.Errorf("registering the ClusterAuthorizationServer webhooks: %w", err)
	}
	return nil
}
