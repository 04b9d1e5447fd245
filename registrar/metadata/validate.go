package metadata

import (
	"encoding/json"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Validate checks m against every rule and returns all violations, never only
// the first; the result is empty when m is valid. m should already carry
// defaults (WithDefaults); absent grant_types, response_types and
// token_endpoint_auth_method are judged by the values WithDefaults would fill
// in. A nil m counts as empty metadata.
//
// Redirect URI problems have code invalid_redirect_uri, everything else
// invalid_client_metadata. The list is stably sorted by code precedence (see
// ErrorList.Code), so l[0] is the primary error; within one code, errors follow
// the order of the checks below.
func Validate(m *Metadata, p Policy) ErrorList {
	if m == nil {
		m = &Metadata{}
	}
	v := &validator{m: m, p: p, l: p.limits()}
	v.redirectURIs()
	v.grantAndResponseTypes()
	v.keys()
	v.authMethod()
	v.scope()
	v.humanReadable()
	v.software()
	v.contacts()
	v.oidc()
	v.tlsSubject()
	v.extra()
	v.errs.sortByPrecedence()
	return v.errs
}

// validator accumulates the violations of one Validate call.
type validator struct {
	m     *Metadata
	p     Policy
	l     limits
	errs  ErrorList
	rts   []rtSet // parsed response types, valid ones only
	nKeys int     // number of JWKs, -1 if jwks is absent or malformed
}

// rtSet is one parsed response_types value: a set of words.
type rtSet struct {
	index int
	words map[string]bool
}

func (v *validator) add(member string, index int, detail, value string) {
	v.errs = append(v.errs, &FieldError{Member: member, Index: index, Code: codeFor(member),
		Detail: detail, Value: value})
}

// plain checks a string value's length, encoding and characters (REG-45). It
// reports at most one error and returns whether s passed. Values are shown
// only when show is set (never for secrets or statements).
func (v *validator) plain(member string, index int, s string, maxLen int, show bool) bool {
	detail := ""
	switch {
	case len(s) > maxLen:
		detail, show = "is too long", false // REG-45
	case !utf8.ValidString(s):
		detail = "must be valid UTF-8"
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		detail = "must not contain control characters"
	default:
		return true
	}
	value := ""
	if show {
		value = shown(s)
	}
	v.add(member, index, detail, value)
	return false
}

// list checks a list's length (REG-45). It returns false when the list is too
// long; its elements are then not examined.
func (v *validator) list(member string, items []string, maxItems int) bool {
	if len(items) > maxItems {
		v.add(member, -1, "has too many entries", "")
		return false
	}
	return true
}

// uri checks a single URI-valued member.
func (v *validator) uri(member string, index int, raw string, r uriRule) {
	r.allowLocalhostName = v.p.AllowLocalhostName
	r.allowPrivateTarget = v.p.AllowPrivateFetchTargets
	if detail := checkURI(raw, r, v.l.str); detail != "" {
		v.add(member, index, detail, shown(raw))
	}
}

// redirectURIs applies REG-07 to REG-12 and REG-45 to redirect_uris.
func (v *validator) redirectURIs() {
	uris := v.m.RedirectURIs
	if len(uris) == 0 {
		if v.m.UsesRedirects() {
			// REG-07: required for redirect-based grants, including the default.
			v.add(mRedirectURIs, -1, "is required for the authorization_code and implicit grant types", "")
		}
		return
	}
	if len(uris) > v.l.redirects {
		// REG-45: a limit, reported as invalid_client_metadata (the REG-45 test).
		v.errs = append(v.errs, &FieldError{Member: mRedirectURIs, Index: -1,
			Code: CodeInvalidClientMetadata, Detail: "has too many entries"})
		return
	}
	implicit := contains(v.m.effectiveGrantTypes(), GrantImplicit)
	seen := make(map[string]bool, len(uris))
	for i, u := range uris {
		if fe := ValidateRedirectURI(u, v.m.ApplicationType, implicit, v.p); fe != nil {
			fe.Index = i
			v.errs = append(v.errs, fe)
			continue
		}
		// Raw string comparison, never re-serialized (REG-11).
		if seen[u] {
			v.add(mRedirectURIs, i, "duplicates an earlier redirect URI", shown(u))
		}
		seen[u] = true
	}
}

// responseWords are the response type words known per mode (RFC 6749 §3.1.1,
// OAuth 2.0 Multiple Response Type Encoding Practices, OIDC Core §3).
var (
	oauthResponseWords = map[string]bool{"code": true, "token": true}
	oidcResponseWords  = map[string]bool{"code": true, "token": true, "id_token": true, "none": true}
)

// parseResponseType splits a response_types value into its set of words, or
// returns a detail.
func parseResponseType(s string, oidc bool) (map[string]bool, string) {
	known := oauthResponseWords
	if oidc {
		known = oidcResponseWords
	}
	words := map[string]bool{}
	for _, w := range strings.Split(s, " ") {
		switch {
		case w == "":
			return nil, "must be response type names separated by single spaces"
		case !known[w]:
			return nil, "is not a supported response type"
		case words[w]:
			return nil, "repeats a response type name"
		}
		words[w] = true
	}
	if words["none"] && len(words) > 1 {
		return nil, "must not combine none with other response types"
	}
	return words, ""
}

func setKey(words map[string]bool) string {
	keys := make([]string, 0, len(words))
	for w := range words {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	return strings.Join(keys, " ")
}

// effectiveResponseTypes returns response_types, or what the RFC 7591
// defaults derive when absent.
func (v *validator) effectiveResponseTypes() []string {
	if v.m.ResponseTypes != nil {
		return v.m.ResponseTypes
	}
	return RFCDefaults(&Metadata{GrantTypes: v.m.GrantTypes}).ResponseTypes
}

// grantAndResponseTypes applies REG-05, REG-18, REG-20 and REG-45.
func (v *validator) grantAndResponseTypes() {
	grantsOK := true
	if gts := v.m.GrantTypes; v.list(mGrantTypes, gts, v.l.list) {
		seen := map[string]bool{}
		for i, g := range gts {
			if !v.plain(mGrantTypes, i, g, v.l.str, true) {
				grantsOK = false
				continue
			}
			switch {
			case !contains(v.l.grants, g):
				// REG-20; exact, case-sensitive comparison (REG-05).
				v.add(mGrantTypes, i, "is not a supported grant type", shown(g))
				grantsOK = false
			case seen[g]:
				v.add(mGrantTypes, i, "duplicates an earlier grant type", shown(g))
			}
			seen[g] = true
		}
	} else {
		grantsOK = false
	}

	rts := v.effectiveResponseTypes()
	explicitRT := v.m.ResponseTypes != nil
	rtsOK := true
	if v.list(mResponseTypes, rts, v.l.list) {
		var supported map[string]bool
		if v.p.SupportedResponseTypes != nil {
			supported = map[string]bool{}
			for _, s := range v.p.SupportedResponseTypes {
				if w, d := parseResponseType(s, true); d == "" {
					supported[setKey(w)] = true
				}
			}
		}
		seen := map[string]bool{}
		for i, s := range rts {
			if !v.plain(mResponseTypes, i, s, v.l.str, true) {
				rtsOK = false
				continue
			}
			words, detail := parseResponseType(s, v.p.OIDC)
			key := ""
			if detail == "" {
				key = setKey(words)
				switch {
				case supported != nil && !supported[key]:
					detail = "is not a supported response type"
				case seen[key]:
					detail = "duplicates an earlier response type"
				}
			}
			if detail != "" {
				v.add(mResponseTypes, i, detail, shown(s))
				rtsOK = false
				continue
			}
			seen[key] = true
			v.rts = append(v.rts, rtSet{index: i, words: words})
		}
	} else {
		rtsOK = false
	}
	if !grantsOK || !rtsOK {
		return
	}

	// REG-18 (RFC 7591 §2.1, OIDC Registration §2, Appendix A). Forward: each
	// response type needs its grant types.
	grants := v.m.effectiveGrantTypes()
	usesCode, usesImplicit := false, false
	for _, rt := range v.rts {
		needCode := rt.words["code"]
		needImplicit := rt.words["token"] || rt.words["id_token"]
		usesCode = usesCode || needCode
		usesImplicit = usesImplicit || needImplicit
		idx := rt.index
		if !explicitRT {
			idx = -1
		}
		if needCode && !contains(grants, GrantAuthorizationCode) {
			v.add(mResponseTypes, idx, "requires the authorization_code grant type", shown(rts[rt.index]))
		}
		if needImplicit && !contains(grants, GrantImplicit) {
			v.add(mResponseTypes, idx, "requires the implicit grant type", shown(rts[rt.index]))
		}
	}
	// Backward: a registered redirect-based grant needs a response type using it.
	for i, g := range grants {
		if (g == GrantAuthorizationCode && !usesCode) || (g == GrantImplicit && !usesImplicit) {
			if len(v.m.GrantTypes) == 0 {
				v.add(mResponseTypes, -1, "must include a response type for the default authorization_code grant type", "")
			} else {
				v.add(mGrantTypes, i, "is not used by any registered response type", shown(g))
			}
		}
	}
}

// keys applies REG-14 to REG-16.
func (v *validator) keys() {
	v.nKeys = -1
	if len(v.m.JWKS) > 0 && v.m.JWKSURI != "" {
		v.add(mJWKS, -1, "must not be used together with jwks_uri", "") // REG-14
	}
	if len(v.m.JWKS) > 0 {
		v.nKeys = v.checkJWKS()
	}
	if v.m.JWKSURI != "" {
		// REG-15: OIDC Registration §2 requires https.
		v.uri(mJWKSURI, -1, v.m.JWKSURI, uriRule{httpsOnly: true, allowFragment: true, noPrivateTarget: true})
	}
}

var tlsSubjectMembers = []string{
	mTLSClientAuthSubjectDN, mTLSClientAuthSANDNS, mTLSClientAuthSANURI, mTLSClientAuthSANIP, mTLSClientAuthSANEmail,
}

func (m *Metadata) tlsSubjectValues() []string {
	return []string{m.TLSClientAuthSubjectDN, m.TLSClientAuthSANDNS, m.TLSClientAuthSANURI,
		m.TLSClientAuthSANIP, m.TLSClientAuthSANEmail}
}

// authMethod applies REG-21 and REG-22.
func (v *validator) authMethod() {
	method := v.m.TokenEndpointAuthMethod
	if method != "" && v.plain(mTokenEndpointAuthMethod, -1, method, v.l.str, true) &&
		!contains(v.l.methods, method) && !isAbsoluteURI(method) {
		v.add(mTokenEndpointAuthMethod, -1, "is not a supported token endpoint authentication method", shown(method)) // REG-21
	}
	if method == "" {
		method = AuthClientSecretBasic
	}
	// REG-22: the method and the key material must agree.
	switch method {
	case AuthPrivateKeyJWT, AuthSelfSignedTLSClientAuth:
		switch {
		case len(v.m.JWKS) == 0 && v.m.JWKSURI == "":
			if !v.p.ServerIssuesKeys || method != AuthPrivateKeyJWT {
				v.add(mTokenEndpointAuthMethod, -1, "requires jwks or jwks_uri", shown(method))
			}
		case v.nKeys == 0:
			v.add(mJWKS, -1, "must contain at least one key for this token endpoint authentication method", "")
		}
	}
	tlsValues := v.m.tlsSubjectValues()
	n := 0
	for _, s := range tlsValues {
		if s != "" {
			n++
		}
	}
	if method == AuthTLSClientAuth {
		if n != 1 {
			// RFC 8705 §2.1.2: exactly one subject parameter.
			v.add(mTokenEndpointAuthMethod, -1, "requires exactly one tls_client_auth_* member", shown(method))
		}
	} else {
		for i, s := range tlsValues {
			if s != "" {
				v.add(tlsSubjectMembers[i], -1, "is only used with token_endpoint_auth_method tls_client_auth", "")
			}
		}
	}
	if method == AuthNone {
		if name := v.m.symmetricAlgMember(); name != "" {
			v.add(name, -1, "a symmetric algorithm needs a client secret, but token_endpoint_auth_method is none", "")
		}
	}
}

// isAbsoluteURI reports whether s is an absolute URI without whitespace, the
// extension form of a token endpoint auth method (RFC 7591 §2).
func isAbsoluteURI(s string) bool {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return false
	}
	u, err := url.Parse(s)
	return err == nil && u.IsAbs() && (u.Opaque != "" || u.Host != "" || u.Path != "")
}

// scope applies REG-23: scope-token *( SP scope-token ), scope-token = 1*NQCHAR.
func (v *validator) scope() {
	s := v.m.Scope
	if s == "" || !v.plain(mScope, -1, s, v.l.str, true) {
		return
	}
	for _, tok := range strings.Split(s, " ") {
		if tok == "" || strings.IndexFunc(tok, func(r rune) bool {
			return !(r == 0x21 || (r >= 0x23 && r <= 0x5b) || (r >= 0x5d && r <= 0x7e))
		}) >= 0 {
			v.add(mScope, -1, "must be scope tokens of printable ASCII (no quote or backslash) separated by single spaces", shown(s))
			return
		}
	}
}

// webPage is the rule for client_uri, logo_uri, tos_uri, policy_uri (REG-24).
var webPage = uriRule{httpAnyHost: true, allowFragment: true}

// humanReadable applies REG-24, REG-28 and REG-45 to client_name, the web page
// URIs and their language-tagged variants.
func (v *validator) humanReadable() {
	if v.m.ClientName != "" {
		v.plain(mClientName, -1, v.m.ClientName, v.l.str, true)
	}
	for _, u := range []struct{ name, val string }{
		{mClientURI, v.m.ClientURI}, {mLogoURI, v.m.LogoURI}, {mTOSURI, v.m.TOSURI}, {mPolicyURI, v.m.PolicyURI},
	} {
		if u.val != "" {
			v.uri(u.name, -1, u.val, webPage)
		}
	}
	if len(v.m.Localized) > v.l.list {
		v.add("", -1, "has too many language-tagged members", "")
		return
	}
	for _, name := range slices.Sorted(maps.Keys(v.m.Localized)) {
		val := v.m.Localized[name]
		base, tag, _ := strings.Cut(name, "#")
		switch {
		case len(name) > v.l.str:
			v.add(name, -1, "member name is too long", "")
		case !humanReadable[base]:
			v.add(name, -1, "is not a language-tagged human-readable member", "")
		case !isLanguageTag(tag):
			v.add(name, -1, "has an invalid BCP 47 language tag", "")
		case base == mClientName:
			v.plain(name, -1, val, v.l.str, true)
		default:
			v.uri(name, -1, val, webPage)
		}
	}
}

// isLanguageTag is a syntactic BCP 47 check: alphabetic primary subtag of 1-8
// letters, then subtags of 1-8 letters or digits, separated by '-'. Tags are
// stored as sent; matching is the consumer's job (REG-29).
func isLanguageTag(tag string) bool {
	if tag == "" {
		return false
	}
	for i, sub := range strings.Split(tag, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j]
			alpha := ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
			if !alpha && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// software applies REG-27 and REG-45 to software_id, software_version and
// software_statement (which is never shown in errors).
func (v *validator) software() {
	if s := v.m.SoftwareID; s != "" {
		v.plain(mSoftwareID, -1, s, v.l.str, true)
	}
	if s := v.m.SoftwareVersion; s != "" {
		v.plain(mSoftwareVersion, -1, s, v.l.str, true)
	}
	if s := v.m.SoftwareStatement; s != "" {
		v.plain(mSoftwareStatement, -1, s, v.l.stmt, false)
	}
}

// contacts applies REG-26 and REG-45.
func (v *validator) contacts() {
	v.stringList(mContacts, v.m.Contacts)
}

// stringList checks a list of non-empty plain strings.
func (v *validator) stringList(member string, items []string) {
	if !v.list(member, items, v.l.list) {
		return
	}
	for i, s := range items {
		if s == "" {
			v.add(member, i, "must not be empty", "")
			continue
		}
		v.plain(member, i, s, v.l.str, true)
	}
}

// oidc applies the OpenID Connect member rules REG-12, REG-39 (syntax only;
// fetching is the caller's), REG-40 to REG-44 and REG-45.
func (v *validator) oidc() {
	m := v.m
	if s := m.ApplicationType; s != "" && s != ApplicationTypeWeb && s != ApplicationTypeNative {
		v.add(mApplicationType, -1, "must be web or native", shown(s)) // REG-12
	}
	if s := m.SubjectType; s != "" && v.plain(mSubjectType, -1, s, v.l.str, true) && !contains(v.l.subjects, s) {
		v.add(mSubjectType, -1, "is not a supported subject type", shown(s)) // REG-40
	}
	if m.SectorIdentifierURI != "" {
		v.uri(mSectorIdentifierURI, -1, m.SectorIdentifierURI, uriRule{httpsOnly: true, noPrivateTarget: true})
	} else if v.p.OIDC && m.SubjectType == SubjectTypePairwise && len(redirectHosts(m.RedirectURIs)) > 1 {
		// OIDC Core §8.1: several redirect hosts need a sector identifier.
		v.add(mSectorIdentifierURI, -1, "is required for pairwise clients whose redirect_uris use more than one host", "")
	}

	for _, a := range m.algMembers() {
		if a.val != "" && v.plain(a.name, -1, a.val, v.l.str, true) && strings.ContainsAny(a.val, " ,") {
			v.add(a.name, -1, "must be a single algorithm name", shown(a.val))
		}
	}
	if m.IDTokenSignedResponseAlg == "none" {
		// REG-41: unsigned ID Tokens only when none come from the authorization endpoint.
		for _, rt := range v.rts {
			if rt.words["id_token"] {
				v.add(mIDTokenSignedResponseAlg, -1, "must not be none when a response type returns an ID Token", "none")
				break
			}
		}
	}
	// REG-42: each *_enc requires its *_alg.
	encPairs := []struct{ alg, enc, encName, algName string }{
		{m.IDTokenEncryptedResponseAlg, m.IDTokenEncryptedResponseEnc, mIDTokenEncryptedResponseEnc, mIDTokenEncryptedResponseAlg},
		{m.UserinfoEncryptedResponseAlg, m.UserinfoEncryptedResponseEnc, mUserinfoEncryptedResponseEnc, mUserinfoEncryptedResponseAlg},
		{m.RequestObjectEncryptionAlg, m.RequestObjectEncryptionEnc, mRequestObjectEncryptionEnc, mRequestObjectEncryptionAlg},
	}
	for _, e := range encPairs {
		if e.enc != "" && e.alg == "" {
			v.add(e.encName, -1, "requires "+e.algName, "")
		}
	}
	if m.TokenEndpointAuthSigningAlg == "none" {
		v.add(mTokenEndpointAuthSigningAlg, -1, "must not be none", "none") // REG-42
	}

	// REG-43.
	if m.DefaultMaxAge != nil && *m.DefaultMaxAge < 0 {
		v.add(mDefaultMaxAge, -1, "must not be negative", "")
	}
	if m.InitiateLoginURI != "" {
		v.uri(mInitiateLoginURI, -1, m.InitiateLoginURI, uriRule{httpsOnly: true, allowFragment: true})
	}
	if v.list(mRequestURIs, m.RequestURIs, v.l.list) {
		for i, u := range m.RequestURIs {
			// A fragment may carry the SHA-256 of the request object (OIDC Registration §2).
			v.uri(mRequestURIs, i, u, uriRule{httpsOnly: true, allowFragment: true, noPrivateTarget: true})
		}
	}
	v.stringList(mDefaultACRValues, m.DefaultACRValues)

	// REG-44: https, http only for loopback, no fragment; native apps may also
	// use private-use schemes (RP-Initiated Logout §3.1).
	if v.list(mPostLogoutRedirectURIs, m.PostLogoutRedirectURIs, v.l.list) {
		r := uriRule{strictASCII: true, httpLoopback: true, privateUseScheme: m.ApplicationType == ApplicationTypeNative}
		for i, u := range m.PostLogoutRedirectURIs {
			v.uri(mPostLogoutRedirectURIs, i, u, r)
		}
	}
	logout := uriRule{strictASCII: true, httpLoopback: true}
	if m.FrontchannelLogoutURI != "" {
		v.uri(mFrontchannelLogoutURI, -1, m.FrontchannelLogoutURI, logout)
	}
	if m.BackchannelLogoutURI != "" {
		v.uri(mBackchannelLogoutURI, -1, m.BackchannelLogoutURI, logout)
	}
}

// redirectHosts returns the distinct lower-cased hosts of the http(s) redirect URIs.
func redirectHosts(uris []string) map[string]bool {
	hosts := map[string]bool{}
	for _, raw := range uris {
		if u, err := url.Parse(raw); err == nil && u.Host != "" {
			hosts[strings.ToLower(u.Hostname())] = true
		}
	}
	return hosts
}

// tlsSubject checks the syntax of the RFC 8705 §2.1.2 subject members.
func (v *validator) tlsSubject() {
	m := v.m
	for i, s := range m.tlsSubjectValues() {
		name := tlsSubjectMembers[i]
		if s == "" || !v.plain(name, -1, s, v.l.str, true) {
			continue
		}
		ok := true
		switch name {
		case mTLSClientAuthSANDNS:
			ok = !strings.ContainsFunc(s, unicode.IsSpace)
		case mTLSClientAuthSANURI:
			ok = isAbsoluteURI(s)
		case mTLSClientAuthSANIP:
			_, err := netip.ParseAddr(s)
			ok = err == nil
		case mTLSClientAuthSANEmail:
			ok = strings.Contains(s, "@") && !strings.ContainsFunc(s, unicode.IsSpace)
		}
		if !ok {
			v.add(name, -1, "is not well-formed", shown(s))
		}
	}
}

// extra checks pass-through members: no collision with modelled members,
// valid JSON, and REG-45 limits. Their values are never shown.
func (v *validator) extra() {
	if len(v.m.Extra) > v.l.list {
		v.add("", -1, "has too many unrecognized members", "")
		return
	}
	for _, name := range slices.Sorted(maps.Keys(v.m.Extra)) {
		raw := v.m.Extra[name]
		switch {
		case name == "" || len(name) > v.l.str:
			v.add(name, -1, "has an empty or too long member name", "")
		case isReservedExtraName(name):
			v.add(name, -1, "extension member collides with a standard member", "")
		case len(raw) > v.l.str:
			v.add(name, -1, "extension member value is too large", "")
		case !json.Valid(raw):
			v.add(name, -1, "extension member value is not valid JSON", "")
		}
	}
}
