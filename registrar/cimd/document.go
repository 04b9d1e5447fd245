package cimd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// MaxDocumentBytes bounds a document: the draft recommends 5 kilobytes, and
// one authorization server refuses anything larger.
const MaxDocumentBytes = 5 << 10

// DefaultAuthMethod is the token endpoint auth method of a document whose
// metadata names none. RFC 7591's default, client_secret_basic, is never
// allowed in a document.
const DefaultAuthMethod = metadata.AuthPrivateKeyJWT

// RefusedError says which member of the metadata a document cannot carry,
// and why. It never holds a secret.
type RefusedError struct {
	// Member is the metadata member at fault ("" for the whole document).
	Member string
	Detail string
}

func (e *RefusedError) Error() string {
	if e.Member == "" {
		return e.Detail
	}
	return e.Member + ": " + e.Detail
}

func refused(member, format string, args ...any) error {
	return &RefusedError{Member: member, Detail: fmt.Sprintf(format, args...)}
}

// AuthMethod is md's token endpoint auth method in a document.
func AuthMethod(md *metadata.Metadata) string {
	if md == nil || md.TokenEndpointAuthMethod == "" {
		return DefaultAuthMethod
	}
	return md.TokenEndpointAuthMethod
}

// GeneratesKeys reports whether the operator holds a key pair for a client
// with metadata md: private_key_jwt without keys of its own (jwks or
// jwks_uri in the metadata).
func GeneratesKeys(md *metadata.Metadata) bool {
	return AuthMethod(md) == metadata.AuthPrivateKeyJWT && (md == nil || (len(md.JWKS) == 0 && md.JWKSURI == ""))
}

// CheckMetadata reports what a document for md cannot carry, before any key
// or document exists: a client secret or a symmetric authentication method
// (no shared secret ever exists for a document client), a signing or
// encryption algorithm derived from a client secret, a web URI that is not
// https, a jwks_uri on another origin than clientID, and a
// token_endpoint_auth_signing_alg that does not fit the generated key.
// clientID may be empty when it is not known yet (the origin check is then
// skipped).
func CheckMetadata(md *metadata.Metadata, clientID string) error {
	if md == nil {
		return nil
	}
	switch m := AuthMethod(md); m {
	case metadata.AuthClientSecretBasic, metadata.AuthClientSecretPost, metadata.AuthClientSecretJWT:
		return refused("token_endpoint_auth_method", "%s needs a client secret, and a client identified by a metadata document has none: use private_key_jwt (the operator holds the key), none (a public client, with PKCE) or tls_client_auth", m)
	}
	if name := md.SymmetricAlgMember(); name != "" {
		return refused(name, "names a symmetric algorithm, whose key would be derived from a client secret; a client identified by a metadata document has no secret")
	}
	for _, k := range []string{"client_secret", "client_secret_expires_at"} {
		if _, ok := md.Extra[k]; ok {
			return refused(k, "a metadata document must not carry a client secret")
		}
	}
	if err := checkWebURIs(md); err != nil {
		return err
	}
	if md.JWKSURI != "" && clientID != "" && !sameOrigin(md.JWKSURI, clientID) {
		return refused("jwks_uri", "must be on the origin of the client id %s: authorization servers refuse a jwks_uri on another origin", clientID)
	}
	if alg := md.TokenEndpointAuthSigningAlg; alg != "" && GeneratesKeys(md) && !isAlgorithm(alg) {
		return refused("token_endpoint_auth_signing_alg", "%s: the operator generates keys for %v only", alg, Algorithms())
	}
	return nil
}

// KeyAlgorithm is the algorithm of the key generated for md: its
// token_endpoint_auth_signing_alg, or def.
func KeyAlgorithm(md *metadata.Metadata, def string) string {
	if md != nil && md.TokenEndpointAuthSigningAlg != "" {
		return md.TokenEndpointAuthSigningAlg
	}
	if def == "" {
		return AlgES256
	}
	return def
}

func isAlgorithm(alg string) bool {
	for _, a := range Algorithms() {
		if a == alg {
			return true
		}
	}
	return false
}

// checkWebURIs refuses a web URI member that is not https. Authorization
// servers check these members (one checks exactly these, with
// backchannel_client_notification_endpoint, which has no field here);
// language-tagged variants are held to the same rule.
func checkWebURIs(md *metadata.Metadata) error {
	members := []struct{ name, value string }{
		{"backchannel_logout_uri", md.BackchannelLogoutURI}, {"client_uri", md.ClientURI},
		{"initiate_login_uri", md.InitiateLoginURI}, {"jwks_uri", md.JWKSURI}, {"logo_uri", md.LogoURI},
		{"policy_uri", md.PolicyURI}, {"sector_identifier_uri", md.SectorIdentifierURI}, {"tos_uri", md.TOSURI},
	}
	for name, value := range md.Localized {
		if base, _, _ := strings.Cut(name, "#"); base != "client_name" {
			members = append(members, struct{ name, value string }{name, value})
		}
	}
	if raw, ok := md.Extra["backchannel_client_notification_endpoint"]; ok {
		var v string
		if json.Unmarshal(raw, &v) != nil {
			v = string(raw)
		}
		members = append(members, struct{ name, value string }{"backchannel_client_notification_endpoint", v})
	}
	for _, m := range members {
		if m.value == "" {
			continue
		}
		if u, err := url.Parse(m.value); err != nil || u.Scheme != "https" {
			return refused(m.name, "must be an https URL in a metadata document: authorization servers refuse other schemes")
		}
	}
	return nil
}

func sameOrigin(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && strings.EqualFold(ua.Host, ub.Host)
}

// Input is what a document is built from.
type Input struct {
	// ClientID is the document's URL (ValidateClientIDURL).
	ClientID string
	// Metadata is the client's validated metadata (as written, no defaults).
	Metadata *metadata.Metadata
	// Keys are the public keys to publish (the active key, a next key
	// published ahead of its use, a retired key kept for the overlap); none
	// when the client brings its own or needs none.
	Keys []jose.JSONWebKey
	// JWKSURI publishes Keys at JWKSURL(ClientID) instead of inline.
	JWKSURI bool
}

// Build returns the document for in and, when in.JWKSURI is set and keys are
// published, the JWK Set served at its jwks_uri. The document has sorted
// members, so equal inputs give equal bytes (and equal ETags on every
// replica).
func Build(in Input) (doc, jwks []byte, err error) {
	if err := ValidateClientIDURL(in.ClientID); err != nil {
		return nil, nil, refused("client_id", "%s", err.Error())
	}
	md := &metadata.Metadata{}
	if in.Metadata != nil {
		md = in.Metadata.DeepCopy()
	}
	if err := CheckMetadata(md, in.ClientID); err != nil {
		return nil, nil, err
	}
	md.TokenEndpointAuthMethod = AuthMethod(md)
	if md.ResponseTypes == nil && !metadata.RFCDefaults(md).UsesRedirects() {
		// Say "no response types" rather than leave the RFC 7591 default
		// ["code"] to the authorization server, which would then ask for
		// redirect URIs a client_credentials client does not have.
		md.ResponseTypes = []string{}
	}
	if len(in.Keys) > 0 {
		if len(md.JWKS) > 0 || md.JWKSURI != "" {
			return nil, nil, refused("jwks", "the client brings its own keys; the operator publishes none")
		}
		set, err := PublicJWKS(in.Keys...)
		if err != nil {
			return nil, nil, err
		}
		if in.JWKSURI {
			md.JWKSURI, jwks = JWKSURL(in.ClientID), set
		} else {
			md.JWKS = set
		}
	}
	if md.TokenEndpointAuthMethod == metadata.AuthPrivateKeyJWT && len(md.JWKS) == 0 && md.JWKSURI == "" {
		return nil, nil, refused("jwks", "private_key_jwt needs a published key (jwks or jwks_uri)")
	}
	body, err := md.MarshalJSON()
	if err != nil {
		return nil, nil, fmt.Errorf("encoding the document: %w", err)
	}
	// client_id goes first (MarshalJSON never writes it): the object stays
	// one line, and its other members keep their sorted order.
	var buf bytes.Buffer
	id, _ := json.Marshal(in.ClientID)
	buf.WriteString(`{"client_id":`)
	buf.Write(id)
	if len(body) > 2 {
		buf.WriteByte(',')
		buf.Write(body[1:])
	} else {
		buf.WriteByte('}')
	}
	if buf.Len() > MaxDocumentBytes {
		return nil, nil, refused("", "the metadata document would be %d bytes, over the %d-byte bound authorization servers enforce: shorten the metadata (contacts, URIs, names)", buf.Len(), MaxDocumentBytes)
	}
	return buf.Bytes(), jwks, nil
}
