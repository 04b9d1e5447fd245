package metadata

// Grant type values (RFC 7591 §2, RFC 8628, RFC 8693).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantImplicit          = "implicit"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantSAML2Bearer       = "urn:ietf:params:oauth:grant-type:saml2-bearer"
	GrantDeviceCode        = "urn:ietf:params:oauth:grant-type:device_code"
	GrantTokenExchange     = "urn:ietf:params:oauth:grant-type:token-exchange"
)

// Token endpoint authentication methods (RFC 7591 §2, OIDC Core §9, RFC 8705).
const (
	AuthNone                    = "none"
	AuthClientSecretBasic       = "client_secret_basic"
	AuthClientSecretPost        = "client_secret_post"
	AuthClientSecretJWT         = "client_secret_jwt"
	AuthPrivateKeyJWT           = "private_key_jwt"
	AuthTLSClientAuth           = "tls_client_auth"
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// OpenID Connect application_type values (OIDC Registration §2).
const (
	ApplicationTypeWeb    = "web"
	ApplicationTypeNative = "native"
)

// OpenID Connect subject_type values (OIDC Core §8).
const (
	SubjectTypePublic   = "public"
	SubjectTypePairwise = "pairwise"
)

const (
	defaultEncryptionEnc        = "A128CBC-HS256" // OIDC Registration §2 *_enc default
	defaultMaxRedirectURIs      = 100
	defaultMaxStringLength      = 2048
	defaultMaxListLength        = 100
	defaultMaxJWKSBytes         = 64 << 10
	defaultMaxSoftwareStatement = 16 << 10
)

// Policy tunes validation. The zero value is the plain RFC 7591 policy with
// the documented defaults.
type Policy struct {
	// OIDC applies the OpenID Connect Dynamic Registration rules that depend on
	// the server being an OpenID Provider: the application_type default and its
	// redirect URI rules (REG-12) and the pairwise sector identifier rule.
	// Members that are present are always checked, with or without OIDC.
	OIDC bool
	// AllowLocalhostName accepts the host name "localhost" for http loopback
	// redirect URIs. Loopback IP literals are always accepted (REG-13).
	AllowLocalhostName bool
	// SupportedGrantTypes lists the grant types clients may register; nil means
	// DefaultGrantTypes() (REG-20).
	SupportedGrantTypes []string
	// SupportedAuthMethods lists the token endpoint auth methods; nil means
	// DefaultAuthMethods(). An absolute URI is accepted as well (REG-21).
	SupportedAuthMethods []string
	// SupportedSubjectTypes lists the OIDC subject types; nil means public and
	// pairwise (REG-40).
	SupportedSubjectTypes []string
	// SupportedResponseTypes, when non-nil, restricts response_types to these
	// values, compared as sets of words ("id_token code" = "code id_token").
	// nil allows every combination of code and token, and with OIDC also
	// id_token and the lone value "none".
	SupportedResponseTypes []string
	// AllowPrivateFetchTargets accepts jwks_uri, sector_identifier_uri and
	// request_uris whose host is "localhost" or a loopback, private, link-local
	// or otherwise non-global IP literal. Off by default (SEC-13); the fetcher
	// must still check the resolved addresses.
	AllowPrivateFetchTargets bool
	// ServerIssuesKeys says the server generates the key pair of a
	// private_key_jwt client that brings no jwks or jwks_uri (a Client ID
	// Metadata Document server), so REG-22 does not ask for them.
	ServerIssuesKeys bool
	// MaxRedirectURIs bounds len(redirect_uris); 0 means 100 (REG-45).
	MaxRedirectURIs int
	// MaxStringLength bounds every string value in bytes; 0 means 2048. It also
	// bounds member names and the encoded size of each Extra value.
	MaxStringLength int
	// MaxListLength bounds every other list, the number of JWKs, of Localized
	// members and of Extra members; 0 means 100.
	MaxListLength int
	// MaxJWKSBytes bounds the encoded jwks member; 0 means 65536.
	MaxJWKSBytes int
	// MaxSoftwareStatementBytes bounds software_statement; 0 means 16384.
	MaxSoftwareStatementBytes int
}

// DefaultGrantTypes returns the grant types supported when
// Policy.SupportedGrantTypes is nil. The result is a fresh slice.
func DefaultGrantTypes() []string {
	return []string{
		GrantAuthorizationCode,
		GrantImplicit,
		GrantRefreshToken,
		GrantClientCredentials,
		GrantPassword,
		GrantJWTBearer,
		GrantSAML2Bearer,
		GrantDeviceCode,
		GrantTokenExchange,
	}
}

// DefaultAuthMethods returns the token endpoint auth methods supported when
// Policy.SupportedAuthMethods is nil. The result is a fresh slice.
func DefaultAuthMethods() []string {
	return []string{
		AuthNone,
		AuthClientSecretBasic,
		AuthClientSecretPost,
		AuthClientSecretJWT,
		AuthPrivateKeyJWT,
		AuthTLSClientAuth,
		AuthSelfSignedTLSClientAuth,
	}
}

// limits is a Policy with defaults applied.
type limits struct {
	redirects, str, list, jwks, stmt int
	grants, methods, subjects        []string
}

func (p Policy) limits() limits {
	l := limits{
		redirects: orDefault(p.MaxRedirectURIs, defaultMaxRedirectURIs),
		str:       orDefault(p.MaxStringLength, defaultMaxStringLength),
		list:      orDefault(p.MaxListLength, defaultMaxListLength),
		jwks:      orDefault(p.MaxJWKSBytes, defaultMaxJWKSBytes),
		stmt:      orDefault(p.MaxSoftwareStatementBytes, defaultMaxSoftwareStatement),
		grants:    p.SupportedGrantTypes,
		methods:   p.SupportedAuthMethods,
		subjects:  p.SupportedSubjectTypes,
	}
	if l.grants == nil {
		l.grants = DefaultGrantTypes()
	}
	if l.methods == nil {
		l.methods = DefaultAuthMethods()
	}
	if l.subjects == nil {
		l.subjects = []string{SubjectTypePublic, SubjectTypePairwise}
	}
	return l
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
