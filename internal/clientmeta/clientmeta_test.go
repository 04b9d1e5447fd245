package clientmeta_test

import (
	"encoding/json"
	"reflect"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/clientmeta"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// nonMetadataSpecFields are the OAuthClientSpec fields that are not client
// metadata (they configure the operator, not the registration).
var nonMetadataSpecFields = map[string]bool{
	"serverRef": true, "secretName": true, "secretTemplate": true, "rotation": true,
	"deletionPolicy": true, "extraMetadata": true, "adoptFrom": true,
}

const jwksWithSpaces = `{ "keys": [ { "kty": "EC", "crv": "P-256", "kid": "k1",
  "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" } ] }`

func fullSpec() *oauthv1alpha1.OAuthClientSpec {
	yes, no := true, false
	return &oauthv1alpha1.OAuthClientSpec{
		ServerRef:                   oauthv1alpha1.ServerReference{Name: "idp"},
		SecretName:                  "creds",
		RedirectURIs:                []oauthv1alpha1.RedirectURI{"https://app.example/cb", "com.example.app:/cb"},
		TokenEndpointAuthMethod:     "private_key_jwt",
		GrantTypes:                  []string{"authorization_code", "refresh_token"},
		ResponseTypes:               []string{"code"},
		ClientName:                  "Billing",
		ClientURI:                   "https://app.example/",
		LogoURI:                     "https://app.example/logo.png",
		Scope:                       "openid profile",
		Contacts:                    []string{"ops@example.com", "dev@example.com"},
		TOSURI:                      "https://app.example/tos",
		PolicyURI:                   "https://app.example/privacy",
		JWKSURI:                     "https://app.example/jwks.json",
		JWKS:                        &apiextensionsv1.JSON{Raw: []byte(jwksWithSpaces)},
		SoftwareID:                  "4NRB1-0XZABZI9E6-5SM3R",
		SoftwareVersion:             "2.1",
		ApplicationType:             "web",
		SectorIdentifierURI:         "https://app.example/sector.json",
		SubjectType:                 "pairwise",
		IDTokenSignedResponseAlg:    "ES256",
		IDTokenEncryptedResponseAlg: "ECDH-ES",
		IDTokenEncryptedResponseEnc: "A256GCM",
		UserinfoSignedResponseAlg:   "RS256",
		RequestObjectSigningAlg:     "PS256",
		TokenEndpointAuthSigningAlg: "ES384",
		DefaultMaxAge:               ptr.To[int64](3600),
		RequireAuthTime:             ptr.To(true),
		DefaultACRValues:            []string{"urn:acr:1", "urn:acr:2"},
		InitiateLoginURI:            "https://app.example/login",
		RequestURIs:                 []oauthv1alpha1.HTTPSURL{"https://app.example/req/1#abc"},
		PostLogoutRedirectURIs:      []oauthv1alpha1.RedirectURI{"https://app.example/bye", "http://127.0.0.1:8080/bye"},
		FrontchannelLogoutURI:       "https://app.example/fc",
		BackchannelLogoutURI:        "https://app.example/bc",

		UserinfoEncryptedResponseAlg:      "RSA-OAEP-256",
		UserinfoEncryptedResponseEnc:      "A256GCM",
		RequestObjectEncryptionAlg:        "ECDH-ES",
		RequestObjectEncryptionEnc:        "A128GCM",
		FrontchannelLogoutSessionRequired: &yes,
		BackchannelLogoutSessionRequired:  &no,
		TLSClientAuthSubjectDN:            "CN=app",
		TLSClientAuthSANDNS:               "app.example",
		TLSClientAuthSANURI:               "https://app.example/id",
		TLSClientAuthSANIP:                "192.0.2.1",
		TLSClientAuthSANEmail:             "app@example.org",
	}
}

// wantMembers lists, for fullSpec, every RFC 7591 / OIDC member with the spec
// field (JSON name) it comes from and its expected compact JSON value.
var wantMembers = []struct {
	member, specField, value string
}{
	{"redirect_uris", "redirectURIs", `["https://app.example/cb","com.example.app:/cb"]`},
	{"token_endpoint_auth_method", "tokenEndpointAuthMethod", `"private_key_jwt"`},
	{"grant_types", "grantTypes", `["authorization_code","refresh_token"]`},
	{"response_types", "responseTypes", `["code"]`},
	{"client_name", "clientName", `"Billing"`},
	{"client_uri", "clientURI", `"https://app.example/"`},
	{"logo_uri", "logoURI", `"https://app.example/logo.png"`},
	{"scope", "scope", `"openid profile"`},
	{"contacts", "contacts", `["ops@example.com","dev@example.com"]`},
	{"tos_uri", "tosURI", `"https://app.example/tos"`},
	{"policy_uri", "policyURI", `"https://app.example/privacy"`},
	{"jwks_uri", "jwksURI", `"https://app.example/jwks.json"`},
	{"jwks", "jwks", `{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`},
	{"software_id", "softwareID", `"4NRB1-0XZABZI9E6-5SM3R"`},
	{"software_version", "softwareVersion", `"2.1"`},
	{"application_type", "applicationType", `"web"`},
	{"sector_identifier_uri", "sectorIdentifierURI", `"https://app.example/sector.json"`},
	{"subject_type", "subjectType", `"pairwise"`},
	{"id_token_signed_response_alg", "idTokenSignedResponseAlg", `"ES256"`},
	{"id_token_encrypted_response_alg", "idTokenEncryptedResponseAlg", `"ECDH-ES"`},
	{"id_token_encrypted_response_enc", "idTokenEncryptedResponseEnc", `"A256GCM"`},
	{"userinfo_signed_response_alg", "userinfoSignedResponseAlg", `"RS256"`},
	{"request_object_signing_alg", "requestObjectSigningAlg", `"PS256"`},
	{"token_endpoint_auth_signing_alg", "tokenEndpointAuthSigningAlg", `"ES384"`},
	{"default_max_age", "defaultMaxAge", `3600`},
	{"require_auth_time", "requireAuthTime", `true`},
	{"default_acr_values", "defaultACRValues", `["urn:acr:1","urn:acr:2"]`},
	{"initiate_login_uri", "initiateLoginURI", `"https://app.example/login"`},
	{"request_uris", "requestURIs", `["https://app.example/req/1#abc"]`},
	{"post_logout_redirect_uris", "postLogoutRedirectURIs", `["https://app.example/bye","http://127.0.0.1:8080/bye"]`},
	{"frontchannel_logout_uri", "frontchannelLogoutURI", `"https://app.example/fc"`},
	{"backchannel_logout_uri", "backchannelLogoutURI", `"https://app.example/bc"`},
	{"userinfo_encrypted_response_alg", "userinfoEncryptedResponseAlg", `"RSA-OAEP-256"`},
	{"userinfo_encrypted_response_enc", "userinfoEncryptedResponseEnc", `"A256GCM"`},
	{"request_object_encryption_alg", "requestObjectEncryptionAlg", `"ECDH-ES"`},
	{"request_object_encryption_enc", "requestObjectEncryptionEnc", `"A128GCM"`},
	{"frontchannel_logout_session_required", "frontchannelLogoutSessionRequired", `true`},
	{"backchannel_logout_session_required", "backchannelLogoutSessionRequired", `false`},
	{"tls_client_auth_subject_dn", "tlsClientAuthSubjectDN", `"CN=app"`},
	{"tls_client_auth_san_dns", "tlsClientAuthSANDNS", `"app.example"`},
	{"tls_client_auth_san_uri", "tlsClientAuthSANURI", `"https://app.example/id"`},
	{"tls_client_auth_san_ip", "tlsClientAuthSANIP", `"192.0.2.1"`},
	{"tls_client_auth_san_email", "tlsClientAuthSANEmail", `"app@example.org"`},
}

func marshalMembers(t *testing.T, m *metadata.Metadata) map[string]json.RawMessage {
	t.Helper()
	raw, err := m.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("metadata is not a JSON object: %v\n%s", err, raw)
	}
	return got
}

func specJSONName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	return name
}

func errorStrings(errs field.ErrorList) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = string(e.Type) + " " + e.Field
	}
	return out
}

// TestFixtureCoversEverySpecField keeps fullSpec and wantMembers complete: a
// new metadata field in OAuthClientSpec must be added to both.
func TestFixtureCoversEverySpecField(t *testing.T) {
	spec := reflect.ValueOf(*fullSpec())
	typ := spec.Type()
	covered := map[string]bool{}
	for _, w := range wantMembers {
		covered[w.specField] = true
	}
	n := 0
	for i := 0; i < typ.NumField(); i++ {
		name := specJSONName(typ.Field(i))
		if nonMetadataSpecFields[name] {
			continue
		}
		n++
		if spec.Field(i).IsZero() {
			t.Errorf("fullSpec leaves spec.%s unset", name)
		}
		if !covered[name] {
			t.Errorf("spec.%s has no expected member in wantMembers", name)
		}
	}
	if n != len(wantMembers) {
		t.Errorf("spec has %d metadata fields, wantMembers lists %d", n, len(wantMembers))
	}
}

func TestFromSpecMapsEveryField(t *testing.T) {
	spec := fullSpec()
	m, errs := clientmeta.FromSpec(spec)
	if len(errs) != 0 {
		t.Fatalf("FromSpec errors: %v", errs)
	}
	got := marshalMembers(t, m)
	for _, w := range wantMembers {
		t.Run(w.member, func(t *testing.T) {
			v, ok := got[w.member]
			if !ok {
				t.Fatalf("member %s missing; got members %v", w.member, keys(got))
			}
			if string(v) != w.value {
				t.Errorf("member %s = %s, want %s", w.member, v, w.value)
			}
		})
	}
	if len(got) != len(wantMembers) {
		t.Errorf("got %d members %v, want %d", len(got), keys(got), len(wantMembers))
	}
	// jwks is carried verbatim (not re-encoded) in the metadata value.
	if string(m.JWKS) != jwksWithSpaces {
		t.Errorf("JWKS = %s, want the raw spec JSON", m.JWKS)
	}
	if *m.DefaultMaxAge != 3600 || !*m.RequireAuthTime {
		t.Errorf("DefaultMaxAge/RequireAuthTime = %d/%v", *m.DefaultMaxAge, *m.RequireAuthTime)
	}
}

func TestFromSpecDoesNotAliasSpec(t *testing.T) {
	spec := fullSpec()
	m, _ := clientmeta.FromSpec(spec)
	before := marshalMembers(t, m)

	spec.GrantTypes[0] = "implicit"
	spec.ResponseTypes[0] = "token"
	spec.Contacts[0] = "x@example.com"
	spec.DefaultACRValues[0] = "changed"
	spec.JWKS.Raw[0] = '['
	spec.RedirectURIs[0] = "https://evil.example/"
	spec.ExtraMetadata = nil

	after := marshalMembers(t, m)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("mutating the spec changed the metadata:\nbefore %v\nafter  %v", before, after)
	}
}

func TestFromSpecNilSlicesStayAbsent(t *testing.T) {
	m, errs := clientmeta.FromSpec(&oauthv1alpha1.OAuthClientSpec{ClientName: "only"})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	for name, s := range map[string][]string{
		"RedirectURIs": m.RedirectURIs, "GrantTypes": m.GrantTypes, "ResponseTypes": m.ResponseTypes,
		"Contacts": m.Contacts, "DefaultACRValues": m.DefaultACRValues, "RequestURIs": m.RequestURIs,
		"PostLogoutRedirectURIs": m.PostLogoutRedirectURIs,
	} {
		if s != nil {
			t.Errorf("%s = %#v, want nil", name, s)
		}
	}
	if m.JWKS != nil || m.DefaultMaxAge != nil || m.RequireAuthTime != nil || m.Extra != nil {
		t.Errorf("optional members set: jwks=%q maxAge=%v authTime=%v extra=%v", m.JWKS, m.DefaultMaxAge, m.RequireAuthTime, m.Extra)
	}
	raw, _ := m.MarshalJSON()
	if string(raw) != `{"client_name":"only"}` {
		t.Errorf("metadata = %s, want only client_name", raw)
	}
}

func TestFromSpecEmptyJWKSIsAbsent(t *testing.T) {
	m, _ := clientmeta.FromSpec(&oauthv1alpha1.OAuthClientSpec{JWKS: &apiextensionsv1.JSON{}})
	if m.JWKS != nil {
		t.Errorf("JWKS = %q, want nil", m.JWKS)
	}
}

func TestFromSpecExtraMetadata(t *testing.T) {
	js := func(s string) apiextensionsv1.JSON { return apiextensionsv1.JSON{Raw: []byte(s)} }
	tests := []struct {
		name      string
		extra     map[string]apiextensionsv1.JSON
		wantExtra map[string]string
		wantErrs  []field.Error // Type, Field, Detail substring, BadValue
	}{
		{
			name:      "unknown member passes through",
			extra:     map[string]apiextensionsv1.JSON{"x_tenant": js(`{"id": 7}`), "x_flag": js(`true`)},
			wantExtra: map[string]string{"x_tenant": `{"id": 7}`, "x_flag": `true`},
		},
		{
			name:     "member duplicating a typed field",
			extra:    map[string]apiextensionsv1.JSON{"redirect_uris": js(`["https://a.example/cb"]`)},
			wantErrs: []field.Error{{Type: field.ErrorTypeInvalid, Field: "spec.extraMetadata[redirect_uris]", Detail: "duplicates spec.redirectURIs", BadValue: "redirect_uris"}},
		},
		{
			name:     "member duplicating jwks",
			extra:    map[string]apiextensionsv1.JSON{"jwks": js(`{"keys":[]}`)},
			wantErrs: []field.Error{{Type: field.ErrorTypeInvalid, Field: "spec.extraMetadata[jwks]", Detail: "duplicates spec.jwks", BadValue: "jwks"}},
		},
		{
			name:     "client_secret is reserved",
			extra:    map[string]apiextensionsv1.JSON{"client_secret": js(`"s3cr3t"`)},
			wantErrs: []field.Error{{Type: field.ErrorTypeForbidden, Field: "spec.extraMetadata[client_secret]", Detail: "issued by the server"}},
		},
		{
			name:     "client_id is reserved",
			extra:    map[string]apiextensionsv1.JSON{"client_id": js(`"abc"`)},
			wantErrs: []field.Error{{Type: field.ErrorTypeForbidden, Field: "spec.extraMetadata[client_id]", Detail: "issued by the server"}},
		},
		{
			name:     "registration_access_token is reserved",
			extra:    map[string]apiextensionsv1.JSON{"registration_access_token": js(`"t"`)},
			wantErrs: []field.Error{{Type: field.ErrorTypeForbidden, Field: "spec.extraMetadata[registration_access_token]", Detail: "issued by the server"}},
		},
		{
			name:     "software_statement is reserved",
			extra:    map[string]apiextensionsv1.JSON{"software_statement": js(`"eyJ.x.y"`)},
			wantErrs: []field.Error{{Type: field.ErrorTypeForbidden, Field: "spec.extraMetadata[software_statement]", Detail: "issued by the server"}},
		},
		{
			name: "other server-issued members are reserved",
			extra: map[string]apiextensionsv1.JSON{
				"client_id_issued_at": js(`1`), "client_secret_expires_at": js(`0`), "registration_client_uri": js(`"https://x"`),
			},
			wantErrs: []field.Error{
				{Type: field.ErrorTypeForbidden, Field: "spec.extraMetadata[client_id_issued_at]"},
				{Type: field.ErrorTypeForbidden, Field: "spec.extraMetadata[client_secret_expires_at]"},
				{Type: field.ErrorTypeForbidden, Field: "spec.extraMetadata[registration_client_uri]"},
			},
		},
		{
			name:     "invalid JSON",
			extra:    map[string]apiextensionsv1.JSON{"x_bad": js(`{"a":`)},
			wantErrs: []field.Error{{Type: field.ErrorTypeInvalid, Field: "spec.extraMetadata[x_bad]", Detail: "must be valid JSON"}},
		},
		{
			name: "several errors at once, sorted by member, valid members kept",
			extra: map[string]apiextensionsv1.JSON{
				"x_ok":          js(`"fine"`),
				"scope":         js(`"openid"`),
				"client_secret": js(`"s"`),
				"x_bad":         js(`nope`),
			},
			wantExtra: map[string]string{"x_ok": `"fine"`},
			wantErrs: []field.Error{
				{Type: field.ErrorTypeForbidden, Field: "spec.extraMetadata[client_secret]"},
				{Type: field.ErrorTypeInvalid, Field: "spec.extraMetadata[scope]", Detail: "duplicates spec.scope"},
				{Type: field.ErrorTypeInvalid, Field: "spec.extraMetadata[x_bad]", Detail: "must be valid JSON"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &oauthv1alpha1.OAuthClientSpec{ExtraMetadata: tt.extra}
			m, errs := clientmeta.FromSpec(spec)
			if len(errs) != len(tt.wantErrs) {
				t.Fatalf("got %d errors %v, want %d", len(errs), errs, len(tt.wantErrs))
			}
			for i, want := range tt.wantErrs {
				got := errs[i]
				if got.Type != want.Type || got.Field != want.Field {
					t.Errorf("error %d = %s %s, want %s %s", i, got.Type, got.Field, want.Type, want.Field)
				}
				if !strings.Contains(got.Detail, want.Detail) {
					t.Errorf("error %d detail %q does not contain %q", i, got.Detail, want.Detail)
				}
				if want.BadValue != nil && got.BadValue != want.BadValue {
					t.Errorf("error %d bad value %v, want %v", i, got.BadValue, want.BadValue)
				}
				// Values of extra members (possibly secrets) are never echoed.
				if s, ok := got.BadValue.(string); ok && strings.Contains(s, `"s`) {
					t.Errorf("error %d echoes the member value: %q", i, s)
				}
			}
			if len(m.Extra) != len(tt.wantExtra) {
				t.Fatalf("Extra = %v, want %v", m.Extra, tt.wantExtra)
			}
			for k, want := range tt.wantExtra {
				if string(m.Extra[k]) != want {
					t.Errorf("Extra[%s] = %s, want %s", k, m.Extra[k], want)
				}
			}
			got := marshalMembers(t, m)
			for k := range tt.wantExtra {
				if _, ok := got[k]; !ok {
					t.Errorf("marshalled metadata lacks extra member %s: %v", k, keys(got))
				}
			}
			for k := range tt.extra {
				if _, ok := got[k]; ok && tt.wantExtra[k] == "" {
					t.Errorf("refused member %s reached the marshalled metadata", k)
				}
			}
		})
	}
}

func TestFromSpecExtraMetadataIsCopied(t *testing.T) {
	raw := []byte(`{"a":1}`)
	spec := &oauthv1alpha1.OAuthClientSpec{ExtraMetadata: map[string]apiextensionsv1.JSON{"x_a": {Raw: raw}}}
	m, _ := clientmeta.FromSpec(spec)
	raw[0] = '['
	if string(m.Extra["x_a"]) != `{"a":1}` {
		t.Errorf("Extra aliases the spec: %s", m.Extra["x_a"])
	}
}

func TestValidate(t *testing.T) {
	okRedirect := []oauthv1alpha1.RedirectURI{"https://app.example/cb"}
	tests := []struct {
		name   string
		spec   oauthv1alpha1.OAuthClientSpec
		policy metadata.Policy
		// want are "Type path" strings, in order.
		want []string
		// detail, when set, must appear in the first error's Detail.
		detail string
	}{
		{
			name: "valid default client",
			spec: oauthv1alpha1.OAuthClientSpec{RedirectURIs: okRedirect},
		},
		{
			name: "valid full spec without jwksURI",
			spec: func() oauthv1alpha1.OAuthClientSpec {
				s := fullSpec()
				s.JWKSURI = ""
				// tls_client_auth_* members belong only to tls_client_auth clients.
				s.TLSClientAuthSubjectDN, s.TLSClientAuthSANDNS, s.TLSClientAuthSANURI, s.TLSClientAuthSANIP, s.TLSClientAuthSANEmail = "", "", "", "", ""
				return *s
			}(),
			policy: metadata.Policy{OIDC: true},
		},
		{
			name: "http loopback redirect is allowed",
			spec: oauthv1alpha1.OAuthClientSpec{RedirectURIs: []oauthv1alpha1.RedirectURI{"http://127.0.0.1:8080/cb", "http://[::1]/cb"}},
		},
		{
			name:   "http non-loopback redirect",
			spec:   oauthv1alpha1.OAuthClientSpec{RedirectURIs: []oauthv1alpha1.RedirectURI{"https://app.example/cb", "http://app.example/cb"}},
			want:   []string{"FieldValueInvalid spec.redirectURIs[1]"},
			detail: "",
		},
		{
			name:   "duplicate redirect",
			spec:   oauthv1alpha1.OAuthClientSpec{RedirectURIs: []oauthv1alpha1.RedirectURI{"https://a.example/cb", "https://b.example/cb", "https://a.example/cb"}},
			want:   []string{"FieldValueInvalid spec.redirectURIs[2]"},
			detail: "duplicates",
		},
		{
			name:   "missing redirect for the default grant",
			spec:   oauthv1alpha1.OAuthClientSpec{},
			want:   []string{"FieldValueInvalid spec.redirectURIs"},
			detail: "is required",
		},
		{
			name:   "response type without its grant",
			spec:   oauthv1alpha1.OAuthClientSpec{GrantTypes: []string{"client_credentials"}, ResponseTypes: []string{"code"}},
			want:   []string{"FieldValueInvalid spec.responseTypes[0]"},
			detail: "requires the authorization_code grant type",
		},
		{
			name:   "grant without a response type",
			spec:   oauthv1alpha1.OAuthClientSpec{RedirectURIs: okRedirect, GrantTypes: []string{"authorization_code", "implicit"}, ResponseTypes: []string{"code"}},
			want:   []string{"FieldValueInvalid spec.grantTypes[1]"},
			detail: "is not used by any registered response type",
		},
		{
			name:   "unsupported grant type",
			spec:   oauthv1alpha1.OAuthClientSpec{GrantTypes: []string{"client_credentials", "magic"}},
			want:   []string{"FieldValueInvalid spec.grantTypes[1]"},
			detail: "is not a supported grant type",
		},
		{
			name:   "post-logout redirect over plain http",
			spec:   oauthv1alpha1.OAuthClientSpec{RedirectURIs: okRedirect, PostLogoutRedirectURIs: []oauthv1alpha1.RedirectURI{"https://app.example/bye", "http://app.example/bye"}},
			want:   []string{"FieldValueInvalid spec.postLogoutRedirectURIs[1]"},
			detail: "",
		},
		{
			name:   "symmetric algorithm with auth method none",
			spec:   oauthv1alpha1.OAuthClientSpec{RedirectURIs: okRedirect, TokenEndpointAuthMethod: "none", IDTokenSignedResponseAlg: "HS256"},
			want:   []string{"FieldValueInvalid spec.idTokenSignedResponseAlg"},
			detail: "symmetric algorithm",
		},
		{
			name: "private key in jwks",
			spec: oauthv1alpha1.OAuthClientSpec{RedirectURIs: okRedirect, TokenEndpointAuthMethod: "private_key_jwt",
				JWKS: &apiextensionsv1.JSON{Raw: []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`)}},
			want:   []string{"FieldValueInvalid spec.jwks"},
			detail: "private or symmetric key material",
		},
		{
			name:   "private_key_jwt without keys",
			spec:   oauthv1alpha1.OAuthClientSpec{RedirectURIs: okRedirect, TokenEndpointAuthMethod: "private_key_jwt"},
			want:   []string{"FieldValueInvalid spec.tokenEndpointAuthMethod"},
			detail: "requires jwks or jwks_uri",
		},
		{
			name:   "negative default max age",
			spec:   oauthv1alpha1.OAuthClientSpec{RedirectURIs: okRedirect, DefaultMaxAge: ptr.To[int64](-1)},
			want:   []string{"FieldValueInvalid spec.defaultMaxAge"},
			detail: "must not be negative",
		},
		{
			name:   "request uri over http",
			spec:   oauthv1alpha1.OAuthClientSpec{RedirectURIs: okRedirect, RequestURIs: []oauthv1alpha1.HTTPSURL{"https://app.example/r", "http://app.example/r"}},
			want:   []string{"FieldValueInvalid spec.requestURIs[1]"},
			detail: "",
		},
		{
			name: "extraMetadata errors come first, then metadata errors in precedence order",
			spec: oauthv1alpha1.OAuthClientSpec{
				RedirectURIs:  []oauthv1alpha1.RedirectURI{"http://app.example/cb"},
				Scope:         `bad"scope`,
				JWKS:          &apiextensionsv1.JSON{Raw: []byte(`{"keys":[]}`)},
				JWKSURI:       "https://app.example/jwks",
				ExtraMetadata: map[string]apiextensionsv1.JSON{"client_secret": {Raw: []byte(`"x"`)}},
			},
			want: []string{
				"FieldValueForbidden spec.extraMetadata[client_secret]",
				"FieldValueInvalid spec.redirectURIs[0]",
				"FieldValueInvalid spec.jwks",
				"FieldValueInvalid spec.scope",
			},
		},
		{
			name: "OIDC implicit web client needs https redirects",
			spec: oauthv1alpha1.OAuthClientSpec{
				RedirectURIs: []oauthv1alpha1.RedirectURI{"http://127.0.0.1/cb"},
				GrantTypes:   []string{"implicit"}, ResponseTypes: []string{"id_token"},
			},
			policy: metadata.Policy{OIDC: true},
			want:   []string{"FieldValueInvalid spec.redirectURIs[0]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, errs := clientmeta.Validate(&tt.spec, tt.policy)
			if m == nil {
				t.Fatal("Validate returned nil metadata")
			}
			got := errorStrings(errs)
			if !reflect.DeepEqual(got, append([]string{}, tt.want...)) && !(len(got) == 0 && len(tt.want) == 0) {
				t.Fatalf("errors = %q, want %q\n%v", got, tt.want, errs)
			}
			if tt.detail != "" && !strings.Contains(errs[0].Detail, tt.detail) {
				t.Errorf("detail %q does not contain %q", errs[0].Detail, tt.detail)
			}
			for _, e := range errs {
				if e.Detail == "" {
					t.Errorf("error %s has no detail", e.Field)
				}
			}
		})
	}
}

// Validate returns the metadata as written, without the defaults it checked with.
func TestValidateReturnsUndefaultedMetadata(t *testing.T) {
	m, errs := clientmeta.Validate(&oauthv1alpha1.OAuthClientSpec{RedirectURIs: []oauthv1alpha1.RedirectURI{"https://app.example/cb"}}, metadata.Policy{OIDC: true})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	raw, _ := m.MarshalJSON()
	if string(raw) != `{"redirect_uris":["https://app.example/cb"]}` {
		t.Errorf("metadata = %s, want only redirect_uris", raw)
	}
}

// tls_client_auth needs exactly one tls_client_auth_* member (RFC 8705): the
// typed fields carry them; the same members in extraMetadata are refused with
// a pointer to the typed field instead of being dropped silently.
func TestTLSClientAuthAndStandardMembersInExtraMetadata(t *testing.T) {
	yes := true
	spec := &oauthv1alpha1.OAuthClientSpec{
		GrantTypes:                       []string{"client_credentials"},
		TokenEndpointAuthMethod:          "tls_client_auth",
		TLSClientAuthSubjectDN:           "CN=billing,O=Example",
		BackchannelLogoutSessionRequired: &yes,
	}
	m, errs := clientmeta.Validate(spec, metadata.Policy{})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	got := marshalMembers(t, m)
	if string(got["tls_client_auth_subject_dn"]) != `"CN=billing,O=Example"` || string(got["backchannel_logout_session_required"]) != `true` {
		t.Errorf("members not registered: %v", keys(got))
	}

	spec.TLSClientAuthSubjectDN = ""
	spec.ExtraMetadata = map[string]apiextensionsv1.JSON{"tls_client_auth_subject_dn": {Raw: []byte(`"CN=billing"`)}}
	_, errs = clientmeta.Validate(spec, metadata.Policy{})
	found := false
	for _, e := range errs {
		if e.Field == "spec.extraMetadata[tls_client_auth_subject_dn]" && strings.Contains(e.Detail, "tlsClientAuthSubjectDN") {
			found = true
		}
	}
	if !found {
		t.Fatalf("a standard member in extraMetadata was not refused with a pointer to its field: %v", errs)
	}
}

// Language-tagged human-readable members travel through extraMetadata.
func TestLocalizedMembersInExtraMetadata(t *testing.T) {
	spec := &oauthv1alpha1.OAuthClientSpec{
		RedirectURIs: []oauthv1alpha1.RedirectURI{"https://app.example/cb"},
		ClientName:   "My Client",
		ExtraMetadata: map[string]apiextensionsv1.JSON{
			"client_name#ja-Jpan-JP": {Raw: []byte(`"クライアント名"`)},
		},
	}
	m, errs := clientmeta.Validate(spec, metadata.Policy{})
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if got := marshalMembers(t, m); string(got["client_name#ja-Jpan-JP"]) != `"クライアント名"` {
		t.Fatalf("localized member not registered: %v", keys(got))
	}
	spec.ExtraMetadata["client_name#en"] = apiextensionsv1.JSON{Raw: []byte(`42`)}
	if _, errs := clientmeta.Validate(spec, metadata.Policy{}); len(errs) == 0 || errs[0].Field != "spec.extraMetadata[client_name#en]" {
		t.Fatalf("a non-string localized member was accepted: %v", errs)
	}
}

func TestSpecPath(t *testing.T) {
	tests := []struct {
		member string
		index  int
		want   string
	}{
		{"redirect_uris", -1, "spec.redirectURIs"},
		{"redirect_uris", 3, "spec.redirectURIs[3]"},
		{"grant_types", 0, "spec.grantTypes[0]"},
		{"jwks", -1, "spec.jwks"},
		{"post_logout_redirect_uris", 1, "spec.postLogoutRedirectURIs[1]"},
		{"x_custom", -1, "spec.extraMetadata[x_custom]"},
		{"x_custom", 2, "spec.extraMetadata[x_custom][2]"},
		{"tls_client_auth_san_dns", -1, "spec.tlsClientAuthSANDNS"},
	}
	for _, tt := range tests {
		if got := clientmeta.SpecPath(tt.member, tt.index).String(); got != tt.want {
			t.Errorf("SpecPath(%q, %d) = %s, want %s", tt.member, tt.index, got, tt.want)
		}
	}
	// Every member FromSpec emits maps back to the spec field it came from.
	for _, w := range wantMembers {
		if got := clientmeta.SpecPath(w.member, -1).String(); got != "spec."+w.specField {
			t.Errorf("SpecPath(%q) = %s, want spec.%s", w.member, got, w.specField)
		}
	}
}

func TestToFieldErrors(t *testing.T) {
	in := metadata.ErrorList{
		{Member: "redirect_uris", Index: 1, Code: metadata.CodeInvalidRedirectURI, Detail: "must use https", Value: "http://x"},
		{Member: "scope", Index: -1, Code: metadata.CodeInvalidClientMetadata, Detail: "bad scope", Value: `a"b`},
		{Member: "x_ext", Index: -1, Code: metadata.CodeInvalidClientMetadata, Detail: "extension member value is not valid JSON"},
	}
	want := field.ErrorList{
		field.Invalid(field.NewPath("spec", "redirectURIs").Index(1), "http://x", "must use https"),
		field.Invalid(field.NewPath("spec", "scope"), `a"b`, "bad scope"),
		field.Invalid(field.NewPath("spec", "extraMetadata").Key("x_ext"), "", "extension member value is not valid JSON"),
	}
	got := clientmeta.ToFieldErrors(in)
	if len(got) != len(want) {
		t.Fatalf("got %d errors, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Type != want[i].Type || got[i].Field != want[i].Field || got[i].BadValue != want[i].BadValue || got[i].Detail != want[i].Detail {
			t.Errorf("error %d = %+v, want %+v", i, *got[i], *want[i])
		}
	}
	if out := clientmeta.ToFieldErrors(nil); len(out) != 0 {
		t.Errorf("ToFieldErrors(nil) = %v", out)
	}
}

func keys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ApplyToSpec is FromSpec's inverse for every member the full fixture sets.
func TestApplyToSpecRoundTrip(t *testing.T) {
	spec := fullSpec()
	spec.JWKSURI = "" // jwks and jwks_uri are exclusive
	spec.ExtraMetadata = map[string]apiextensionsv1.JSON{
		"client_name#ja": {Raw: []byte(`"名前"`)},
		"x_vendor":       {Raw: []byte(`{"a":1}`)},
	}
	m1, errs := clientmeta.FromSpec(spec)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	var rebuilt oauthv1alpha1.OAuthClientSpec
	clientmeta.ApplyToSpec(m1, &rebuilt)
	m2, errs := clientmeta.FromSpec(&rebuilt)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	a, _ := m1.MarshalJSON()
	b, _ := m2.MarshalJSON()
	if string(a) != string(b) {
		t.Fatalf("round trip differs:\n%s\n%s", a, b)
	}
	// Full replacement: a member absent from the new metadata is cleared.
	clientmeta.ApplyToSpec(&metadata.Metadata{RedirectURIs: []string{"https://x.example/cb"}}, &rebuilt)
	if rebuilt.ClientName != "" || rebuilt.JWKS != nil || rebuilt.ExtraMetadata != nil || len(rebuilt.RedirectURIs) != 1 {
		t.Fatalf("ApplyToSpec did not replace: %+v", rebuilt)
	}
}
