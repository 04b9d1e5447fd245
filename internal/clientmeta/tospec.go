package clientmeta

import (
	"encoding/json"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// ApplyToSpec writes m's metadata members into spec, replacing every
// metadata field (RFC 7592 full replacement); serverRef, secretName and the
// other operator fields are left alone. It is the inverse of FromSpec:
// FromSpec(ApplyToSpec(m)) describes the same client.
func ApplyToSpec(m *metadata.Metadata, spec *oauthv1alpha1.OAuthClientSpec) {
	copyMembers(m, spec, true)
	spec.JWKS = nil
	if len(m.JWKS) > 0 {
		spec.JWKS = &apiextensionsv1.JSON{Raw: append([]byte(nil), m.JWKS...)}
	}
	spec.ExtraMetadata = nil
	add := func(k string, raw json.RawMessage) {
		if spec.ExtraMetadata == nil {
			spec.ExtraMetadata = map[string]apiextensionsv1.JSON{}
		}
		spec.ExtraMetadata[k] = apiextensionsv1.JSON{Raw: append([]byte(nil), raw...)}
	}
	for k, v := range m.Localized {
		raw, _ := json.Marshal(v)
		add(k, raw)
	}
	for k, v := range m.Extra {
		add(k, v)
	}
}
