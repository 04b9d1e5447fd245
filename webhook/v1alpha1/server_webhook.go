package v1alpha1

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	dynamicbackend "github.com/clientreg/clientreg/controllers/backend/dynamic"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/registrar/dcr"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// +kubebuilder:webhook:path=/validate-oauth-clientreg-dev-v1alpha1-authorizationserver,mutating=false,failurePolicy=fail,sideEffects=None,groups=oauth.clientreg.dev,resources=authorizationservers,verbs=create;update,versions=v1alpha1,name=vauthorizationserver-v1alpha1.oauth.clientreg.dev,admissionReviewVersions=v1,serviceName=clientreg-webhook-service,serviceNamespace=clientreg-system
// +kubebuilder:webhook:path=/validate-oauth-clientreg-dev-v1alpha1-clusterauthorizationserver,mutating=false,failurePolicy=fail,sideEffects=None,groups=oauth.clientreg.dev,resources=clusterauthorizationservers,verbs=create;update,versions=v1alpha1,name=vclusterauthorizationserver-v1alpha1.oauth.clientreg.dev,admissionReviewVersions=v1,serviceName=clientreg-webhook-service,serviceNamespace=clientreg-system
// +kubebuilder:webhook:path=/mutate-oauth-clientreg-dev-v1alpha1-authorizationserver,mutating=true,failurePolicy=fail,sideEffects=None,groups=oauth.clientreg.dev,resources=authorizationservers,verbs=create;update,versions=v1alpha1,name=mauthorizationserver-v1alpha1.oauth.clientreg.dev,admissionReviewVersions=v1,serviceName=clientreg-webhook-service,serviceNamespace=clientreg-system
// +kubebuilder:webhook:path=/mutate-oauth-clientreg-dev-v1alpha1-clusterauthorizationserver,mutating=true,failurePolicy=fail,sideEffects=None,groups=oauth.clientreg.dev,resources=clusterauthorizationservers,verbs=create;update,versions=v1alpha1,name=mclusterauthorizationserver-v1alpha1.oauth.clientreg.dev,admissionReviewVersions=v1,serviceName=clientreg-webhook-service,serviceNamespace=clientreg-system

// maxPublishedKeys is the MaxItems of status.keys: a configuration that
// would publish more keys at once cannot have its status written.
const maxPublishedKeys = 64

// Lower bounds for durations; below them the operator would mostly be busy
// re-minting ids or generating keys.
const (
	minClientIDLifetime    = time.Minute
	minKeyRotationInterval = time.Minute
	lowResyncInterval      = time.Minute
)

// serverKind is one of the two server kinds as a typed admission object.
type serverKind interface {
	oauthv1alpha1.ServerObject
	runtime.Object
}

// ServerValidator validates AuthorizationServers or
// ClusterAuthorizationServers: what the CRD's schema and CEL rules cannot
// say, with the checks the server reconciler and backends apply at run time.
type ServerValidator[T serverKind] struct{}

var (
	_ admission.Validator[*oauthv1alpha1.AuthorizationServer]        = ServerValidator[*oauthv1alpha1.AuthorizationServer]{}
	_ admission.Validator[*oauthv1alpha1.ClusterAuthorizationServer] = ServerValidator[*oauthv1alpha1.ClusterAuthorizationServer]{}
	_ admission.Defaulter[*oauthv1alpha1.AuthorizationServer]        = ServerDefaulter[*oauthv1alpha1.AuthorizationServer]{}
)

// ValidateCreate validates a new server object.
func (ServerValidator[T]) ValidateCreate(_ context.Context, obj T) (admission.Warnings, error) {
	errs, warnings := ValidateServer(obj)
	return warnings, invalid(serverGK(obj), obj.GetName(), errs)
}

// ValidateUpdate validates a changed spec; an update that leaves the spec
// alone is never refused (so objects stored before a rule existed can still
// be deleted). It warns about changes that replace every client id.
func (ServerValidator[T]) ValidateUpdate(_ context.Context, oldObj, newObj T) (admission.Warnings, error) {
	if newObj.GetDeletionTimestamp() != nil || equality.Semantic.DeepEqual(oldObj.GetSpec(), newObj.GetSpec()) {
		return nil, nil
	}
	errs, warnings := ValidateServer(newObj)
	warnings = append(warnings, updateWarnings(oldObj, newObj)...)
	return warnings, invalid(serverGK(newObj), newObj.GetName(), errs)
}

// ValidateDelete allows every deletion.
func (ServerValidator[T]) ValidateDelete(context.Context, T) (admission.Warnings, error) {
	return nil, nil
}

func serverGK(obj oauthv1alpha1.ServerObject) schema.GroupKind {
	return schema.GroupKind{Group: oauthv1alpha1.GroupVersion.Group, Kind: string(obj.ServerKind())}
}

// ServerDefaulter fills spec.stateless.keySecretName, when left empty, with
// the name the reconciler uses anyway (<name>-stateless-keys). The value is
// derived from the object's immutable name only, so it never changes later
// and never differs from what the reconciler would pick: it shows where the
// signing keys are and pins them there. It sets nothing else: constant
// defaults are in the CRD schema, and RFC 7591 defaults are never written
// into a spec (they would be registered and signed into stateless ids).
type ServerDefaulter[T serverKind] struct{}

// Default fills what is documented as defaulted and derived from the name.
func (ServerDefaulter[T]) Default(_ context.Context, obj T) error {
	DefaultServer(obj)
	return nil
}

// DefaultServer applies ServerDefaulter's defaults to obj.
func DefaultServer(obj oauthv1alpha1.ServerObject) {
	if s := obj.GetSpec().Stateless; s != nil && s.KeySecretName == "" && obj.GetName() != "" {
		s.KeySecretName = statelessbackend.KeySecretRef(obj, "").Name
	}
}

// ValidateServer returns every violation of a server spec that the schema
// cannot express, with field paths, and warnings about settings that work
// but are probably not meant.
func ValidateServer(obj oauthv1alpha1.ServerObject) (field.ErrorList, admission.Warnings) {
	spec := obj.GetSpec()
	p := field.NewPath("spec")
	var errs field.ErrorList
	var warnings admission.Warnings
	if spec.Stateless != nil {
		e, w := validateStateless(obj, p.Child("stateless"))
		errs, warnings = append(errs, e...), append(warnings, w...)
	}
	if spec.DynamicRegistration != nil {
		e, w := validateDynamic(obj, p.Child("dynamicRegistration"))
		errs, warnings = append(errs, e...), append(warnings, w...)
	}
	if spec.RegistrationEndpoint != nil {
		e, w := validateEndpoint(obj, p.Child("registrationEndpoint"))
		errs, warnings = append(errs, e...), append(warnings, w...)
	}
	return errs, warnings
}

func validateStateless(obj oauthv1alpha1.ServerObject, p *field.Path) (field.ErrorList, admission.Warnings) {
	s := obj.GetSpec().Stateless
	var errs field.ErrorList
	var warnings admission.Warnings
	errs = append(errs, issuerErrors(p.Child("issuer"), s.Issuer)...)

	lifetime, interval := statelessbackend.Lifetime(s), statelessbackend.RotationInterval(s)
	errs = append(errs, durationErrors(p.Child("clientIDLifetime"), s.ClientIDLifetime, minClientIDLifetime, "0s (ids never expire)")...)
	errs = append(errs, durationErrors(p.Child("keyRotationInterval"), s.KeyRotationInterval, minKeyRotationInterval, "0s (no rotation)")...)
	if lifetime == 0 {
		warnings = append(warnings, "spec.stateless.clientIDLifetime is 0s: client ids and their secrets never expire")
	}
	uses := 1
	if statelessbackend.EncryptionMode(s) == oauthv1alpha1.EncryptionGenerated {
		uses = 2 // the encryption key rotates on the same interval
	}
	switch {
	case interval <= 0 || lifetime < 0:
	case lifetime == 0:
		warnings = append(warnings, fmt.Sprintf("spec.stateless.keyRotationInterval with clientIDLifetime 0s: retired keys are published forever, and status.keys holds at most %d", maxPublishedKeys))
	default:
		// The active key plus every retired key whose ids may still be valid.
		perUse := 1 + int((lifetime+statelessbackend.PublishMargin+interval-1)/interval)
		if n := perUse * uses; n > maxPublishedKeys {
			errs = append(errs, field.Invalid(p.Child("keyRotationInterval"), s.KeyRotationInterval.Duration.String(), fmt.Sprintf(
				"with clientIDLifetime %s a retired key stays published for %s, so %d keys would be published at once; status.keys holds at most %d: rotate less often or shorten clientIDLifetime",
				lifetime, lifetime+statelessbackend.PublishMargin, n, maxPublishedKeys)))
		}
	}

	keyName := statelessbackend.KeySecretRef(obj, "").Name
	for _, msg := range validation.IsDNS1123Subdomain(keyName) {
		errs = append(errs, field.Invalid(p.Child("keySecretName"), keyName, msg))
	}
	if statelessbackend.EncryptionMode(s) == oauthv1alpha1.EncryptionRecipientKey {
		// The check the server reconciler makes before it generates keys.
		if _, _, err := statelessbackend.RecipientKey(s); err != nil {
			path := p.Child("encryption", "recipientKey")
			msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), path.String()+": "), path.String()+" ")
			errs = append(errs, field.Invalid(path, field.OmitValueType{}, msg))
		}
	}
	if as := s.AuthorizationServer; as != nil {
		ap := p.Child("authorizationServer")
		errs = append(errs, caBundleErrors(ap.Child("caBundle"), as.CABundle)...)
		if as.AuthorizationEndpoint != "" {
			errs = append(errs, endpointURLErrors(ap.Child("authorizationEndpoint"), string(as.AuthorizationEndpoint))...)
		}
		if as.TokenEndpoint != "" {
			errs = append(errs, endpointURLErrors(ap.Child("tokenEndpoint"), string(as.TokenEndpoint))...)
		}
		if as.AuthorizationEndpoint == "" || as.TokenEndpoint == "" {
			if u, err := url.Parse(s.Issuer); err == nil && u.Scheme != "https" {
				errs = append(errs, field.Invalid(p.Child("issuer"), s.Issuer, "must be https to discover the authorization server's metadata (or give both endpoints in authorizationServer)"))
			}
		}
	}
	return errs, warnings
}

func validateDynamic(obj oauthv1alpha1.ServerObject, p *field.Path) (field.ErrorList, admission.Warnings) {
	d := obj.GetSpec().DynamicRegistration
	var errs field.ErrorList
	var warnings admission.Warnings
	errs = append(errs, issuerErrors(p.Child("issuerURL"), string(d.IssuerURL))...)
	if d.RegistrationEndpoint != "" {
		errs = append(errs, endpointURLErrors(p.Child("registrationEndpoint"), string(d.RegistrationEndpoint))...)
	}
	if len(d.CABundle) > 0 {
		errs = append(errs, caBundleErrors(p.Child("caBundle"), d.CABundle)...)
	}
	errs = append(errs, durationErrors(p.Child("resyncInterval"), d.ResyncInterval, 0, "")...)
	errs = append(errs, durationErrors(p.Child("timeout"), d.Timeout, 0, "")...)
	if d.ResyncInterval != nil && d.ResyncInterval.Duration > 0 && d.ResyncInterval.Duration < lowResyncInterval {
		warnings = append(warnings, fmt.Sprintf("spec.dynamicRegistration.resyncInterval %s: every client is read at the server that often", d.ResyncInterval.Duration))
	}
	// Secret references: a namespaced server stays in its namespace (the
	// dynamic backend refuses the same at run time).
	errs = append(errs, dynamicbackend.SecretRefErrors(obj)...)
	for _, r := range []struct {
		name string
		ref  *oauthv1alpha1.SecretKeySelector
	}{{"initialAccessToken", d.InitialAccessToken}, {"softwareStatement", d.SoftwareStatement}} {
		if r.ref != nil {
			errs = append(errs, secretKeySelectorErrors(obj, p.Child(r.name), r.ref)...)
		}
	}
	return errs, warnings
}

func validateEndpoint(obj oauthv1alpha1.ServerObject, p *field.Path) (field.ErrorList, admission.Warnings) {
	re := obj.GetSpec().RegistrationEndpoint
	cluster := obj.ServerKind() == oauthv1alpha1.KindClusterAuthorizationServer
	var errs field.ErrorList
	var warnings admission.Warnings
	if t := re.InitialAccessTokens; t != nil {
		tp := p.Child("initialAccessTokens")
		errs = append(errs, nameErrors(tp.Child("name"), t.Name)...)
		errs = append(errs, namespaceErrors(obj, tp.Child("namespace"), t.Namespace, "reference Secrets")...)
		if re.Open {
			warnings = append(warnings, "spec.registrationEndpoint.initialAccessTokens is not used while open is true")
		}
	}
	if st := obj.GetSpec().Stateless; st != nil && re.Storage == oauthv1alpha1.StorageStateless &&
		statelessbackend.EncryptionMode(st) == oauthv1alpha1.EncryptionRecipientKey {
		errs = append(errs, field.Invalid(p.Child("storage"), re.Storage,
			"Stateless storage cannot serve spec.stateless.encryption.mode RecipientKey: the endpoint could not read back ids encrypted to the authorization server's key; use Stateful storage"))
	}
	if re.Namespace != "" {
		if cluster {
			for _, msg := range validation.IsDNS1123Label(re.Namespace) {
				errs = append(errs, field.Invalid(p.Child("namespace"), re.Namespace, msg))
			}
		} else {
			errs = append(errs, namespaceErrors(obj, p.Child("namespace"), re.Namespace, "store registrations")...)
		}
	}
	if pol := re.Policy; pol != nil {
		pp := p.Child("policy")
		for i, h := range pol.AllowedRedirectHosts {
			if msg := hostPatternError(h); msg != "" {
				errs = append(errs, field.Invalid(pp.Child("allowedRedirectHosts").Index(i), h, msg))
			}
		}
		// The endpoint silently ignores values it does not support, which
		// could leave nothing allowed: refuse them instead.
		grants, methods := metadata.DefaultGrantTypes(), metadata.DefaultAuthMethods()
		for i, g := range pol.AllowedGrantTypes {
			if !slices.Contains(grants, g) {
				errs = append(errs, field.NotSupported(pp.Child("allowedGrantTypes").Index(i), g, grants))
			}
		}
		for i, m := range pol.AllowedAuthMethods {
			if !slices.Contains(methods, m) {
				errs = append(errs, field.NotSupported(pp.Child("allowedAuthMethods").Index(i), m, methods))
			}
		}
	}
	for i, iss := range re.SoftwareStatementIssuers {
		ip := p.Child("softwareStatementIssuers").Index(i)
		if iss.Issuer == "" {
			errs = append(errs, field.Required(ip.Child("issuer"), "the iss of the publisher's software statements"))
		}
		if msg := publicJWKSError(iss.JWKS.Raw); msg != "" {
			errs = append(errs, field.Invalid(ip.Child("jwks"), field.OmitValueType{}, msg))
		}
	}
	return errs, warnings
}

// updateWarnings names spec changes that replace every client id issued so far.
func updateWarnings(oldObj, newObj oauthv1alpha1.ServerObject) admission.Warnings {
	o, n := oldObj.GetSpec().Stateless, newObj.GetSpec().Stateless
	if o == nil || n == nil {
		return nil
	}
	var w admission.Warnings
	if a, b := statelessbackend.KeySecretRef(oldObj, "").Name, statelessbackend.KeySecretRef(newObj, "").Name; a != b && oldObj.GetStatus().KeySecretRef != nil {
		w = append(w, fmt.Sprintf("spec.stateless.keySecretName changes from %q to %q: new keys are generated there, every client id issued so far stops verifying and every client is re-minted", a, b))
	}
	if o.Issuer != n.Issuer || statelessbackend.Audience(o) != statelessbackend.Audience(n) {
		w = append(w, "spec.stateless issuer or audience changes: every client of this server is re-minted with a new client id and secret")
	}
	return w
}

// issuerErrors checks an issuer identifier: an absolute URL with a host and
// no query or fragment (RFC 8414 §2, OpenID Connect Discovery §2).
func issuerErrors(p *field.Path, raw string) field.ErrorList {
	u, err := url.Parse(raw)
	shown := urlForMessage(raw, u, err)
	switch {
	case err != nil:
		msg := "must be a URL"
		if !strings.Contains(raw, "@") {
			msg += ": " + strings.TrimPrefix(err.Error(), "parse \""+raw+"\": ")
		}
		return field.ErrorList{field.Invalid(p, shown, msg)}
	case u.User != nil:
		return field.ErrorList{field.Invalid(p, shown, "must not contain user information")}
	case u.Host == "" || u.Hostname() == "":
		return field.ErrorList{field.Invalid(p, shown, "must be an absolute URL with a host")}
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return field.ErrorList{field.Invalid(p, shown, "an issuer has no query or fragment (RFC 8414 §2)")}
	}
	return nil
}

// endpointURLErrors checks an endpoint URL: absolute, with a host, no fragment.
func endpointURLErrors(p *field.Path, raw string) field.ErrorList {
	u, err := url.Parse(raw)
	shown := urlForMessage(raw, u, err)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(p, shown, "must be a URL")}
	case u.User != nil:
		return field.ErrorList{field.Invalid(p, shown, "must not contain user information")}
	case u.Hostname() == "":
		return field.ErrorList{field.Invalid(p, shown, "must be an absolute URL with a host")}
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return field.ErrorList{field.Invalid(p, shown, "must not contain a fragment")}
	}
	return nil
}

// urlForMessage is the value an error about a URL may show: the URL with its
// user information replaced by REDACTED (metadata.RedactUserinfo, the rule of
// every other error), or nothing when it cannot be parsed and has an "@"
// (where the user information ends is then unknown): a password or token must
// not reach the error message, which kubectl, audit logs and GitOps tools
// record.
func urlForMessage(raw string, u *url.URL, parseErr error) any {
	switch {
	case parseErr != nil && strings.Contains(raw, "@"):
		return field.OmitValueType{}
	case parseErr == nil && u.User != nil:
		return metadata.RedactUserinfo(raw)
	}
	return raw
}

// caBundleErrors accepts only PEM certificates, every one of which parses;
// and it makes the check the dynamic backend makes when it builds its client.
func caBundleErrors(p *field.Path, bundle []byte) field.ErrorList {
	var errs field.ErrorList
	rest, n := bundle, 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		if b.Type != "CERTIFICATE" {
			// Never echo the block: it may be a private key pasted by mistake.
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, fmt.Sprintf("PEM block %d is a %q, not a CERTIFICATE; only CA certificates belong here", n, b.Type)))
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, fmt.Sprintf("certificate %d does not parse: %v", n, err)))
		}
	}
	if len(strings.TrimSpace(string(rest))) > 0 && n > 0 {
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, "holds data that is not PEM after the last certificate"))
	}
	if _, err := dcr.NewClient(dcr.Config{CABundle: bundle}); err != nil && len(errs) == 0 {
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, "must hold at least one PEM certificate"))
	}
	return errs
}

// durationErrors refuses negative durations and, when lowest > 0, positive
// ones below lowest (zeroMeans says what 0 does).
func durationErrors(p *field.Path, d *metav1.Duration, lowest time.Duration, zeroMeans string) field.ErrorList {
	switch {
	case d == nil || d.Duration == 0:
		return nil
	case d.Duration < 0:
		return field.ErrorList{field.Invalid(p, d.Duration.String(), "must not be negative")}
	case lowest > 0 && d.Duration < lowest:
		return field.ErrorList{field.Invalid(p, d.Duration.String(), fmt.Sprintf("must be %s or at least %s", zeroMeans, lowest))}
	}
	return nil
}

func nameErrors(p *field.Path, name string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// namespaceErrors refuses, on a namespaced server, a namespace other than
// its own; on a cluster server it only checks the name.
func namespaceErrors(obj oauthv1alpha1.ServerObject, p *field.Path, ns, what string) field.ErrorList {
	if ns == "" {
		return nil
	}
	if obj.ServerKind() == oauthv1alpha1.KindAuthorizationServer {
		if ns != obj.GetNamespace() {
			return field.ErrorList{field.Forbidden(p, fmt.Sprintf("an AuthorizationServer may only %s in its own namespace %q; use a ClusterAuthorizationServer for another namespace", what, obj.GetNamespace()))}
		}
		return nil
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(ns) {
		errs = append(errs, field.Invalid(p, ns, msg))
	}
	return errs
}

func secretKeySelectorErrors(obj oauthv1alpha1.ServerObject, p *field.Path, ref *oauthv1alpha1.SecretKeySelector) field.ErrorList {
	errs := nameErrors(p.Child("name"), ref.Name)
	for _, msg := range validation.IsConfigMapKey(ref.Key) {
		errs = append(errs, field.Invalid(p.Child("key"), ref.Key, msg))
	}
	if obj.ServerKind() == oauthv1alpha1.KindClusterAuthorizationServer {
		// Namespaced servers: dynamicbackend.SecretRefErrors.
		errs = append(errs, namespaceErrors(obj, p.Child("namespace"), ref.Namespace, "")...)
	}
	return errs
}

// hostPatternError checks an allowedRedirectHosts entry the way the endpoint
// matches it: an exact host name or IP literal, or "*.suffix" for any proper
// subdomain of suffix. It returns "" when the entry is usable.
func hostPatternError(h string) string {
	host := strings.TrimSuffix(strings.ToLower(h), ".")
	if suffix, ok := strings.CutPrefix(host, "*."); ok {
		if strings.Contains(suffix, "*") {
			return "a wildcard is allowed only as the whole leftmost label (*.example.com)"
		}
		if len(validation.IsDNS1123Subdomain(suffix)) > 0 || !strings.Contains(suffix, ".") {
			return "the part after *. must be a domain name with at least two labels"
		}
		return ""
	}
	if strings.Contains(host, "*") {
		return "a wildcard is allowed only as the whole leftmost label (*.example.com)"
	}
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return ""
	}
	if strings.ContainsAny(host, ":/?#@[]") {
		return "must be a host name or IP address, without scheme, port or path"
	}
	if len(validation.IsDNS1123Subdomain(host)) > 0 {
		return "must be a host name, an IP address or *.domain"
	}
	return ""
}

// publicJWKSError checks a JWK Set the way the endpoint loads it (go-jose),
// and that it holds at least one key and only public keys.
func publicJWKSError(raw []byte) string {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return "must be a JWK Set ({\"keys\": [...]}) of valid keys"
	}
	if len(set.Keys) == 0 {
		return "must hold at least one key"
	}
	for i, k := range set.Keys {
		if !k.IsPublic() {
			return fmt.Sprintf("keys[%d] is private or symmetric; only public keys belong here", i)
		}
		if !k.Valid() {
			return fmt.Sprintf("keys[%d] is not a valid key", i)
		}
	}
	return ""
}
