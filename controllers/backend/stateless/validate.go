package stateless

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/internal/clientmeta"
)

// maxPublishedKeys is the MaxItems of status.keys: a configuration that
// would publish more keys at once cannot have its status written.
const maxPublishedKeys = 64

// Lower bounds for durations; below them the operator would mostly be busy
// re-minting ids or generating keys.
const (
	minClientIDLifetime    = time.Minute
	minKeyRotationInterval = time.Minute
)

// ValidateServer checks spec.stateless (at p) beyond the schema, and what the
// registration endpoint can serve with it.
func (b *Backend) ValidateServer(obj oauthv1alpha1.ServerObject, p *field.Path) (field.ErrorList, []string) {
	s := obj.GetSpec().Stateless
	var errs field.ErrorList
	var warnings []string
	errs = append(errs, backend.IssuerErrors(p.Child("issuer"), s.Issuer)...)

	lifetime, interval := s.EffectiveLifetime(), s.EffectiveRotationInterval()
	errs = append(errs, backend.DurationErrors(p.Child("clientIDLifetime"), s.ClientIDLifetime, minClientIDLifetime, "0s (ids never expire)")...)
	errs = append(errs, backend.DurationErrors(p.Child("keyRotationInterval"), s.KeyRotationInterval, minKeyRotationInterval, "0s (no rotation)")...)
	if lifetime == 0 {
		warnings = append(warnings, "spec.stateless.clientIDLifetime is 0s: client ids and their secrets never expire")
	}
	uses := 1
	if s.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionGenerated {
		uses = 2 // the encryption key rotates on the same interval
	}
	switch {
	case interval <= 0 || lifetime < 0:
	case lifetime == 0:
		warnings = append(warnings, fmt.Sprintf("spec.stateless.keyRotationInterval with clientIDLifetime 0s: retired keys are published forever, and status.keys holds at most %d", maxPublishedKeys))
	default:
		// The active key plus every retired key whose ids may still be valid.
		perUse := 1 + int((lifetime+PublishMargin+interval-1)/interval)
		if n := perUse * uses; n > maxPublishedKeys {
			errs = append(errs, field.Invalid(p.Child("keyRotationInterval"), s.KeyRotationInterval.Duration.String(), fmt.Sprintf(
				"with clientIDLifetime %s a retired key stays published for %s, so %d keys would be published at once; status.keys holds at most %d: rotate less often or shorten clientIDLifetime",
				lifetime, lifetime+PublishMargin, n, maxPublishedKeys)))
		}
	}

	keyName := oauthv1alpha1.StatelessKeySecret(obj, "").Name
	for _, msg := range validation.IsDNS1123Subdomain(keyName) {
		errs = append(errs, field.Invalid(p.Child("keySecretName"), keyName, msg))
	}
	if s.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionRecipientKey {
		// The check the server reconciler makes before it generates keys.
		if _, _, err := RecipientKey(s); err != nil {
			path := p.Child("encryption", "recipientKey")
			msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), path.String()+": "), path.String()+" ")
			errs = append(errs, field.Invalid(path, field.OmitValueType{}, msg))
		}
	}
	if as := s.AuthorizationServer; as != nil {
		ap := p.Child("authorizationServer")
		errs = append(errs, backend.CABundleErrors(ap.Child("caBundle"), as.CABundle)...)
		if as.AuthorizationEndpoint != "" {
			errs = append(errs, backend.EndpointURLErrors(ap.Child("authorizationEndpoint"), string(as.AuthorizationEndpoint))...)
		}
		if as.TokenEndpoint != "" {
			errs = append(errs, backend.EndpointURLErrors(ap.Child("tokenEndpoint"), string(as.TokenEndpoint))...)
		}
		if as.AuthorizationEndpoint == "" || as.TokenEndpoint == "" {
			if u, err := url.Parse(s.Issuer); err == nil && u.Scheme != "https" {
				errs = append(errs, field.Invalid(p.Child("issuer"), s.Issuer, "must be https to discover the authorization server's metadata (or give both endpoints in authorizationServer)"))
			}
		}
	}
	if re := obj.GetSpec().RegistrationEndpoint; re != nil && re.Storage == oauthv1alpha1.StorageStateless &&
		s.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionRecipientKey {
		errs = append(errs, field.Invalid(field.NewPath("spec", "registrationEndpoint", "storage"), re.Storage,
			"Stateless storage cannot serve spec.stateless.encryption.mode RecipientKey: the endpoint could not read back ids encrypted to the authorization server's key; use Stateful storage"))
	}
	return errs, warnings
}

// ServerUpdateWarnings names spec changes that replace every client id
// issued so far.
func (b *Backend) ServerUpdateWarnings(oldObj, newObj oauthv1alpha1.ServerObject) []string {
	o, n := oldObj.GetSpec().Stateless, newObj.GetSpec().Stateless
	if o == nil || n == nil {
		return nil
	}
	var w []string
	if a, b := oauthv1alpha1.StatelessKeySecret(oldObj, "").Name, oauthv1alpha1.StatelessKeySecret(newObj, "").Name; a != b && oldObj.GetStatus().KeySecretRef != nil {
		w = append(w, fmt.Sprintf("spec.stateless.keySecretName changes from %q to %q: new keys are generated there, every client id issued so far stops verifying and every client is re-minted", a, b))
	}
	if o.Issuer != n.Issuer || o.EffectiveAudience() != n.EffectiveAudience() {
		w = append(w, "spec.stateless issuer or audience changes: every client of this server is re-minted with a new client id and secret")
	}
	return w
}

// ValidateRegistrationChange enforces that a stateless client's registration
// is fixed once minted: the metadata is signed into the client id (claim
// reg), so changing it means a new client id and secret. The reconciler
// mints anew either way; the webhook makes the user say so, by setting the
// oauth.clientreg.dev/rotate annotation to a new value in the same update.
// changed is the comparison this backend's digest makes
// (clientmeta.ChangedMembers): the registered metadata as written, not spec
// fields such as secretTemplate, rotation or deletionPolicy. The embedded
// registration endpoint's RFC 7592 PUT sets the annotation itself.
func (b *Backend) ValidateRegistrationChange(_ oauthv1alpha1.ServerObject, oldObj, newObj *oauthv1alpha1.OAuthClient, changed []string) ([]string, field.ErrorList) {
	if rotationRequested(oldObj, newObj) {
		return []string{"the registration changes together with a rotation request: a new client id and secret are minted"}, nil
	}
	var errs field.ErrorList
	for _, m := range changed {
		path := field.NewPath("spec")
		if m != "" {
			path = clientmeta.SpecPath(m, -1)
		}
		errs = append(errs, field.Forbidden(path, fmt.Sprintf(
			"the registration of a stateless client is signed into its client id and cannot change once minted; "+
				"to change it, set the annotation %s to a new value in the same update (a new client id and secret are minted)",
			oauthv1alpha1.AnnotationRotate)))
	}
	return nil, errs
}

// rotationRequested reports whether the update sets the rotate annotation to
// a value the reconciler will act on: new, and not already answered.
func rotationRequested(oldObj, newObj *oauthv1alpha1.OAuthClient) bool {
	req := newObj.Annotations[oauthv1alpha1.AnnotationRotate]
	return req != "" && req != oldObj.Annotations[oauthv1alpha1.AnnotationRotate] && req != oldObj.Status.ObservedRotationRequest
}

// DefaultServer fills spec.stateless.keySecretName, when empty, with the name
// the reconciler uses anyway (<name>-stateless-keys): derived from the
// object's immutable name only, it shows where the signing keys are and pins
// them there.
func (b *Backend) DefaultServer(obj oauthv1alpha1.ServerObject) {
	if s := obj.GetSpec().Stateless; s != nil && s.KeySecretName == "" && obj.GetName() != "" {
		s.KeySecretName = oauthv1alpha1.StatelessKeySecret(obj, "").Name
	}
}
