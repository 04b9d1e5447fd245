package metadata

// WithDefaults returns a copy of m with the RFC 7591 §2 defaults filled in; it
// never mutates m (a nil m counts as empty metadata). Substituted values are
// part of the registered metadata and must be returned (REG-17, RSP-06).
//
//   - grant_types: [authorization_code] when absent or empty.
//   - response_types, when absent: derived from grant_types so that defaulting
//     never creates an inconsistency (REG-19, Appendix B.11): "code" if
//     authorization_code is registered, "token" if implicit is (the RFC 7591
//     §2.1 pairing), else [] (a non-nil empty slice, encoded as []).
//   - token_endpoint_auth_method: client_secret_basic, or the first entry of
//     Policy.SupportedAuthMethods when that list excludes client_secret_basic.
//   - with Policy.OIDC: application_type web, and A128CBC-HS256 for each
//     *_encrypted_response_enc / request_object_encryption_enc whose *_alg is
//     set (OIDC Registration §2).
func WithDefaults(m *Metadata, p Policy) *Metadata {
	return withDefaults(m, p)
}

// RFCDefaults returns a copy of m with the defaults of RFC 7591 §2 alone,
// those no server policy changes: what grant_types, response_types and
// token_endpoint_auth_method mean when absent. The backends use it to read a
// client's metadata (does it use redirects, does it need a secret) the way
// the RFC defines it, whatever server it is registered at.
func RFCDefaults(m *Metadata) *Metadata {
	return withDefaults(m, Policy{})
}

func withDefaults(m *Metadata, p Policy) *Metadata {
	out := m.DeepCopy()
	if out == nil {
		out = &Metadata{}
	}
	if len(out.GrantTypes) == 0 {
		out.GrantTypes = []string{GrantAuthorizationCode}
	}
	if out.ResponseTypes == nil {
		rt := []string{}
		if contains(out.GrantTypes, GrantAuthorizationCode) {
			rt = append(rt, "code")
		}
		if contains(out.GrantTypes, GrantImplicit) {
			rt = append(rt, "token")
		}
		out.ResponseTypes = rt
	}
	if out.TokenEndpointAuthMethod == "" {
		out.TokenEndpointAuthMethod = AuthClientSecretBasic
		if s := p.SupportedAuthMethods; s != nil && !contains(s, AuthClientSecretBasic) && len(s) > 0 {
			out.TokenEndpointAuthMethod = s[0]
		}
	}
	if p.OIDC {
		if out.ApplicationType == "" {
			out.ApplicationType = ApplicationTypeWeb
		}
		defaultEnc(out.IDTokenEncryptedResponseAlg, &out.IDTokenEncryptedResponseEnc)
		defaultEnc(out.UserinfoEncryptedResponseAlg, &out.UserinfoEncryptedResponseEnc)
		defaultEnc(out.RequestObjectEncryptionAlg, &out.RequestObjectEncryptionEnc)
	}
	return out
}

func defaultEnc(alg string, enc *string) {
	if alg != "" && *enc == "" {
		*enc = defaultEncryptionEnc
	}
}
