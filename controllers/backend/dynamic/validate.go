package dynamic

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

// lowResyncInterval is the resync interval below which a warning says that
// every client is read at the server that often.
const lowResyncInterval = time.Minute

// ValidateServer checks spec.dynamicRegistration (at p) beyond the schema.
func (b *Backend) ValidateServer(obj oauthv1alpha1.ServerObject, p *field.Path) (field.ErrorList, []string) {
	d := obj.GetSpec().DynamicRegistration
	var errs field.ErrorList
	var warnings []string
	errs = append(errs, backend.IssuerErrors(p.Child("issuerURL"), string(d.IssuerURL))...)
	if d.RegistrationEndpoint != "" {
		errs = append(errs, backend.EndpointURLErrors(p.Child("registrationEndpoint"), string(d.RegistrationEndpoint))...)
	}
	if len(d.CABundle) > 0 {
		errs = append(errs, backend.CABundleErrors(p.Child("caBundle"), d.CABundle)...)
	}
	errs = append(errs, backend.DurationErrors(p.Child("resyncInterval"), d.ResyncInterval, 0, "")...)
	errs = append(errs, backend.DurationErrors(p.Child("timeout"), d.Timeout, 0, "")...)
	if d.ResyncInterval != nil && d.ResyncInterval.Duration > 0 && d.ResyncInterval.Duration < lowResyncInterval {
		warnings = append(warnings, fmt.Sprintf("spec.dynamicRegistration.resyncInterval %s: every client is read at the server that often", d.ResyncInterval.Duration))
	}
	// Secret references: a namespaced server stays in its namespace (the
	// dynamic backend refuses the same at run time).
	errs = append(errs, SecretRefErrors(obj)...)
	for _, r := range []struct {
		name string
		ref  *oauthv1alpha1.SecretKeySelector
	}{{"initialAccessToken", d.InitialAccessToken}, {"softwareStatement", d.SoftwareStatement}} {
		if r.ref != nil {
			errs = append(errs, backend.SecretKeySelectorErrors(obj, p.Child(r.name), r.ref)...)
		}
	}
	return errs, warnings
}

// DefaultServer sets nothing: dynamicRegistration has no derived defaults.
func (b *Backend) DefaultServer(oauthv1alpha1.ServerObject) {}

// ServerUpdateWarnings has nothing to say: a change is synced to every client.
func (b *Backend) ServerUpdateWarnings(_, _ oauthv1alpha1.ServerObject) []string { return nil }
