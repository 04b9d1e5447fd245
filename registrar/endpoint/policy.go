package endpoint

import (
	"net/url"
	"slices"
	"strings"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// Token endpoint authentication signing algorithms published for
// private_key_jwt and client_secret_jwt (DSC-08: never "none").
var (
	asymmetricAuthAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	hmacAuthAlgs       = []string{"HS256", "HS384", "HS512"}
)

// capabilities is what a server registers, derived once from its Policy,
// ClientPolicy and OIDC flag; the discovery document publishes exactly these lists and
// registration enforces them (DSC-07, DSC-09, DSC-12).
type capabilities struct {
	grantTypes    []string
	authMethods   []string
	responseTypes []string
	authAlgs      []string
	md            metadata.Policy
}

// capabilitiesOf computes the capabilities of srv: what its clients may use
// (ClientPolicy's lists, nil meaning the defaults) narrowed to what its
// registration policy allows.
func capabilitiesOf(srv *Server) capabilities {
	base := srv.ClientPolicy
	c := capabilities{
		grantTypes:  restrict(within(metadata.DefaultGrantTypes(), base.SupportedGrantTypes), srv.Policy.AllowedGrantTypes),
		authMethods: restrict(within(metadata.DefaultAuthMethods(), base.SupportedAuthMethods), srv.Policy.AllowedAuthMethods),
	}
	c.responseTypes = within(responseTypesFor(c.grantTypes, srv.OIDC), base.SupportedResponseTypes)
	if slices.Contains(c.authMethods, metadata.AuthPrivateKeyJWT) {
		c.authAlgs = append(c.authAlgs, asymmetricAuthAlgs...)
	}
	if slices.Contains(c.authMethods, metadata.AuthClientSecretJWT) {
		c.authAlgs = append(c.authAlgs, hmacAuthAlgs...)
	}
	c.md = base
	c.md.OIDC = srv.OIDC
	c.md.SupportedGrantTypes = c.grantTypes
	c.md.SupportedAuthMethods = c.authMethods
	c.md.SupportedResponseTypes = c.responseTypes
	return c
}

// within returns the values of all that limit lists, in the order of all;
// a nil limit is no limit (the metadata.Policy convention), an empty one
// leaves nothing. The result is never nil.
func within(all, limit []string) []string {
	if limit == nil {
		return all
	}
	out := []string{}
	for _, v := range all {
		if slices.Contains(limit, v) {
			out = append(out, v)
		}
	}
	return out
}

// restrict returns the supported values that allowed lists, in the order of
// allowed; an empty allowed list allows every supported value. The result is
// never nil.
func restrict(supported, allowed []string) []string {
	if len(allowed) == 0 {
		return supported
	}
	out := []string{}
	for _, a := range allowed {
		if slices.Contains(supported, a) && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// responseTypesFor lists the response_types values consistent with grants
// (RFC 7591 §2.1, OIDC Registration §2): "code" needs authorization_code,
// "token" and "id_token" need implicit; with OIDC also the combinations and
// "none" (with authorization_code). The result is never nil.
func responseTypesFor(grants []string, oidc bool) []string {
	code := slices.Contains(grants, metadata.GrantAuthorizationCode)
	implicit := slices.Contains(grants, metadata.GrantImplicit)
	out := []string{}
	if code {
		out = append(out, "code")
	}
	if oidc && implicit {
		out = append(out, "id_token", "id_token token")
	}
	if implicit {
		out = append(out, "token")
	}
	if code && implicit {
		out = append(out, "code token")
		if oidc {
			out = append(out, "code id_token", "code id_token token")
		}
	}
	if oidc && code {
		out = append(out, "none")
	}
	return out
}

// checkPolicy applies what metadata.Validate does not know: the method must
// be one of the published ones (absolute-URI extension methods are not
// offered, DSC-07), token_endpoint_auth_signing_alg must be a published one
// (DSC-08, DSC-12), and redirect URI hosts must be allowed (SEC-06).
func checkPolicy(srv *Server, c capabilities, md *metadata.Metadata) metadata.ErrorList {
	var errs metadata.ErrorList
	if !slices.Contains(c.authMethods, md.TokenEndpointAuthMethod) {
		errs = append(errs, &metadata.FieldError{Member: "token_endpoint_auth_method", Index: -1,
			Code: metadata.CodeInvalidClientMetadata, Detail: "is not a supported token endpoint authentication method"})
	}
	if a := md.TokenEndpointAuthSigningAlg; a != "" && !slices.Contains(c.authAlgs, a) {
		errs = append(errs, &metadata.FieldError{Member: "token_endpoint_auth_signing_alg", Index: -1,
			Code: metadata.CodeInvalidClientMetadata, Detail: "is not a supported signing algorithm"})
	}
	if hosts := srv.Policy.AllowedRedirectHosts; len(hosts) > 0 {
		for i, u := range md.RedirectURIs {
			if !hostAllowed(redirectHost(u), hosts) {
				errs = append(errs, &metadata.FieldError{Member: "redirect_uris", Index: i,
					Code: metadata.CodeInvalidRedirectURI, Detail: "host is not allowed by the registration policy"})
			}
		}
	}
	// Redirect URI errors first, like metadata.Validate sorts them.
	slices.SortStableFunc(errs, func(a, b *metadata.FieldError) int {
		return rank(a.Code) - rank(b.Code)
	})
	return errs
}

func rank(c metadata.ErrorCode) int {
	if c == metadata.CodeInvalidRedirectURI {
		return 0
	}
	return 1
}

// redirectHost returns the lower-cased host of a (validated) redirect URI, or
// for a private-use scheme its reversed domain name (com.example.app ->
// app.example.com); "" when there is none.
func redirectHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.Host != "" {
		return strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	}
	labels := strings.Split(strings.ToLower(u.Scheme), ".")
	if len(labels) < 2 {
		return ""
	}
	slices.Reverse(labels)
	return strings.Join(labels, ".")
}

// hostAllowed matches host against the allow-list: exact names (case
// insensitive, brackets around IPv6 literals optional) or "*.suffix" for any
// proper subdomain of suffix.
func hostAllowed(host string, allowed []string) bool {
	if host == "" {
		return false
	}
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSuffix(strings.Trim(a, "[]"), "."))
		if suffix, ok := strings.CutPrefix(a, "*."); ok {
			if suffix != "" && strings.HasSuffix(host, "."+suffix) {
				return true
			}
			continue
		}
		if a == host {
			return true
		}
	}
	return false
}
