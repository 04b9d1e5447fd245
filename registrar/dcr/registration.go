package dcr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clientreg/clientreg/registrar/internal/jsonenc"
)

// Register creates a client at endpoint (RFC 7591 §3.1): a POST of the JSON
// metadata, with software_statement added when given, and the initial access
// token as a Bearer token when given. Success is 201 or 200 with a JSON
// object holding a non-empty string client_id. RegistrationAccessToken and
// RegistrationClientURI are empty when the server offers no RFC 7592
// management.
//
// Register is not idempotent: on an error with Uncertain() true, or a
// KindProtocol error with a 2xx StatusCode, a client may exist on the server.
func (c *Client) Register(ctx context.Context, endpoint string, req RegisterRequest) (*Registration, error) {
	u, err := c.checkURL(opRegister, endpoint, "registration endpoint")
	if err != nil {
		return nil, err
	}
	secrets := []string{req.InitialAccessToken, req.SoftwareStatement}
	if err := checkToken(opRegister, u, req.InitialAccessToken, "initial access token", false); err != nil {
		return nil, err
	}
	members, err := objectMembers(req.Metadata)
	if err != nil {
		return nil, (&call{op: opRegister, url: u}).newError(KindInvalidArgument, "metadata is not a JSON object")
	}
	if req.SoftwareStatement != "" {
		members["software_statement"] = mustString(req.SoftwareStatement)
	}
	cl := &call{
		op: opRegister, method: http.MethodPost, url: u, token: req.InitialAccessToken,
		body: encodeObject(members), secrets: secrets,
		ok: []int{http.StatusCreated, http.StatusOK},
	}
	return c.registration(ctx, cl, "")
}

// Read fetches the client information at clientURI (RFC 7592 §2.1): a GET
// with accessToken as Bearer token; success is 200. The response may carry a
// new registration access token and client secret: persist them. A
// registration_client_uri absent from the response is filled in with
// clientURI. The request is never resent by the transport (see the package
// documentation); a broken exchange is reported as Uncertain.
func (c *Client) Read(ctx context.Context, clientURI, accessToken string) (*Registration, error) {
	u, err := c.checkURL(opRead, clientURI, "client configuration URI")
	if err != nil {
		return nil, err
	}
	if err := checkToken(opRead, u, accessToken, "registration access token", true); err != nil {
		return nil, err
	}
	cl := &call{
		op: opRead, method: http.MethodGet, url: u, token: accessToken,
		secrets: []string{accessToken}, noReplay: true, ok: []int{http.StatusOK},
	}
	return c.registration(ctx, cl, clientURI)
}

// Update replaces the client's metadata at clientURI (RFC 7592 §2.2): a PUT
// whose JSON body is req.Metadata's members plus client_id, without
// registration_access_token, registration_client_uri,
// client_secret_expires_at and client_id_issued_at (node-oidc-provider
// answers 400 for them), and with client_secret only when req.ClientSecret is
// set. Success is 200. Credentials and registration_client_uri are handled as
// in Read. Update does not compare the returned client_id with req.ClientID.
func (c *Client) Update(ctx context.Context, clientURI, accessToken string, req UpdateRequest) (*Registration, error) {
	u, err := c.checkURL(opUpdate, clientURI, "client configuration URI")
	if err != nil {
		return nil, err
	}
	if err := checkToken(opUpdate, u, accessToken, "registration access token", true); err != nil {
		return nil, err
	}
	if req.ClientID == "" {
		return nil, (&call{op: opUpdate, url: u}).newError(KindInvalidArgument, "client ID is empty")
	}
	body, err := updateBody(req)
	if err != nil {
		return nil, (&call{op: opUpdate, url: u}).newError(KindInvalidArgument, "metadata is not a JSON object")
	}
	cl := &call{
		op: opUpdate, method: http.MethodPut, url: u, token: accessToken, body: body,
		secrets: []string{accessToken, req.ClientSecret}, ok: []int{http.StatusOK},
	}
	return c.registration(ctx, cl, clientURI)
}

// Delete deregisters the client at clientURI (RFC 7592 §2.3): a DELETE with
// accessToken as Bearer token; 204 or 200 is success. A KindUnauthorized or
// KindGone error may mean the client is already gone; the caller decides.
func (c *Client) Delete(ctx context.Context, clientURI, accessToken string) error {
	u, err := c.checkURL(opDelete, clientURI, "client configuration URI")
	if err != nil {
		return err
	}
	if err := checkToken(opDelete, u, accessToken, "registration access token", true); err != nil {
		return err
	}
	cl := &call{
		op: opDelete, method: http.MethodDelete, url: u, token: accessToken,
		secrets: []string{accessToken}, ok: []int{http.StatusNoContent, http.StatusOK},
	}
	_, err = c.do(ctx, cl)
	return err
}

// registration performs cl and parses the client information response. A
// non-empty clientURI fills an absent registration_client_uri.
func (c *Client) registration(ctx context.Context, cl *call, clientURI string) (*Registration, error) {
	resp, err := c.do(ctx, cl)
	if err != nil {
		return nil, err
	}
	reg, problem := parseRegistration(resp.body)
	if reg != nil && reg.RegistrationClientURI == "" && clientURI != "" {
		reg.RegistrationClientURI = clientURI
	}
	if problem != "" {
		e := cl.newError(KindProtocol, problem)
		e.StatusCode, e.Sent, e.Partial = resp.status, true, reg
		return nil, e
	}
	return reg, nil
}

// parseRegistration reads a client information response. It returns a
// non-empty problem when the body cannot be used; reg is then whatever could
// be read (nil when the body is not a JSON object). Problems never quote
// values from the body.
func parseRegistration(body []byte) (reg *Registration, problem string) {
	trimmed := bytes.TrimSpace(body)
	var members map[string]json.RawMessage
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &members) != nil {
		return nil, "response body is not a JSON object"
	}
	reg = &Registration{Metadata: json.RawMessage(bytes.Clone(body))}
	var problems []string
	str := func(name string, dst *string) {
		if ok := optionalString(members[name], dst); !ok {
			problems = append(problems, name+" is not a string")
		}
	}
	switch raw := members["client_id"]; {
	case isAbsent(raw):
		problems = append(problems, "client_id is missing")
	case json.Unmarshal(raw, &reg.ClientID) != nil:
		problems = append(problems, "client_id is not a string")
	case reg.ClientID == "":
		problems = append(problems, "client_id is empty")
	}
	str("client_secret", &reg.ClientSecret)
	str("registration_access_token", &reg.RegistrationAccessToken)
	str("registration_client_uri", &reg.RegistrationClientURI)

	if t, ok := optionalTime(members["client_id_issued_at"]); ok {
		reg.ClientIDIssuedAt = t
	} else {
		problems = append(problems, "client_id_issued_at is not a non-negative number of seconds")
	}
	if t, ok := optionalTime(members["client_secret_expires_at"]); ok {
		reg.ClientSecretExpiresAt = t
		reg.SecretExpires = !t.IsZero()
	} else {
		problems = append(problems, "client_secret_expires_at is not a non-negative number of seconds")
	}
	if len(problems) > 0 {
		return reg, strings.Join(problems, "; ")
	}
	return reg, ""
}

// optionalString decodes a string member; absent or null leaves dst empty.
func optionalString(raw json.RawMessage, dst *string) bool {
	if isAbsent(raw) {
		return true
	}
	return json.Unmarshal(raw, dst) == nil
}

// maxNumericDate bounds accepted times (year 9999) so that time arithmetic
// cannot overflow.
const maxNumericDate = 253402300799

// optionalTime decodes a NumericDate member (RFC 7591 §3.2.1: seconds since
// the epoch, a JSON number; numeric strings are accepted too). Absent, null
// and 0 give the zero time; fractions are truncated. ok is false for anything
// else, including negative values.
func optionalTime(raw json.RawMessage) (t time.Time, ok bool) {
	if isAbsent(raw) {
		return time.Time{}, true
	}
	// json.Number also accepts a JSON string holding a valid number.
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return time.Time{}, false
	}
	text := n.String()
	var secs int64
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		secs = i
	} else if f, err := strconv.ParseFloat(text, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && f < maxNumericDate+1 && f > -1 {
		secs = int64(f)
	} else {
		return time.Time{}, false
	}
	if secs < 0 || secs > maxNumericDate {
		return time.Time{}, false
	}
	if secs == 0 {
		return time.Time{}, true
	}
	return time.Unix(secs, 0).UTC(), true
}

func isAbsent(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// objectMembers decodes a JSON object into its members; nil or empty input
// is the empty object.
func objectMembers(raw json.RawMessage) (map[string]json.RawMessage, error) {
	members := map[string]json.RawMessage{}
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return members, nil
	}
	if t[0] != '{' {
		return nil, errNotObject
	}
	if err := json.Unmarshal(t, &members); err != nil {
		return nil, err
	}
	if members == nil { // cannot happen after '{', kept for safety
		members = map[string]json.RawMessage{}
	}
	return members, nil
}

var errNotObject = errors.New("not a JSON object")

// updateForbidden are the members RFC 7592 §2.2 forbids in a PUT, plus
// client_secret, which is sent only when UpdateRequest.ClientSecret is set.
var updateForbidden = []string{
	"registration_access_token",
	"registration_client_uri",
	"client_secret_expires_at",
	"client_id_issued_at",
	"client_secret",
}

// updateBody builds the PUT body of an RFC 7592 §2.2 update.
func updateBody(req UpdateRequest) ([]byte, error) {
	members, err := objectMembers(req.Metadata)
	if err != nil {
		return nil, err
	}
	for _, name := range updateForbidden {
		delete(members, name)
	}
	members["client_id"] = mustString(req.ClientID)
	if req.ClientSecret != "" {
		members["client_secret"] = mustString(req.ClientSecret)
	}
	return encodeObject(members), nil
}

// mustString encodes s as a JSON string.
func mustString(s string) json.RawMessage {
	b, _ := jsonenc.Marshal(s) // a string always encodes
	return b
}

// encodeObject encodes members as one JSON object (keys sorted) without HTML
// escaping, so URLs with "&" go out as written.
func encodeObject(members map[string]json.RawMessage) []byte {
	b, _ := jsonenc.Marshal(members) // members were decoded from valid JSON
	return b
}
