package metadata

import (
	"encoding/json"
	"errors"
	"strconv"

	jose "github.com/go-jose/go-jose/v4"
)

// privateJWKMembers are JWK members that carry private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; "priv" for AKP keys).
var privateJWKMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// checkJWKS validates the jwks member (REG-15, REG-16) and returns the number
// of keys, or -1 when the set itself is malformed.
func (v *validator) checkJWKS() int {
	raw := v.m.JWKS
	bad := func(detail string) int {
		v.add(mJWKS, -1, detail, "")
		return -1
	}
	if len(raw) > v.l.jwks {
		return bad("is too large") // REG-45
	}
	var set map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &set) != nil {
		return bad("must be a JSON object containing a keys array") // REG-15
	}
	keysRaw, ok := set["keys"]
	var keys []json.RawMessage
	if !ok || len(keysRaw) == 0 || keysRaw[0] != '[' || json.Unmarshal(keysRaw, &keys) != nil {
		return bad("must be a JSON object containing a keys array") // REG-15
	}
	if len(keys) > v.l.list {
		return bad("has too many keys") // REG-45
	}
	for i, k := range keys {
		if detail := checkJWK(k); detail != "" {
			v.add(mJWKS, -1, "keys["+strconv.Itoa(i)+"] "+detail, "")
		}
	}
	return len(keys)
}

// checkJWK returns "" for an acceptable public JWK, else a fixed detail.
func checkJWK(raw json.RawMessage) string {
	var members map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &members) != nil {
		return "must be a JSON object"
	}
	// REG-16: no private or symmetric key material.
	for _, name := range privateJWKMembers {
		if _, ok := members[name]; ok {
			return "must not contain private or symmetric key material"
		}
	}
	var kty string
	if k, ok := members["kty"]; !ok || len(k) == 0 || k[0] != '"' || json.Unmarshal(k, &kty) != nil || kty == "" {
		return "must have a string kty"
	}
	if kty == "oct" {
		return "must not be a symmetric (oct) key" // REG-16
	}
	var jwk jose.JSONWebKey
	err := jwk.UnmarshalJSON(raw)
	if errors.Is(err, jose.ErrUnsupportedKeyType) {
		// RFC 7517 §5: key types or curves we do not understand are ignored,
		// not rejected (for example OKP X25519 encryption keys).
		return ""
	}
	if err != nil || !jwk.Valid() || !jwk.IsPublic() {
		return "is not a valid public JWK" // REG-15
	}
	return ""
}
