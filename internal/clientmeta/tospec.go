package clientmeta

import (
	"encoding/json"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// ApplyToSpec writes m's metadata members into spec, replacing every
// metadata field (RFC 7592 full replacement); serverRef, secretName and the
// other operator fields are left alone. It is the inverse of FromSpec:
// FromSpec(ApplyToSpec(m)) describes the same client.
func ApplyToSpec(m *metadata.Metadata, spec *oauthv1alpha1.OAuthClientSpec) {
	redirects := func(in []string) []oauthv1alpha1.RedirectURI {
		if in == nil {
			return nil
		}
		out := make([]oauthv1alpha1.RedirectURI, len(in))
		for i, u := range in {
			out[i] = oauthv1alpha1.RedirectURI(u)
		}
		return out
	}
	spec.RedirectURIs = redirects(m.RedirectURIs)
	spec.TokenEndpointAuthMethod = m.TokenEndpointAuthMethod
	spec.GrantTypes = cloneStrings(m.GrantTypes)
	spec.ResponseTypes = cloneStrings(m.ResponseTypes)
	spec.ClientName = m.ClientName
	spec.ClientURI = oauthv1alpha1.WebURL(m.ClientURI)
	spec.LogoURI = oauthv1alpha1.WebURL(m.LogoURI)
	spec.Scope = m.Scope
	spec.Contacts = cloneStrings(m.Contacts)
	spec.TOSURI = oauthv1alpha1.WebURL(m.TOSURI)
	spec.PolicyURI = oauthv1alpha1.WebURL(m.PolicyURI)
	spec.JWKSURI = oauthv1alpha1.HTTPSURL(m.JWKSURI)
	spec.JWKS = nil
	if len(m.JWKS) > 0 {
		spec.JWKS = &apiextensionsv1.JSON{Raw: append([]byte(nil), m.JWKS...)}
	}
	spec.SoftwareID = m.SoftwareID
	spec.SoftwareVersion = m.SoftwareVersion
	spec.ApplicationType = oauthv1alpha1.ApplicationType(m.ApplicationType)
	spec.SectorIdentifierURI = oauthv1alpha1.HTTPSURL(m.SectorIdentifierURI)
	spec.SubjectType = oauthv1alpha1.SubjectType(m.SubjectType)
	spec.IDTokenSignedResponseAlg = m.IDTokenSignedResponseAlg
	spec.IDTokenEncryptedResponseAlg = m.IDTokenEncryptedResponseAlg
	spec.IDTokenEncryptedResponseEnc = m.IDTokenEncryptedResponseEnc
	spec.UserinfoSignedResponseAlg = m.UserinfoSignedResponseAlg
	spec.UserinfoEncryptedResponseAlg = m.UserinfoEncryptedResponseAlg
	spec.UserinfoEncryptedResponseEnc = m.UserinfoEncryptedResponseEnc
	spec.RequestObjectSigningAlg = m.RequestObjectSigningAlg
	spec.RequestObjectEncryptionAlg = m.RequestObjectEncryptionAlg
	spec.RequestObjectEncryptionEnc = m.RequestObjectEncryptionEnc
	spec.TokenEndpointAuthSigningAlg = m.TokenEndpointAuthSigningAlg
	spec.DefaultMaxAge = m.DefaultMaxAge
	spec.RequireAuthTime = m.RequireAuthTime
	spec.DefaultACRValues = cloneStrings(m.DefaultACRValues)
	spec.InitiateLoginURI = oauthv1alpha1.HTTPSURL(m.InitiateLoginURI)
	spec.RequestURIs = nil
	for _, u := range m.RequestURIs {
		spec.RequestURIs = append(spec.RequestURIs, oauthv1alpha1.HTTPSURL(u))
	}
	spec.PostLogoutRedirectURIs = redirects(m.PostLogoutRedirectURIs)
	spec.FrontchannelLogoutURI = oauthv1alpha1.WebURL(m.FrontchannelLogoutURI)
	spec.FrontchannelLogoutSessionRequired = m.FrontchannelLogoutSessionRequired
	spec.BackchannelLogoutURI = oauthv1alpha1.WebURL(m.BackchannelLogoutURI)
	spec.BackchannelLogoutSessionRequired = m.BackchannelLogoutSessionRequired
	spec.TLSClientAuthSubjectDN = m.TLSClientAuthSubjectDN
	spec.TLSClientAuthSANDNS = m.TLSClientAuthSANDNS
	spec.TLSClientAuthSANURI = m.TLSClientAuthSANURI
	spec.TLSClientAuthSANIP = m.TLSClientAuthSANIP
	spec.TLSClientAuthSANEmail = m.TLSClientAuthSANEmail

	spec.ExtraMetadata = nil
	add := func(k string, raw json.RawMessage) {
		if spec.ExtraMetadata == nil {
			spec.ExtraMetadata = map[string]apiextensionsv1.JSON{}
		}
		spec.ExtraMetadata[k] = apiextensionsv1.JSON{Raw: append([]byte(nil), raw...)}
	}
	for k, v := range m.Localized {
		raw, _ := json.Marshal(v)
		add(k, raw)
	}
	for k, v := range m.Extra {
		add(k, v)
	}
}
