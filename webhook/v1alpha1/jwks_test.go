package v1alpha1

import (
	"context"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/josetest"
)

// TestOAuthClientRefusesWeakOrBrokenKeys: the webhook applies the same key
// rule as the registration endpoint (metadata.CheckPublicJWK): a zero RSA
// modulus, a 512-bit modulus and an EC point off its curve are refused at
// spec.jwks with a message that names the key and repeats no key material.
func TestOAuthClientRefusesWeakOrBrokenKeys(t *testing.T) {
	b64 := base64.RawURLEncoding.EncodeToString
	n512 := new(big.Int).Lsh(big.NewInt(1), 511)
	n512.SetBit(n512, 0, 1)
	ec := josetest.P256Key(t)
	for _, tc := range []struct {
		name, key, detail, material string
	}{
		{"zero modulus", `{"kty":"RSA","n":"` + strings.Repeat("A", 342) + `","e":"AQAB"}`,
			"keys[0] has an invalid RSA modulus (n)", "AAAAAAAA"},
		{"512-bit modulus", `{"kty":"RSA","n":"` + b64(n512.Bytes()) + `","e":"AQAB"}`,
			"keys[0] is an RSA key shorter than 2048 bits", b64(n512.Bytes())[:16]},
		{"EC point off the curve", `{"kty":"EC","crv":"P-256","x":"` + b64(ec.X.FillBytes(make([]byte, 32))) +
			`","y":"` + b64(new(big.Int).Add(ec.Y, big.NewInt(1)).FillBytes(make([]byte, 32))) + `"}`,
			"keys[0] is an EC key whose point is not on its curve", b64(ec.X.FillBytes(make([]byte, 32)))[:16]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			obj := oauthClient(func(c *oauthv1alpha1.OAuthClient) {
				c.Spec.TokenEndpointAuthMethod = "private_key_jwt"
				c.Spec.JWKS = &apiextensionsv1.JSON{Raw: []byte(`{"keys":[` + tc.key + `]}`)}
			})
			_, err := (&OAuthClientValidator{}).ValidateCreate(context.Background(), obj)
			wantErrors(t, err, "spec.jwks")
			if !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("error %q does not say %q", err, tc.detail)
			}
			if strings.Contains(err.Error(), tc.material) {
				t.Fatalf("error repeats key material: %v", err)
			}
		})
	}
}
