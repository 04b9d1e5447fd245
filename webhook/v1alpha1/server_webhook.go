package v1alpha1

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// +kubebuilder:webhook:path=/validate-oauth-clientreg-dev-v1alpha1-authorizationserver,mutating=false,failurePolicy=fail,sideEffects=None,groups=oauth.clientreg.dev,resources=authorizationservers,verbs=create;update,versions=v1alpha1,name=vauthorizationserver-v1alpha1.oauth.clientreg.dev,admissionReviewVersions=v1,serviceName=clientreg-webhook-service,serviceNamespace=clientreg-system
// +kubebuilder:webhook:path=/validate-oauth-clientreg-dev-v1alpha1-clusterauthorizationserver,mutating=false,failurePolicy=fail,sideEffects=None,groups=oauth.clientreg.dev,resources=clusterauthorizationservers,verbs=create;update,versions=v1alpha1,name=vclusterauthorizationserver-v1alpha1.oauth.clientreg.dev,admissionReviewVersions=v1,serviceName=clientreg-webhook-service,serviceNamespace=clientreg-system
// +kubebuilder:webhook:path=/mutate-oauth-clientreg-dev-v1alpha1-authorizationserver,mutating=true,failurePolicy=fail,sideEffects=None,groups=oauth.clientreg.dev,resources=authorizationservers,verbs=create;update,versions=v1alpha1,name=mauthorizationserver-v1alpha1.oauth.clientreg.dev,admissionReviewVersions=v1,serviceName=clientreg-webhook-service,serviceNamespace=clientreg-system
// +kubebuilder:webhook:path=/mutate-oauth-clientreg-dev-v1alpha1-clusterauthorizationserver,mutating=true,failurePolicy=fail,sideEffects=None,groups=oauth.clientreg.dev,resources=clusterauthorizationservers,verbs=create;update,versions=v1alpha1,name=mclusterauthorizationserver-v1alpha1.oauth.clientreg.dev,admissionReviewVersions=v1,serviceName=clientreg-webhook-service,serviceNamespace=clientreg-system

// serverKind is one of the two server kinds as a typed admission object.
type serverKind interface {
	oauthv1alpha1.ServerObject
	runtime.Object
}

// ServerValidator validates AuthorizationServers or
// ClusterAuthorizationServers: what the CRD's schema and CEL rules cannot
// say, with the checks the server reconciler and backends apply at run time.
type ServerValidator[T serverKind] struct {
	// Backends validate their member of the spec.
	Backends *backend.Registry
}

var (
	_ admission.Validator[*oauthv1alpha1.AuthorizationServer]        = ServerValidator[*oauthv1alpha1.AuthorizationServer]{}
	_ admission.Validator[*oauthv1alpha1.ClusterAuthorizationServer] = ServerValidator[*oauthv1alpha1.ClusterAuthorizationServer]{}
	_ admission.Defaulter[*oauthv1alpha1.AuthorizationServer]        = ServerDefaulter[*oauthv1alpha1.AuthorizationServer]{}
)

// ValidateCreate validates a new server object.
func (v ServerValidator[T]) ValidateCreate(_ context.Context, obj T) (admission.Warnings, error) {
	errs, warnings := ValidateServer(v.Backends, obj)
	return warnings, invalid(serverGK(obj), obj.GetName(), errs)
}

// ValidateUpdate validates a changed spec; an update that leaves the spec
// alone is never refused (so objects stored before a rule existed can still
// be deleted). It warns about changes that replace every client id.
func (v ServerValidator[T]) ValidateUpdate(_ context.Context, oldObj, newObj T) (admission.Warnings, error) {
	if newObj.GetDeletionTimestamp() != nil || equality.Semantic.DeepEqual(oldObj.GetSpec(), newObj.GetSpec()) {
		return nil, nil
	}
	errs, warnings := ValidateServer(v.Backends, newObj)
	if be, err := v.Backends.For(newObj); err == nil && oldObj.GetSpec().BackendMember() == newObj.GetSpec().BackendMember() {
		warnings = append(warnings, be.ServerUpdateWarnings(oldObj, newObj)...)
	}
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
type ServerDefaulter[T serverKind] struct {
	// Backends default their member of the spec.
	Backends *backend.Registry
}

// Default fills what is documented as defaulted and derived from the name.
func (d ServerDefaulter[T]) Default(_ context.Context, obj T) error {
	DefaultServer(d.Backends, obj)
	return nil
}

// DefaultServer applies the defaults of obj's backend to obj.
func DefaultServer(backends *backend.Registry, obj oauthv1alpha1.ServerObject) {
	if be, err := backends.For(obj); err == nil {
		be.DefaultServer(obj)
	}
}

// ValidateServer returns every violation of a server spec that the schema
// cannot express, with field paths, and warnings about settings that work
// but are probably not meant.
func ValidateServer(backends *backend.Registry, obj oauthv1alpha1.ServerObject) (field.ErrorList, admission.Warnings) {
	spec := obj.GetSpec()
	p := field.NewPath("spec")
	var errs field.ErrorList
	var warnings admission.Warnings
	if member := spec.BackendMember(); member != "" {
		// A member no backend serves in this build is accepted: the server
		// reports BackendUnsupported, as it would without the webhook.
		if be, ok := backends.Lookup(member); ok {
			e, w := be.ValidateServer(obj, p.Child(member))
			errs, warnings = append(errs, e...), append(warnings, w...)
		}
	}
	if spec.RegistrationEndpoint != nil {
		e, w := validateEndpoint(obj, p.Child("registrationEndpoint"))
		errs, warnings = append(errs, e...), append(warnings, w...)
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
		errs = append(errs, backend.NameErrors(tp.Child("name"), t.Name)...)
		errs = append(errs, backend.NamespaceErrors(obj, tp.Child("namespace"), t.Namespace, "reference Secrets")...)
		if re.Open {
			warnings = append(warnings, "spec.registrationEndpoint.initialAccessTokens is not used while open is true")
		}
	}
	if re.Namespace != "" {
		if cluster {
			for _, msg := range validation.IsDNS1123Label(re.Namespace) {
				errs = append(errs, field.Invalid(p.Child("namespace"), re.Namespace, msg))
			}
		} else {
			errs = append(errs, backend.NamespaceErrors(obj, p.Child("namespace"), re.Namespace, "store registrations")...)
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
