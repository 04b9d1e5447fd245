// Package webhook wires the admission webhooks of package webhook/v1alpha1
// into a manager: command-line flags, the webhook server, and the serving
// certificate, either managed by the manager itself (cert-controller's
// rotator: a CA and certificate in a Secret, the CA bundle injected into the
// webhook configurations) or mounted from outside (cert-manager).
package webhook

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"sync"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/metadata"
	v1alpha1 "github.com/clientreg/clientreg/webhook/v1alpha1"
)

// Certificate management modes (--webhook-cert-management).
const (
	// CertSelf: the manager creates and rotates the serving certificate in a
	// Secret (mounted at CertDir) and injects the CA bundle.
	CertSelf = "self"
	// CertExternal: certificate files are mounted in CertDir by someone else
	// (cert-manager), which also injects the CA bundle.
	CertExternal = "external"
)

// DefaultCertDir is controller-runtime's default certificate directory.
const DefaultCertDir = "/tmp/k8s-webhook-server/serving-certs"

// Options configures the webhook server. BindFlags sets the defaults.
type Options struct {
	// Enabled serves the admission webhooks.
	Enabled bool
	// Port is the webhook server's port.
	Port int
	// CertDir holds tls.crt and tls.key.
	CertDir string
	// CertManagement is CertSelf or CertExternal.
	CertManagement string
	// Namespace holds the certificate Secret and the Service.
	Namespace string
	// SecretName is the Secret of the self-managed certificate.
	SecretName string
	// ServiceName is the Service in front of the webhook server; the
	// certificate is issued for its DNS names.
	ServiceName string
	// ValidatingConfigurationName and MutatingConfigurationName are the
	// webhook configurations the CA bundle is injected into.
	ValidatingConfigurationName, MutatingConfigurationName string
	// ExtraDNSNames are further names the self-managed certificate is
	// issued for (tests serve on localhost); no flag sets them.
	ExtraDNSNames []string
	// Policy is the metadata validation policy; pass the reconciler's.
	Policy metadata.Policy
	// Backends validate and default their member of server specs; pass the
	// reconcilers' (controllers.Backends).
	Backends *backend.Registry
}

// BindFlags registers the webhook flags on fs with their defaults;
// namespace is the default of --webhook-namespace.
func (o *Options) BindFlags(fs *flag.FlagSet, namespace string) {
	fs.BoolVar(&o.Enabled, "enable-webhooks", true, "Serve the admission webhooks (validation and defaulting) on every replica.")
	fs.IntVar(&o.Port, "webhook-port", 9443, "Port the webhook server listens on.")
	fs.StringVar(&o.CertDir, "webhook-cert-dir", DefaultCertDir, "Directory holding the webhook server's tls.crt and tls.key.")
	fs.StringVar(&o.CertManagement, "webhook-cert-management", CertSelf, "Who manages the webhook serving certificate: self (the manager creates and rotates it in --webhook-cert-secret, which must be mounted at --webhook-cert-dir, and injects the CA bundle) or external (files mounted by e.g. cert-manager, which injects the CA bundle).")
	fs.StringVar(&o.Namespace, "webhook-namespace", namespace, "Namespace of the webhook Service and certificate Secret.")
	fs.StringVar(&o.SecretName, "webhook-cert-secret", v1alpha1.CertSecretName, "Secret holding the self-managed webhook certificate (it must exist).")
	fs.StringVar(&o.ServiceName, "webhook-service-name", v1alpha1.ServiceName, "Service in front of the webhook server (the certificate's DNS names).")
	fs.StringVar(&o.ValidatingConfigurationName, "webhook-validating-configuration", v1alpha1.ValidatingWebhookConfigurationName, "ValidatingWebhookConfiguration to inject the CA bundle into (self).")
	fs.StringVar(&o.MutatingConfigurationName, "webhook-mutating-configuration", v1alpha1.MutatingWebhookConfigurationName, "MutatingWebhookConfiguration to inject the CA bundle into (self).")
}

// Server returns the webhook server for the manager's options, or nil when
// webhooks are disabled.
func (o *Options) Server() crwebhook.Server {
	if !o.Enabled {
		return nil
	}
	return crwebhook.NewServer(crwebhook.Options{Port: o.Port, CertDir: o.CertDir})
}

// Setup registers the webhooks with mgr. With self-managed certificates
// they are registered (and the webhook server started) only once the
// rotator has written the certificate, the files are mounted and the CA
// bundle is injected; until then the returned readiness check fails. The
// webhook server, the rotator and the registration run on every replica,
// with or without leadership. Setup does nothing when webhooks are disabled.
func (o *Options) Setup(mgr manager.Manager) (healthz.Checker, error) {
	if !o.Enabled {
		return healthz.Ping, nil
	}
	register := func() error {
		return v1alpha1.SetupWithManager(mgr, v1alpha1.Options{Reader: mgr.GetAPIReader(), Policy: o.Policy, Backends: o.Backends})
	}
	switch o.CertManagement {
	case CertExternal:
		if err := register(); err != nil {
			return nil, err
		}
		return mgr.GetWebhookServer().StartedChecker(), nil
	case CertSelf:
	default:
		return nil, fmt.Errorf("--webhook-cert-management must be %s or %s, not %q", CertSelf, CertExternal, o.CertManagement)
	}
	if o.Namespace == "" {
		return nil, errors.New("--webhook-namespace is required with --webhook-cert-management=self")
	}
	ready := make(chan struct{})
	var webhooks []rotator.WebhookInfo
	if o.ValidatingConfigurationName != "" {
		webhooks = append(webhooks, rotator.WebhookInfo{Name: o.ValidatingConfigurationName, Type: rotator.Validating})
	}
	if o.MutatingConfigurationName != "" {
		webhooks = append(webhooks, rotator.WebhookInfo{Name: o.MutatingConfigurationName, Type: rotator.Mutating})
	}
	svc := o.ServiceName + "." + o.Namespace + ".svc"
	if err := rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:             types.NamespacedName{Namespace: o.Namespace, Name: o.SecretName},
		CertDir:               o.CertDir,
		CAName:                "clientreg-webhook-ca",
		CAOrganization:        "clientreg",
		DNSName:               svc,
		ExtraDNSNames:         append([]string{svc + ".cluster.local", o.ServiceName + "." + o.Namespace}, o.ExtraDNSNames...),
		IsReady:               ready,
		Webhooks:              webhooks,
		FieldOwner:            "clientreg-webhook-cert-rotator",
		ControllerName:        rotatorControllerName,
		RequireLeaderElection: false,
		EnableReadinessCheck:  true,
	}); err != nil {
		return nil, fmt.Errorf("adding the webhook certificate rotator: %w", err)
	}
	if err := mgr.Add(&afterCerts{ready: ready, register: register}); err != nil {
		return nil, fmt.Errorf("adding the webhook registration: %w", err)
	}
	// The webhook server is looked up only after the certificate is ready:
	// the first lookup adds it to the manager, which starts it.
	started := sync.OnceValue(func() healthz.Checker { return mgr.GetWebhookServer().StartedChecker() })
	return func(req *http.Request) error {
		select {
		case <-ready:
		default:
			return errors.New("the webhook certificate is not ready yet")
		}
		return started()(req)
	}, nil
}

// afterCerts registers the webhooks once the certificate is in place: the
// webhook server reads its certificate files when it starts.
type afterCerts struct {
	ready    <-chan struct{}
	register func() error
}

// NeedLeaderElection is false: every replica serves the webhooks.
func (a *afterCerts) NeedLeaderElection() bool { return false }

// Start waits for the certificate, then registers (which starts the server).
func (a *afterCerts) Start(ctx context.Context) error {
	select {
	case <-a.ready:
	case <-ctx.Done():
		return nil
	}
	if err := a.register(); err != nil {
		return err
	}
	logf.FromContext(ctx).Info("webhook certificate ready; admission webhooks registered")
	<-ctx.Done()
	return nil
}
