// Package clientmeta maps an OAuthClient spec onto the RFC 7591 metadata model
// of package registrar/metadata and maps metadata violations back onto spec
// field paths, so the reconciler, the admission webhook and the registration
// endpoint apply one rule set and users see errors under the names they wrote.
package clientmeta

import (
	"encoding/json"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/util/validation/field"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// members maps RFC 7591 / OpenID Connect member names to OAuthClient spec
// field names. It is the one table both directions use: FromSpec and
// ApplyToSpec copy exactly these members (jwks, a JSON object on one side
// and raw bytes on the other, by hand), and field errors are reported under
// these names.
var members = map[string]string{
	"redirect_uris":                        "redirectURIs",
	"token_endpoint_auth_method":           "tokenEndpointAuthMethod",
	"grant_types":                          "grantTypes",
	"response_types":                       "responseTypes",
	"client_name":                          "clientName",
	"client_uri":                           "clientURI",
	"logo_uri":                             "logoURI",
	"scope":                                "scope",
	"contacts":                             "contacts",
	"tos_uri":                              "tosURI",
	"policy_uri":                           "policyURI",
	"jwks_uri":                             "jwksURI",
	"jwks":                                 "jwks",
	"software_id":                          "softwareID",
	"software_version":                     "softwareVersion",
	"application_type":                     "applicationType",
	"sector_identifier_uri":                "sectorIdentifierURI",
	"subject_type":                         "subjectType",
	"id_token_signed_response_alg":         "idTokenSignedResponseAlg",
	"id_token_encrypted_response_alg":      "idTokenEncryptedResponseAlg",
	"id_token_encrypted_response_enc":      "idTokenEncryptedResponseEnc",
	"userinfo_signed_response_alg":         "userinfoSignedResponseAlg",
	"request_object_signing_alg":           "requestObjectSigningAlg",
	"token_endpoint_auth_signing_alg":      "tokenEndpointAuthSigningAlg",
	"default_max_age":                      "defaultMaxAge",
	"require_auth_time":                    "requireAuthTime",
	"default_acr_values":                   "defaultACRValues",
	"initiate_login_uri":                   "initiateLoginURI",
	"request_uris":                         "requestURIs",
	"post_logout_redirect_uris":            "postLogoutRedirectURIs",
	"frontchannel_logout_uri":              "frontchannelLogoutURI",
	"backchannel_logout_uri":               "backchannelLogoutURI",
	"userinfo_encrypted_response_alg":      "userinfoEncryptedResponseAlg",
	"userinfo_encrypted_response_enc":      "userinfoEncryptedResponseEnc",
	"request_object_encryption_alg":        "requestObjectEncryptionAlg",
	"request_object_encryption_enc":        "requestObjectEncryptionEnc",
	"frontchannel_logout_session_required": "frontchannelLogoutSessionRequired",
	"backchannel_logout_session_required":  "backchannelLogoutSessionRequired",
	"tls_client_auth_subject_dn":           "tlsClientAuthSubjectDN",
	"tls_client_auth_san_dns":              "tlsClientAuthSANDNS",
	"tls_client_auth_san_uri":              "tlsClientAuthSANURI",
	"tls_client_auth_san_ip":               "tlsClientAuthSANIP",
	"tls_client_auth_san_email":            "tlsClientAuthSANEmail",
}

// reserved members are issued by the server and never requested (RFC 7591 §6,
// RFC 7592 §2.2); extraMetadata must not carry them.
var reserved = map[string]bool{
	"client_id": true, "client_secret": true, "client_id_issued_at": true,
	"client_secret_expires_at": true, "registration_access_token": true,
	"registration_client_uri": true, "software_statement": true,
}

// FromSpec builds the client metadata a spec asks for, without defaults (the
// registered form is what the user wrote; defaults are applied for validation
// and by the server). extraMetadata members that duplicate a typed field or a
// server-issued member are reported as field errors.
func FromSpec(spec *oauthv1alpha1.OAuthClientSpec) (*metadata.Metadata, field.ErrorList) {
	var errs field.ErrorList
	specPath := field.NewPath("spec")
	m := &metadata.Metadata{}
	copyMembers(m, spec, false)
	if spec.JWKS != nil && len(spec.JWKS.Raw) > 0 {
		m.JWKS = append(json.RawMessage(nil), spec.JWKS.Raw...)
	}
	if len(spec.ExtraMetadata) > 0 {
		extraPath := specPath.Child("extraMetadata")
		names := make([]string, 0, len(spec.ExtraMetadata))
		for k := range spec.ExtraMetadata {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			v := spec.ExtraMetadata[k]
			switch {
			case members[k] != "":
				errs = append(errs, field.Invalid(extraPath.Key(k), k, fmt.Sprintf("duplicates spec.%s; set that field instead", members[k])))
				continue
			case reserved[k]:
				errs = append(errs, field.Forbidden(extraPath.Key(k), "is issued by the server and cannot be requested"))
				continue
			case !json.Valid(v.Raw):
				errs = append(errs, field.Invalid(extraPath.Key(k), "", "must be valid JSON"))
				continue
			case metadata.IsLocalizedName(k):
				// A language-tagged human-readable member (RFC 7591 §2.2).
				var str string
				if err := json.Unmarshal(v.Raw, &str); err != nil {
					errs = append(errs, field.Invalid(extraPath.Key(k), "", "a language-tagged member must be a string"))
					continue
				}
				if m.Localized == nil {
					m.Localized = map[string]string{}
				}
				m.Localized[k] = str
				continue
			case metadata.IsKnownMember(k):
				errs = append(errs, field.Invalid(extraPath.Key(k), k, "is a standard member; set the matching spec field instead"))
				continue
			}
			if m.Extra == nil {
				m.Extra = map[string]json.RawMessage{}
			}
			m.Extra[k] = append(json.RawMessage(nil), v.Raw...)
		}
	}
	return m, errs
}

// Validate applies defaults and the shared RFC 7591 / OpenID Connect rules to
// a spec and returns every violation at once, with spec field paths.
func Validate(spec *oauthv1alpha1.OAuthClientSpec, policy metadata.Policy) (*metadata.Metadata, field.ErrorList) {
	m, errs := FromSpec(spec)
	if verrs := metadata.Validate(metadata.WithDefaults(m, policy), policy); len(verrs) > 0 {
		errs = append(errs, ToFieldErrors(verrs)...)
	}
	return m, errs
}

// ToFieldErrors maps metadata violations onto spec field paths.
func ToFieldErrors(list metadata.ErrorList) field.ErrorList {
	out := make(field.ErrorList, 0, len(list))
	for _, e := range list {
		out = append(out, field.Invalid(SpecPath(e.Member, e.Index), e.Value, e.Detail))
	}
	return out
}

// SpecPath returns the spec field path of a metadata member.
func SpecPath(member string, index int) *field.Path {
	p := field.NewPath("spec")
	if name, ok := members[member]; ok {
		p = p.Child(name)
	} else {
		p = p.Child("extraMetadata").Key(member)
	}
	if index >= 0 {
		p = p.Index(index)
	}
	return p
}
