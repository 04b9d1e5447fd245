package endpoint

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/clientreg/clientreg/registrar/internal/jsonenc"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// ClientInformation is an RFC 7591 §3.2.1 / RFC 7592 §3 client information
// response: every registered metadata member (defaults included) plus the
// credentials.
type ClientInformation struct {
	// Metadata is the registered metadata.
	Metadata *metadata.Metadata
	// ClientID is client_id.
	ClientID string
	// ClientSecret is client_secret; empty when none is issued.
	ClientSecret string
	// ClientIDIssuedAt is client_id_issued_at; omitted when zero.
	ClientIDIssuedAt time.Time
	// ClientSecretExpiresAt is client_secret_expires_at; sent whenever a
	// secret is, as 0 when zero (never expires) (RSP-04).
	ClientSecretExpiresAt time.Time
	// RegistrationAccessToken and RegistrationClientURI are sent together
	// (RSP-10).
	RegistrationAccessToken, RegistrationClientURI string
}

// String describes c without its secrets.
func (c *ClientInformation) String() string {
	if c == nil {
		return "<nil>"
	}
	return fmt.Sprintf("ClientInformation{ClientID:%q ClientSecret:%s RegistrationAccessToken:%s}",
		c.ClientID, redacted(c.ClientSecret), redacted(c.RegistrationAccessToken))
}

// GoString is String, for %#v.
func (c *ClientInformation) GoString() string { return c.String() }

// MarshalJSON encodes the response object: the credential members first,
// then the metadata members (JSON numbers for the times, RSP-04, RSP-05).
func (c *ClientInformation) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	first := true
	member := func(name string, v any) error {
		b, err := jsonenc.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding %s: %w", name, err)
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		buf.WriteString(strconv.Quote(name))
		buf.WriteByte(':')
		buf.Write(b)
		return nil
	}
	if err := member("client_id", c.ClientID); err != nil {
		return nil, err
	}
	if c.ClientSecret != "" {
		if err := member("client_secret", c.ClientSecret); err != nil {
			return nil, err
		}
		var exp int64
		if !c.ClientSecretExpiresAt.IsZero() {
			exp = c.ClientSecretExpiresAt.Unix()
		}
		if err := member("client_secret_expires_at", exp); err != nil {
			return nil, err
		}
	}
	if !c.ClientIDIssuedAt.IsZero() {
		if err := member("client_id_issued_at", c.ClientIDIssuedAt.Unix()); err != nil {
			return nil, err
		}
	}
	if c.RegistrationAccessToken != "" && c.RegistrationClientURI != "" {
		if err := member("registration_access_token", c.RegistrationAccessToken); err != nil {
			return nil, err
		}
		if err := member("registration_client_uri", c.RegistrationClientURI); err != nil {
			return nil, err
		}
	}
	if c.Metadata != nil {
		md, err := c.Metadata.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("encoding metadata: %w", err)
		}
		md = bytes.TrimSpace(md)
		if len(md) < 2 || md[0] != '{' || md[len(md)-1] != '}' {
			return nil, fmt.Errorf("encoding metadata: not a JSON object")
		}
		if inner := bytes.TrimSpace(md[1 : len(md)-1]); len(inner) > 0 {
			buf.WriteByte(',')
			buf.Write(inner)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// writeClientInformation writes info with status (201 or 200) and the
// no-store headers (RSP-11).
func (h *Handler) writeClientInformation(w http.ResponseWriter, status int, info *ClientInformation) {
	b, err := info.MarshalJSON()
	if err != nil {
		h.writeErr(w, serverError(err))
		return
	}
	hd := w.Header()
	setNoStore(hd)
	hd.Set("Content-Type", "application/json")
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeErr logs server-side failures (never secrets: only the error chain,
// which carries no tokens) and writes the error.
func (h *Handler) writeErr(w http.ResponseWriter, err error) {
	e := asError(err)
	if e != nil && e.Status >= 500 && e.cause != nil {
		h.log("registration endpoint error", "status", e.Status, "error", e.cause.Error())
	}
	WriteError(w, e)
}
