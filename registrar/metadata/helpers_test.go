package metadata

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// Fixture bodies from docs/requirements.md (Conventions).
const (
	bodyV = `{"redirect_uris":["https://client.example.org/cb"]}`
	bodyP = `{"redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"none"}`
	bodyN = `{"application_type":"native","redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`
)

var (
	oauth = Policy{}
	oidc  = Policy{OIDC: true}
)

// plus returns body with the members of extra added or overridden (V+{…}).
func plus(t testing.TB, body, extra string) string {
	t.Helper()
	var a, b map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("fixture %s: %v", body, err)
	}
	if err := json.Unmarshal([]byte(extra), &b); err != nil {
		t.Fatalf("fixture %s: %v", extra, err)
	}
	for k, v := range b {
		a[k] = v
	}
	out, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

var (
	keysOnce           sync.Once
	ecPublicJWK        string
	ecPrivateJWK       string
	rsaPublicWithP     string
	ecPublicJWKSObject string
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		pub, err := jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "k1", Use: "sig"}.MarshalJSON()
		if err != nil {
			panic(err)
		}
		priv, err := jose.JSONWebKey{Key: ec, KeyID: "k1"}.MarshalJSON()
		if err != nil {
			panic(err)
		}
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rpub, err := jose.JSONWebKey{Key: &rk.PublicKey}.MarshalJSON()
		if err != nil {
			panic(err)
		}
		// Add only "p" to an otherwise public RSA key.
		var m map[string]any
		_ = json.Unmarshal(rpub, &m)
		m["p"] = "AQAB"
		rp, _ := json.Marshal(m)
		ecPublicJWK, ecPrivateJWK, rsaPublicWithP = string(pub), string(priv), string(rp)
		ecPublicJWKSObject = `{"keys":[` + ecPublicJWK + `]}`
	})
}

// bodyK is fixture K: V + private_key_jwt + one EC P-256 public JWK.
func bodyK(t testing.TB) string {
	testKeys(t)
	return plus(t, bodyV, `{"token_endpoint_auth_method":"private_key_jwt","jwks":`+ecPublicJWKSObject+`}`)
}

// run is the registration pipeline: Decode, WithDefaults, Validate.
func run(t testing.TB, body string, keepUnknown bool, p Policy) (*Metadata, ErrorList) {
	t.Helper()
	m, err := Decode([]byte(body), keepUnknown)
	if err != nil {
		var l ErrorList
		if !errors.As(err, &l) {
			t.Fatalf("Decode error is %T, want ErrorList: %v", err, err)
		}
		if len(l) == 0 {
			t.Fatalf("Decode returned an empty ErrorList")
		}
		if m != nil {
			t.Fatalf("Decode returned metadata together with an error")
		}
		return nil, l
	}
	d := WithDefaults(m, p)
	return d, Validate(d, p)
}

// encode marshals m and decodes the result into a generic map.
func encode(t testing.TB, m *Metadata) (string, map[string]any) {
	t.Helper()
	b, err := m.MarshalJSON()
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("MarshalJSON produced invalid JSON %s: %v", b, err)
	}
	return string(b), out
}

func paths(l ErrorList) string {
	var s []string
	for _, e := range l {
		s = append(s, string(e.Code)+"@"+e.Path())
	}
	return strings.Join(s, ", ")
}
