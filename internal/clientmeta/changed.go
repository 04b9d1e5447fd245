package clientmeta

import (
	"bytes"
	"encoding/json"
	"sort"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// ChangedMembers lists, sorted, the RFC 7591 members whose registered value
// (FromSpec, as written, without defaults: what a stateless client id signs)
// differs between two specs. Settings outside the registration
// (secretTemplate, rotation, deletionPolicy, ...) do not count. When either
// registration cannot be encoded it returns [""]: the whole registration.
func ChangedMembers(oldSpec, newSpec *oauthv1alpha1.OAuthClientSpec) []string {
	a, b := registered(oldSpec), registered(newSpec)
	if a == nil || b == nil {
		return []string{""}
	}
	var out []string
	for k, av := range a {
		if bv, ok := b[k]; !ok || !bytes.Equal(av, bv) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// registered returns the members of the registration a spec asks for; nil
// when they cannot be encoded.
func registered(spec *oauthv1alpha1.OAuthClientSpec) map[string]json.RawMessage {
	m, _ := FromSpec(spec)
	raw, err := m.MarshalJSON()
	if err != nil {
		return nil
	}
	out := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil
	}
	return out
}
