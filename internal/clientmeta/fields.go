package clientmeta

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// memberField is one row of the members table as field indexes of
// metadata.Metadata and OAuthClientSpec.
type memberField struct {
	metadata, spec []int
}

// memberFields indexes the members table (jwks excepted) once, and checks
// that every row names a field on both sides of a kind copyValue handles: a
// row whose field is missing on a side panics at the first conversion (and
// fails the package's tests) instead of being dropped. A spec field left out
// of the table is caught by TestFixtureCoversEverySpecField and
// TestFromSpecMapsEveryField.
var memberFields = sync.OnceValue(func() []memberField {
	mt, st := reflect.TypeFor[metadata.Metadata](), reflect.TypeFor[oauthv1alpha1.OAuthClientSpec]()
	mi, si := indexJSON(mt), indexJSON(st)
	out := make([]memberField, 0, len(members))
	for rfc, name := range members {
		if rfc == "jwks" {
			continue
		}
		f := memberField{metadata: mi[rfc], spec: si[name]}
		if f.metadata == nil || f.spec == nil {
			panic(fmt.Sprintf("clientmeta: member %q (spec.%s) is not a field on both sides", rfc, name))
		}
		if a, b := mt.FieldByIndex(f.metadata).Type, st.FieldByIndex(f.spec).Type; !convertible(a, b) {
			panic(fmt.Sprintf("clientmeta: member %q: %s and %s cannot be copied", rfc, a, b))
		}
		out = append(out, f)
	}
	return out
})

func indexJSON(t reflect.Type) map[string][]int {
	out := map[string][]int{}
	for _, sf := range reflect.VisibleFields(t) {
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name != "" && name != "-" && !sf.Anonymous {
			out[name] = sf.Index
		}
	}
	return out
}

// convertible reports whether copyValue copies between a and b: string
// kinds, slices of string kinds, and pointers to the same type.
func convertible(a, b reflect.Type) bool {
	switch {
	case a.Kind() == reflect.String && b.Kind() == reflect.String:
		return true
	case a.Kind() == reflect.Slice && b.Kind() == reflect.Slice:
		return a.Elem().Kind() == reflect.String && b.Elem().Kind() == reflect.String
	case a.Kind() == reflect.Pointer:
		return a == b
	}
	return false
}

// copyMembers copies every member of the table (jwks excepted) between m
// and spec: into spec when toSpec is set, into m otherwise. Lists keep the
// difference between absent (nil) and empty, since an empty response_types
// means something; pointers are copied, not shared.
func copyMembers(m *metadata.Metadata, spec *oauthv1alpha1.OAuthClientSpec, toSpec bool) {
	mv, sv := reflect.ValueOf(m).Elem(), reflect.ValueOf(spec).Elem()
	for _, f := range memberFields() {
		mf, sf := mv.FieldByIndex(f.metadata), sv.FieldByIndex(f.spec)
		if toSpec {
			copyValue(sf, mf)
		} else {
			copyValue(mf, sf)
		}
	}
}

func copyValue(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.String:
		dst.SetString(src.String())
	case reflect.Slice:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		out := reflect.MakeSlice(dst.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			out.Index(i).SetString(src.Index(i).String())
		}
		dst.Set(out)
	case reflect.Pointer:
		if src.IsNil() {
			dst.SetZero()
			return
		}
		p := reflect.New(src.Type().Elem())
		p.Elem().Set(src.Elem())
		dst.Set(p)
	default:
		panic(fmt.Sprintf("clientmeta: cannot copy a %s", src.Type()))
	}
}
