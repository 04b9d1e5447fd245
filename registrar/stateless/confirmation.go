package stateless

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	jose "github.com/go-jose/go-jose/v4"
)

// AuthMethodPrivateKeyJWT is the token_endpoint_auth_method for which
// ConfirmationFor builds a cnf claim (RFC 7523 client assertions).
const AuthMethodPrivateKeyJWT = "private_key_jwt"

// Confirmation is the RFC 7800 "cnf" claim of a client id: the proof-of-
// possession key of a private_key_jwt client, either embedded (JWK, always a
// public key) or referenced (JKU, an https URL of a JWK Set). At most one
// member is set.
type Confirmation struct {
	// JWK is the client's public key.
	JWK *jose.JSONWebKey `json:"jwk,omitempty"`
	// JKU is the https URL of the client's JWK Set.
	JKU string `json:"jku,omitempty"`
}

// empty reports whether c carries no key.
func (c *Confirmation) empty() bool { return c == nil || (c.JWK == nil && c.JKU == "") }

// check enforces RFC 7800 §3.1 (at most one member), §3.2 (a JWK in a
// readable client id is public) and §3.5 (jku over TLS).
func (c *Confirmation) check(allowSecret bool) error {
	if c.JWK != nil && c.JKU != "" {
		return errors.New("cnf has more than one member")
	}
	if c.JWK != nil {
		if !c.JWK.Valid() && !isSymmetric(c.JWK) {
			return errors.New("cnf.jwk is not a valid key")
		}
		if !c.JWK.IsPublic() && !allowSecret {
			return errors.New("cnf.jwk holds private or symmetric key material")
		}
	}
	if c.JKU != "" {
		if err := checkHTTPSURL(c.JKU); err != nil {
			return fmt.Errorf("cnf.jku: %w", err)
		}
	}
	return nil
}

func isSymmetric(k *jose.JSONWebKey) bool {
	b, ok := k.Key.([]byte)
	return ok && len(b) > 0
}

// privateMembers are the JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// ConfirmationFor builds the cnf claim for a client from its registered
// metadata: for token_endpoint_auth_method private_key_jwt, a jwks holding
// exactly one key gives {"jwk": key} and a jwks_uri gives {"jku": uri};
// otherwise it returns nil (keys then stay in reg.jwks, and other methods get
// no cnf). Whatever the method, it rejects a jwks that holds private or
// symmetric key material, a jwks together with a jwks_uri (RFC 7591 §2), and a
// jwks_uri that is not an absolute https URL.
func ConfirmationFor(authMethod string, jwks json.RawMessage, jwksURI string) (*Confirmation, error) {
	trimmed := bytes.TrimSpace(jwks)
	hasJWKS := len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null"))
	if hasJWKS && jwksURI != "" {
		return nil, errors.New("stateless: jwks and jwks_uri must not both be present")
	}
	var rawKeys []json.RawMessage
	if hasJWKS {
		var set struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(trimmed, &set); err != nil {
			return nil, fmt.Errorf("stateless: jwks: %w", err)
		}
		if set.Keys == nil {
			return nil, errors.New(`stateless: jwks has no "keys" array`)
		}
		for i, raw := range set.Keys {
			var members map[string]json.RawMessage
			if err := json.Unmarshal(raw, &members); err != nil {
				return nil, fmt.Errorf("stateless: jwks key %d: %w", i, err)
			}
			for _, m := range privateMembers {
				if _, ok := members[m]; ok {
					return nil, fmt.Errorf("stateless: jwks key %d holds private or symmetric key material (%q)", i, m)
				}
			}
		}
		rawKeys = set.Keys
	}
	if jwksURI != "" {
		if err := checkHTTPSURL(jwksURI); err != nil {
			return nil, fmt.Errorf("stateless: jwks_uri: %w", err)
		}
	}
	if authMethod != AuthMethodPrivateKeyJWT {
		return nil, nil
	}
	switch {
	case len(rawKeys) == 1:
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(rawKeys[0]); err != nil {
			return nil, fmt.Errorf("stateless: jwks key: %w", err)
		}
		if !k.Valid() || !k.IsPublic() {
			return nil, errors.New("stateless: jwks key is not a valid public key")
		}
		return &Confirmation{JWK: &k}, nil
	case jwksURI != "":
		return &Confirmation{JKU: jwksURI}, nil
	}
	return nil, nil
}

func checkHTTPSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if u.Scheme != "https" || u.Host == "" || strings.ContainsRune(s, '#') || u.User != nil {
		return errors.New("must be an absolute https URL without userinfo or fragment")
	}
	return nil
}
