package legacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// Operations, the values of the "type" parameter.
const (
	// TypeAssociate registers a new client.
	TypeAssociate = "client_associate"
	// TypeUpdate replaces the metadata of a registered client.
	TypeUpdate = "client_update"
)

// Protocol parameters that are not client metadata.
const (
	pType         = "type"
	pClientID     = "client_id"
	pClientSecret = "client_secret"
	pAccessToken  = "access_token"
)

// maxCredentialLength bounds client_id, client_secret and access_token.
const maxCredentialLength = 4096

// kind is how a parameter value becomes a metadata member value.
type kind int

const (
	// kindString: a string, passed through.
	kindString kind = iota
	// kindList: an array of strings; a string (every form value) is split at
	// white space and commas.
	kindList
	// kindInt: an integer; a form value is parsed as a decimal number.
	kindInt
	// kindBool: a boolean; a form value must be "true" or "false".
	kindBool
)

// field maps request parameter names onto one metadata member.
type field struct {
	// member is the RFC 7591 / OpenID Connect Registration 1.0 member name.
	member string
	kind   kind
	// names are the accepted request parameter names: the draft names first,
	// then the final name when it differs. At most one may be present.
	names []string
}

// fields is the mapping table (see the package documentation). Parameters
// not listed here are ignored.
var fields = []field{
	{metadataName("redirect_uris"), kindList, []string{"redirect_uri", "redirect_url", "redirect_uris"}},
	{metadataName("client_name"), kindString, []string{"application_name", "client_name"}},
	{metadataName("application_type"), kindString, []string{"application_type"}},
	{metadataName("contacts"), kindList, []string{"contact", "contacts"}},
	{metadataName("logo_uri"), kindString, []string{"logo_url", "logo_uri"}},
	{metadataName("policy_uri"), kindString, []string{"policy_url", "policy_uri"}},
	{metadataName("tos_uri"), kindString, []string{"tos_url", "tos_uri"}},
	{metadataName("jwks_uri"), kindString, []string{"jwk_url", "jwks_uri"}},
	{metadataName("sector_identifier_uri"), kindString, []string{"sector_identifier", "sector_identifier_url", "sector_identifier_uri"}},
	{metadataName("token_endpoint_auth_method"), kindString, []string{"token_endpoint_auth_type", "token_endpoint_auth_method"}},
	{metadataName("subject_type"), kindString, []string{"subject_type"}},
	{metadataName("id_token_signed_response_alg"), kindString, []string{"id_token_signed_response_alg"}},
	{metadataName("id_token_encrypted_response_alg"), kindString, []string{"id_token_encrypted_response_alg"}},
	{metadataName("id_token_encrypted_response_enc"), kindString, []string{"id_token_encrypted_response_enc"}},
	{metadataName("userinfo_signed_response_alg"), kindString, []string{"userinfo_signed_response_alg"}},
	{metadataName("userinfo_encrypted_response_alg"), kindString, []string{"userinfo_encrypted_response_alg"}},
	{metadataName("userinfo_encrypted_response_enc"), kindString, []string{"userinfo_encrypted_response_enc"}},
	{metadataName("request_object_signing_alg"), kindString, []string{"request_object_signing_alg"}},
	{metadataName("default_max_age"), kindInt, []string{"default_max_age"}},
	{metadataName("require_auth_time"), kindBool, []string{"require_auth_time"}},
	{metadataName("default_acr_values"), kindList, []string{"default_acr", "default_acr_values"}},
}

// metadataName panics unless name is a member of the metadata model, so
// that the mapping table cannot name a member that Decode would drop.
func metadataName(name string) string {
	if !metadata.IsKnownMember(name) {
		panic("legacy: " + name + " is not a metadata member")
	}
	return name
}

// value is one request parameter: a form value or a JSON member.
type value struct {
	str    string          // form value
	raw    json.RawMessage // JSON member value, nil for form values
	repeat bool            // the parameter occurs more than once
}

// present reports whether v counts as given: JSON null and empty form values
// count as absent.
func (v value) present() bool {
	if v.raw != nil {
		return string(v.raw) != "null"
	}
	return v.str != ""
}

// request is a parsed legacy registration request.
type request struct {
	typ                                 string
	clientID, clientSecret, accessToken string
	hasClientID, hasSecret, hasToken    bool
	// members holds the translated metadata members, by final name.
	members map[string]json.RawMessage
	// used maps each translated member to the parameter name the client used,
	// for error descriptions.
	used map[string]string
}

// parse reads and parses the request body (form or JSON) into a request.
// Errors are *endpoint.Error values with final or legacy codes.
func (h *Handler) parse(w http.ResponseWriter, r *http.Request) (*request, error) {
	mt, ok := mediaType(r)
	if !ok || (mt != mediaForm && mt != mediaJSON) {
		return nil, &endpoint.Error{Status: http.StatusUnsupportedMediaType, Code: endpoint.CodeInvalidRequest,
			Description: "Content-Type must be application/x-www-form-urlencoded or application/json"}
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return nil, err
	}
	var params map[string]value
	if mt == mediaForm {
		params, err = parseForm(body)
	} else {
		params, err = parseJSON(body)
	}
	if err != nil {
		return nil, err
	}
	return translate(params)
}

// Media types.
const (
	mediaForm = "application/x-www-form-urlencoded"
	mediaJSON = "application/json"
)

// mediaType returns the lower-cased media type of r and whether its charset
// parameter, if any, is UTF-8.
func mediaType(r *http.Request) (string, bool) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return "", false
	}
	cs, has := params["charset"]
	return mt, !has || strings.EqualFold(cs, "utf-8")
}

// readBody reads the body capped at the core handler's MaxBodyBytes: 413
// invalid_client_metadata (renamed invalid_configuration_parameter) when it
// is larger.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return endpoint.ReadBody(w, r, h.maxBody())
}

// malformed is the answer to a body that cannot be parsed, like the final
// endpoint's (invalid_client_metadata, renamed).
func malformed(desc string) error {
	return &endpoint.Error{Status: http.StatusBadRequest, Code: string(metadata.CodeInvalidClientMetadata), Description: desc}
}

// parseForm parses an application/x-www-form-urlencoded body.
func parseForm(body []byte) (map[string]value, error) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, malformed("the request body is not a valid application/x-www-form-urlencoded form")
	}
	out := make(map[string]value, len(vals))
	for k, vs := range vals {
		if len(vs) == 0 {
			continue
		}
		out[k] = value{str: vs[0], repeat: len(vs) > 1}
	}
	return out, nil
}

// parseJSON parses a JSON object body: exactly one object, every member
// name once (a repeated name is marked and refused if it is used).
//
// Every string in it, names included, must be valid Unicode
// (metadata.ValidJSONText): encoding/json would replace an unpaired surrogate
// escape or an invalid UTF-8 byte with U+FFFD, and a list parameter given as
// one string is unescaped here, before metadata.Decode could see it.
func parseJSON(body []byte) (map[string]value, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, malformed("request body must be a JSON object")
	}
	out := map[string]value{}
	for dec.More() {
		nameStart := dec.InputOffset()
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed("request body is not valid JSON")
		}
		name, _ := tok.(string)
		nameEnd := dec.InputOffset()
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, malformed("request body is not valid JSON")
		}
		raw = bytes.TrimSpace(raw)
		if !metadata.ValidJSONText(body[nameStart:nameEnd]) {
			return nil, malformed("a parameter name must be valid Unicode: no unpaired surrogate escapes, no invalid UTF-8")
		}
		if fe := metadata.UnicodeError(name, raw); fe != nil {
			return nil, metadata.ErrorList{fe}
		}
		if v, seen := out[name]; seen {
			v.repeat = true
			out[name] = v
			continue
		}
		out[name] = value{raw: raw}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return nil, malformed("request body is not valid JSON")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, malformed("request body must contain exactly one JSON object")
	}
	return out, nil
}

// repeated is the answer to a parameter given more than once (RFC 6749
// §3.1), under one name or under two names of the same member. name is from
// the mapping table, never client input.
func repeated(name string) error {
	return &endpoint.Error{Status: http.StatusBadRequest, Code: endpoint.CodeInvalidRequest,
		Description: "parameter " + name + " is given more than once"}
}

// control reads a protocol parameter that must be one string.
func control(params map[string]value, name, code string) (string, bool, error) {
	v, ok := params[name]
	if !ok || !v.present() {
		return "", false, nil
	}
	if v.repeat {
		return "", false, repeated(name)
	}
	s := v.str
	if v.raw != nil {
		if v.raw[0] != '"' || json.Unmarshal(v.raw, &s) != nil {
			return "", false, &endpoint.Error{Status: http.StatusBadRequest, Code: code,
				Description: name + " must be a string"}
		}
	}
	if !utf8.ValidString(s) || len(s) > maxCredentialLength {
		return "", false, &endpoint.Error{Status: http.StatusBadRequest, Code: code,
			Description: name + " is malformed"}
	}
	return s, true, nil
}

// translate turns parameters into a request: the protocol parameters, and
// the metadata members under their final names.
func translate(params map[string]value) (*request, error) {
	rq := &request{members: map[string]json.RawMessage{}, used: map[string]string{}}
	typ, ok, err := control(params, pType, CodeInvalidType)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &endpoint.Error{Status: http.StatusBadRequest, Code: CodeInvalidType,
			Description: "the type parameter is required"}
	}
	if typ != TypeAssociate && typ != TypeUpdate {
		return nil, &endpoint.Error{Status: http.StatusBadRequest, Code: CodeInvalidType,
			Description: "type must be client_associate or client_update"}
	}
	rq.typ = typ
	if rq.clientID, rq.hasClientID, err = control(params, pClientID, CodeInvalidClientID); err != nil {
		return nil, err
	}
	if rq.clientSecret, rq.hasSecret, err = control(params, pClientSecret, CodeInvalidClientSecret); err != nil {
		return nil, err
	}
	if rq.accessToken, rq.hasToken, err = control(params, pAccessToken, endpoint.CodeInvalidRequest); err != nil {
		return nil, err
	}
	for _, f := range fields {
		var name string
		var v value
		for _, n := range f.names {
			pv, ok := params[n]
			if !ok || !pv.present() {
				continue
			}
			if name != "" {
				return nil, repeated(f.member + " (as " + name + " and " + n + ")")
			}
			if pv.repeat {
				return nil, repeated(n)
			}
			name, v = n, pv
		}
		if name == "" {
			continue
		}
		raw, err := convert(f, name, v)
		if err != nil {
			return nil, err
		}
		if raw != nil {
			rq.members[f.member] = raw
			rq.used[f.member] = name
		}
	}
	return rq, nil
}

// convert returns the JSON value of member f from parameter name = v, or nil
// when it is absent after all (an empty list). Type errors of JSON values are
// left to metadata.Decode; form values are checked here.
func convert(f field, name string, v value) (json.RawMessage, error) {
	fieldErr := func(detail string) error {
		return metadata.ErrorList{{Member: name, Index: -1, Code: codeOf(f.member), Detail: detail}}
	}
	if v.raw != nil {
		if f.kind == kindList && v.raw[0] == '"' {
			var s string
			if json.Unmarshal(v.raw, &s) != nil {
				return nil, fieldErr("must be a string or an array of strings")
			}
			return splitList(s)
		}
		return v.raw, nil
	}
	if !utf8.ValidString(v.str) {
		return nil, fieldErr("must be UTF-8 text")
	}
	switch f.kind {
	case kindList:
		return splitList(v.str)
	case kindInt:
		n, err := strconv.ParseInt(v.str, 10, 64)
		if err != nil {
			return nil, fieldErr("must be an integer number of seconds")
		}
		return json.Marshal(n)
	case kindBool:
		switch v.str {
		case "true", "false":
			return json.RawMessage(v.str), nil
		}
		return nil, fieldErr("must be true or false")
	}
	return json.Marshal(v.str)
}

// splitList splits s at white space and commas into a JSON array of
// strings; nil when there is no element.
func splitList(s string) (json.RawMessage, error) {
	items := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	if len(items) == 0 {
		return nil, nil
	}
	return json.Marshal(items)
}

// codeOf is the RFC 7591 code of problems with member (before renaming).
func codeOf(member string) metadata.ErrorCode {
	if member == "redirect_uris" {
		return metadata.CodeInvalidRedirectURI
	}
	return metadata.CodeInvalidClientMetadata
}

// metadata decodes the translated members with metadata.Decode(body, false),
// the final endpoint's decoder: the same JSON type rules apply.
func (rq *request) metadata() (*metadata.Metadata, error) {
	b, err := json.Marshal(rq.members)
	if err != nil {
		return nil, malformed("request body is not valid JSON")
	}
	return metadata.Decode(b, false)
}
