package metadata

import (
	"bytes"
	"encoding/json"
	"errors"
	"sort"
	"strings"

	"github.com/clientreg/clientreg/registrar/internal/jsonenc"
)

// Wire names of the members this package understands.
const (
	mRedirectURIs                      = "redirect_uris"
	mTokenEndpointAuthMethod           = "token_endpoint_auth_method"
	mGrantTypes                        = "grant_types"
	mResponseTypes                     = "response_types"
	mClientName                        = "client_name"
	mClientURI                         = "client_uri"
	mLogoURI                           = "logo_uri"
	mScope                             = "scope"
	mContacts                          = "contacts"
	mTOSURI                            = "tos_uri"
	mPolicyURI                         = "policy_uri"
	mJWKSURI                           = "jwks_uri"
	mJWKS                              = "jwks"
	mSoftwareID                        = "software_id"
	mSoftwareVersion                   = "software_version"
	mSoftwareStatement                 = "software_statement"
	mApplicationType                   = "application_type"
	mSectorIdentifierURI               = "sector_identifier_uri"
	mSubjectType                       = "subject_type"
	mIDTokenSignedResponseAlg          = "id_token_signed_response_alg"
	mIDTokenEncryptedResponseAlg       = "id_token_encrypted_response_alg"
	mIDTokenEncryptedResponseEnc       = "id_token_encrypted_response_enc"
	mUserinfoSignedResponseAlg         = "userinfo_signed_response_alg"
	mUserinfoEncryptedResponseAlg      = "userinfo_encrypted_response_alg"
	mUserinfoEncryptedResponseEnc      = "userinfo_encrypted_response_enc"
	mRequestObjectSigningAlg           = "request_object_signing_alg"
	mRequestObjectEncryptionAlg        = "request_object_encryption_alg"
	mRequestObjectEncryptionEnc        = "request_object_encryption_enc"
	mTokenEndpointAuthSigningAlg       = "token_endpoint_auth_signing_alg"
	mDefaultMaxAge                     = "default_max_age"
	mRequireAuthTime                   = "require_auth_time"
	mDefaultACRValues                  = "default_acr_values"
	mInitiateLoginURI                  = "initiate_login_uri"
	mRequestURIs                       = "request_uris"
	mPostLogoutRedirectURIs            = "post_logout_redirect_uris"
	mFrontchannelLogoutURI             = "frontchannel_logout_uri"
	mFrontchannelLogoutSessionRequired = "frontchannel_logout_session_required"
	mBackchannelLogoutURI              = "backchannel_logout_uri"
	mBackchannelLogoutSessionRequired  = "backchannel_logout_session_required"
	mTLSClientAuthSubjectDN            = "tls_client_auth_subject_dn"
	mTLSClientAuthSANDNS               = "tls_client_auth_san_dns"
	mTLSClientAuthSANURI               = "tls_client_auth_san_uri"
	mTLSClientAuthSANIP                = "tls_client_auth_san_ip"
	mTLSClientAuthSANEmail             = "tls_client_auth_san_email"
)

// humanReadable lists the members that may carry a "#" BCP 47 language tag
// (RFC 7591 §2.2, OIDC Registration §2.1). Any other "name#tag" is an unknown
// member (REG-31).
var humanReadable = map[string]bool{
	mClientName: true, mClientURI: true, mLogoURI: true, mTOSURI: true, mPolicyURI: true,
}

// ignoredMembers are the registration response members a client must not
// choose; Decode drops them and MarshalJSON never emits them from Extra (REG-38).
var ignoredMembers = map[string]bool{
	"client_id":                 true,
	"client_secret":             true,
	"client_id_issued_at":       true,
	"client_secret_expires_at":  true,
	"registration_access_token": true,
	"registration_client_uri":   true,
}

// Metadata is the RFC 7591 / OpenID Connect client metadata, with JSON member
// names as on the wire.
//
// Always marshal a *Metadata: MarshalJSON has a pointer receiver, and a
// Metadata value encoded by encoding/json field by field loses Localized and
// Extra. Do not embed *Metadata in a response struct either: its MarshalJSON
// is promoted and hides the outer fields (client_id, ...); add those members
// to the encoded object instead. Empty strings and nil pointers mean "absent". ResponseTypes
// distinguishes nil (absent) from a non-nil empty slice ("response_types":[]).
type Metadata struct {
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	// ResponseTypes: nil = absent, non-nil empty = "response_types": [].
	ResponseTypes     []string        `json:"response_types,omitzero"`
	ClientName        string          `json:"client_name,omitempty"`
	ClientURI         string          `json:"client_uri,omitempty"`
	LogoURI           string          `json:"logo_uri,omitempty"`
	Scope             string          `json:"scope,omitempty"`
	TOSURI            string          `json:"tos_uri,omitempty"`
	PolicyURI         string          `json:"policy_uri,omitempty"`
	JWKSURI           string          `json:"jwks_uri,omitempty"`
	Contacts          []string        `json:"contacts,omitempty"`
	JWKS              json.RawMessage `json:"jwks,omitempty"` // a JWK Set object
	SoftwareID        string          `json:"software_id,omitempty"`
	SoftwareVersion   string          `json:"software_version,omitempty"`
	SoftwareStatement string          `json:"software_statement,omitempty"` // kept verbatim (RSP-08)

	// OpenID Connect Dynamic Client Registration 1.0 members.
	ApplicationType              string   `json:"application_type,omitempty"`
	SectorIdentifierURI          string   `json:"sector_identifier_uri,omitempty"`
	SubjectType                  string   `json:"subject_type,omitempty"`
	IDTokenSignedResponseAlg     string   `json:"id_token_signed_response_alg,omitempty"`
	IDTokenEncryptedResponseAlg  string   `json:"id_token_encrypted_response_alg,omitempty"`
	IDTokenEncryptedResponseEnc  string   `json:"id_token_encrypted_response_enc,omitempty"`
	UserinfoSignedResponseAlg    string   `json:"userinfo_signed_response_alg,omitempty"`
	UserinfoEncryptedResponseAlg string   `json:"userinfo_encrypted_response_alg,omitempty"`
	UserinfoEncryptedResponseEnc string   `json:"userinfo_encrypted_response_enc,omitempty"`
	RequestObjectSigningAlg      string   `json:"request_object_signing_alg,omitempty"`
	RequestObjectEncryptionAlg   string   `json:"request_object_encryption_alg,omitempty"`
	RequestObjectEncryptionEnc   string   `json:"request_object_encryption_enc,omitempty"`
	TokenEndpointAuthSigningAlg  string   `json:"token_endpoint_auth_signing_alg,omitempty"`
	DefaultMaxAge                *int64   `json:"default_max_age,omitempty"`
	RequireAuthTime              *bool    `json:"require_auth_time,omitempty"`
	DefaultACRValues             []string `json:"default_acr_values,omitempty"`
	InitiateLoginURI             string   `json:"initiate_login_uri,omitempty"`
	RequestURIs                  []string `json:"request_uris,omitempty"`
	// PostLogoutRedirectURIs is from OpenID Connect RP-Initiated Logout 1.0.
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris,omitempty"`
	// FrontchannelLogoutURI and FrontchannelLogoutSessionRequired are from
	// OpenID Connect Front-Channel Logout 1.0.
	FrontchannelLogoutURI             string `json:"frontchannel_logout_uri,omitempty"`
	FrontchannelLogoutSessionRequired *bool  `json:"frontchannel_logout_session_required,omitempty"`
	// BackchannelLogoutURI and BackchannelLogoutSessionRequired are from
	// OpenID Connect Back-Channel Logout 1.0.
	BackchannelLogoutURI             string `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired *bool  `json:"backchannel_logout_session_required,omitempty"`

	// RFC 8705 §2.1.2 subject parameters for tls_client_auth.
	TLSClientAuthSubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string `json:"tls_client_auth_san_email,omitempty"`

	// Localized holds language-tagged human-readable members verbatim, keyed by
	// the full member name, for example "client_name#ja-Jpan-JP". Only
	// client_name, client_uri, logo_uri, tos_uri and policy_uri take tags.
	Localized map[string]string `json:"-"`
	// Extra holds other members passed through verbatim (server-specific
	// metadata). It never overrides a known member: MarshalJSON skips keys that
	// name a known member, a language-tagged human-readable member or a
	// registration response credential (client_id, client_secret, ...).
	Extra map[string]json.RawMessage `json:"-"`
}

// memberKind is the JSON type of a known member.
type memberKind int

const (
	kindString memberKind = iota
	kindStrings
	kindBool
	kindInt
	kindObject
)

// memberRef binds a known member name to its field in one Metadata.
type memberRef struct {
	name string
	kind memberKind
	str  *string
	strs *[]string
	b    **bool
	i    **int64
	raw  *json.RawMessage
}

func str(name string, p *string) memberRef { return memberRef{name: name, kind: kindString, str: p} }
func strs(name string, p *[]string) memberRef {
	return memberRef{name: name, kind: kindStrings, strs: p}
}
func boolean(name string, p **bool) memberRef  { return memberRef{name: name, kind: kindBool, b: p} }
func integer(name string, p **int64) memberRef { return memberRef{name: name, kind: kindInt, i: p} }

// members returns every known member of m, bound to m's fields.
func (m *Metadata) members() []memberRef {
	return []memberRef{
		strs(mRedirectURIs, &m.RedirectURIs),
		str(mTokenEndpointAuthMethod, &m.TokenEndpointAuthMethod),
		strs(mGrantTypes, &m.GrantTypes),
		strs(mResponseTypes, &m.ResponseTypes),
		str(mClientName, &m.ClientName),
		str(mClientURI, &m.ClientURI),
		str(mLogoURI, &m.LogoURI),
		str(mScope, &m.Scope),
		str(mTOSURI, &m.TOSURI),
		str(mPolicyURI, &m.PolicyURI),
		str(mJWKSURI, &m.JWKSURI),
		strs(mContacts, &m.Contacts),
		{name: mJWKS, kind: kindObject, raw: &m.JWKS},
		str(mSoftwareID, &m.SoftwareID),
		str(mSoftwareVersion, &m.SoftwareVersion),
		str(mSoftwareStatement, &m.SoftwareStatement),
		str(mApplicationType, &m.ApplicationType),
		str(mSectorIdentifierURI, &m.SectorIdentifierURI),
		str(mSubjectType, &m.SubjectType),
		str(mIDTokenSignedResponseAlg, &m.IDTokenSignedResponseAlg),
		str(mIDTokenEncryptedResponseAlg, &m.IDTokenEncryptedResponseAlg),
		str(mIDTokenEncryptedResponseEnc, &m.IDTokenEncryptedResponseEnc),
		str(mUserinfoSignedResponseAlg, &m.UserinfoSignedResponseAlg),
		str(mUserinfoEncryptedResponseAlg, &m.UserinfoEncryptedResponseAlg),
		str(mUserinfoEncryptedResponseEnc, &m.UserinfoEncryptedResponseEnc),
		str(mRequestObjectSigningAlg, &m.RequestObjectSigningAlg),
		str(mRequestObjectEncryptionAlg, &m.RequestObjectEncryptionAlg),
		str(mRequestObjectEncryptionEnc, &m.RequestObjectEncryptionEnc),
		str(mTokenEndpointAuthSigningAlg, &m.TokenEndpointAuthSigningAlg),
		integer(mDefaultMaxAge, &m.DefaultMaxAge),
		boolean(mRequireAuthTime, &m.RequireAuthTime),
		strs(mDefaultACRValues, &m.DefaultACRValues),
		str(mInitiateLoginURI, &m.InitiateLoginURI),
		strs(mRequestURIs, &m.RequestURIs),
		strs(mPostLogoutRedirectURIs, &m.PostLogoutRedirectURIs),
		str(mFrontchannelLogoutURI, &m.FrontchannelLogoutURI),
		boolean(mFrontchannelLogoutSessionRequired, &m.FrontchannelLogoutSessionRequired),
		str(mBackchannelLogoutURI, &m.BackchannelLogoutURI),
		boolean(mBackchannelLogoutSessionRequired, &m.BackchannelLogoutSessionRequired),
		str(mTLSClientAuthSubjectDN, &m.TLSClientAuthSubjectDN),
		str(mTLSClientAuthSANDNS, &m.TLSClientAuthSANDNS),
		str(mTLSClientAuthSANURI, &m.TLSClientAuthSANURI),
		str(mTLSClientAuthSANIP, &m.TLSClientAuthSANIP),
		str(mTLSClientAuthSANEmail, &m.TLSClientAuthSANEmail),
	}
}

// knownMembers is the set of member names bound by members.
var knownMembers = func() map[string]bool {
	set := map[string]bool{}
	for _, r := range new(Metadata).members() {
		set[r.name] = true
	}
	return set
}()

// isLocalizedName reports whether name is "<human-readable member>#<anything>".
// Decode and MarshalJSON use this same predicate; Validate checks the tag.
func isLocalizedName(name string) bool {
	base, _, ok := strings.Cut(name, "#")
	return ok && humanReadable[base]
}

// isReservedExtraName reports whether an Extra key would shadow a member that
// is modelled elsewhere or must never be client-controlled.
func isReservedExtraName(name string) bool {
	return knownMembers[name] || ignoredMembers[name] || isLocalizedName(name)
}

// MarshalJSON encodes the known members that are set, then Localized and
// Extra, as one JSON object with keys in sorted order and without HTML
// escaping. A non-nil empty ResponseTypes is written as "response_types":[].
// Extra keys that are reserved (see Extra) and Localized keys that are not
// language-tagged human-readable members are skipped. A nil m encodes as null.
func (m *Metadata) MarshalJSON() ([]byte, error) {
	if m == nil {
		return []byte("null"), nil
	}
	type kv struct {
		key string
		val []byte
	}
	var out []kv
	add := func(key string, v any) error {
		b, err := jsonenc.Marshal(v)
		if err != nil {
			return err
		}
		out = append(out, kv{key, b})
		return nil
	}
	for _, r := range m.members() {
		var err error
		switch r.kind {
		case kindString:
			if *r.str != "" {
				err = add(r.name, *r.str)
			}
		case kindStrings:
			if len(*r.strs) > 0 || (r.name == mResponseTypes && *r.strs != nil) {
				err = add(r.name, *r.strs)
			}
		case kindBool:
			if *r.b != nil {
				err = add(r.name, **r.b)
			}
		case kindInt:
			if *r.i != nil {
				err = add(r.name, **r.i)
			}
		case kindObject:
			if len(*r.raw) > 0 {
				var b []byte
				b, err = compactJSON(*r.raw)
				if err == nil {
					out = append(out, kv{r.name, b})
				}
			}
		}
		if err != nil {
			return nil, errors.New("metadata: cannot encode " + r.name + ": " + err.Error())
		}
	}
	for k, v := range m.Localized {
		if !isLocalizedName(k) {
			continue
		}
		if err := add(k, v); err != nil {
			return nil, err
		}
	}
	for k, v := range m.Extra {
		if isReservedExtraName(k) {
			continue
		}
		b, err := compactJSON(v)
		if err != nil {
			return nil, errors.New("metadata: cannot encode an extra member: " + err.Error())
		}
		out = append(out, kv{k, b})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, e := range out {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, err := jsonenc.Marshal(e.key)
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(e.val)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON decodes data like Decode(data, true): unknown members are kept
// in Extra, registration response credentials (client_id, ...) are dropped.
// On error m is left unchanged and the error is an ErrorList.
func (m *Metadata) UnmarshalJSON(data []byte) error {
	d, err := Decode(data, true)
	if err != nil {
		return err
	}
	*m = *d
	return nil
}

// compactJSON validates raw and returns a compacted copy.
func compactJSON(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DeepCopy returns a copy of m sharing no memory with it (nil for nil). A
// non-nil empty slice stays non-nil empty.
func (m *Metadata) DeepCopy() *Metadata {
	if m == nil {
		return nil
	}
	c := *m
	c.RedirectURIs = copyStrings(m.RedirectURIs)
	c.GrantTypes = copyStrings(m.GrantTypes)
	c.ResponseTypes = copyStrings(m.ResponseTypes)
	c.Contacts = copyStrings(m.Contacts)
	c.DefaultACRValues = copyStrings(m.DefaultACRValues)
	c.RequestURIs = copyStrings(m.RequestURIs)
	c.PostLogoutRedirectURIs = copyStrings(m.PostLogoutRedirectURIs)
	if m.JWKS != nil {
		c.JWKS = append(json.RawMessage{}, m.JWKS...)
	}
	c.DefaultMaxAge = copyPtr(m.DefaultMaxAge)
	c.RequireAuthTime = copyPtr(m.RequireAuthTime)
	c.FrontchannelLogoutSessionRequired = copyPtr(m.FrontchannelLogoutSessionRequired)
	c.BackchannelLogoutSessionRequired = copyPtr(m.BackchannelLogoutSessionRequired)
	if m.Localized != nil {
		c.Localized = make(map[string]string, len(m.Localized))
		for k, v := range m.Localized {
			c.Localized[k] = v
		}
	}
	if m.Extra != nil {
		c.Extra = make(map[string]json.RawMessage, len(m.Extra))
		for k, v := range m.Extra {
			if v != nil {
				v = append(json.RawMessage{}, v...)
			}
			c.Extra[k] = v
		}
	}
	return &c
}

func copyStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append(make([]string, 0, len(s)), s...)
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// effectiveGrantTypes returns the grant types, or the RFC 7591 §2 default
// [authorization_code] when none are set.
func (m *Metadata) effectiveGrantTypes() []string {
	if len(m.GrantTypes) == 0 {
		return []string{GrantAuthorizationCode}
	}
	return m.GrantTypes
}

// UsesRedirects reports whether the grant types include authorization_code or
// implicit, that is whether the client needs redirect_uris (REG-07). Empty
// GrantTypes count as the RFC 7591 default [authorization_code].
func (m *Metadata) UsesRedirects() bool {
	for _, g := range m.effectiveGrantTypes() {
		if g == GrantAuthorizationCode || g == GrantImplicit {
			return true
		}
	}
	return false
}

// NeedsSecret reports whether the authorization server must issue a
// client_secret: the token endpoint auth method is client_secret_basic,
// client_secret_post or client_secret_jwt (an empty method counts as the RFC
// 7591 default client_secret_basic), or an OpenID Connect signing or
// encryption algorithm member names a symmetric algorithm (HS256/384/512, dir,
// AES key wrap, PBES2), whose key OIDC Core §10 derives from the client
// secret. Validate rejects the latter with token_endpoint_auth_method "none".
func (m *Metadata) NeedsSecret() bool {
	switch m.TokenEndpointAuthMethod {
	case "", AuthClientSecretBasic, AuthClientSecretPost, AuthClientSecretJWT:
		return true
	}
	return m.symmetricAlgMember() != ""
}

// SymmetricAlgMember returns the name of the first OpenID Connect algorithm
// member that names a symmetric (client-secret based) algorithm, or "".
func (m *Metadata) SymmetricAlgMember() string { return m.symmetricAlgMember() }

// symmetricAlgMember returns the first OIDC algorithm member that names a
// symmetric (client-secret based) algorithm, or "".
func (m *Metadata) symmetricAlgMember() string {
	for _, a := range m.algMembers() {
		if !a.enc && isSymmetricAlg(a.val) {
			return a.name
		}
	}
	return ""
}

// algMember is an OpenID Connect algorithm member: its name and value, and
// whether it names a content encryption ("enc") rather than an "alg".
type algMember struct {
	name, val string
	enc       bool
}

// algMembers returns the OpenID Connect signing and encryption algorithm
// members, set or not.
func (m *Metadata) algMembers() [10]algMember {
	return [10]algMember{
		{mIDTokenSignedResponseAlg, m.IDTokenSignedResponseAlg, false},
		{mIDTokenEncryptedResponseAlg, m.IDTokenEncryptedResponseAlg, false},
		{mIDTokenEncryptedResponseEnc, m.IDTokenEncryptedResponseEnc, true},
		{mUserinfoSignedResponseAlg, m.UserinfoSignedResponseAlg, false},
		{mUserinfoEncryptedResponseAlg, m.UserinfoEncryptedResponseAlg, false},
		{mUserinfoEncryptedResponseEnc, m.UserinfoEncryptedResponseEnc, true},
		{mRequestObjectSigningAlg, m.RequestObjectSigningAlg, false},
		{mRequestObjectEncryptionAlg, m.RequestObjectEncryptionAlg, false},
		{mRequestObjectEncryptionEnc, m.RequestObjectEncryptionEnc, true},
		{mTokenEndpointAuthSigningAlg, m.TokenEndpointAuthSigningAlg, false},
	}
}

// isSymmetricAlg reports whether a JWS or JWE "alg" value uses a shared secret.
func isSymmetricAlg(alg string) bool {
	switch alg {
	case "HS256", "HS384", "HS512", "dir",
		"A128KW", "A192KW", "A256KW", "A128GCMKW", "A192GCMKW", "A256GCMKW":
		return true
	}
	return strings.HasPrefix(alg, "PBES2-")
}

// IsLocalizedName reports whether name is a language-tagged member of a
// human-readable field, such as "client_name#ja-Jpan-JP" (RFC 7591 §2.2).
func IsLocalizedName(name string) bool { return isLocalizedName(name) }

// IsKnownMember reports whether name is a member this model has a field for.
func IsKnownMember(name string) bool { return knownMembers[name] }
