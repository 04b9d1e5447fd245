package endpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/clientreg/clientreg/registrar/metadata"
)

// statementAlgorithms is the software statement signature allow-list
// (RFC 7591 §2.3 recommends RS256; RFC 8725 §3.1). "none" and HMAC are never
// accepted; the statement's "alg" never chooses the key type.
var statementAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.EdDSA, jose.PS256}

// statementLeeway is the clock skew allowed on a statement's exp and nbf.
const statementLeeway = time.Minute

// jwtClaims are the JWT claims of a software statement that are not client
// metadata and never override a registration member.
var jwtClaims = map[string]bool{
	"iss": true, "sub": true, "aud": true, "exp": true, "nbf": true, "iat": true, "jti": true,
	"software_statement": true,
}

func invalidStatement(detail string) metadata.ErrorList {
	return metadata.ErrorList{{Member: "software_statement", Index: -1,
		Code: metadata.CodeInvalidSoftwareStatement, Detail: detail}}
}

func unapprovedStatement() metadata.ErrorList {
	return metadata.ErrorList{{Member: "software_statement", Index: -1,
		Code: metadata.CodeUnapprovedSoftwareStatement, Detail: "is not from an issuer this server trusts"}}
}

// applyStatement verifies md.SoftwareStatement and returns the metadata with
// the statement's claims overriding the JSON members (RFC 7591 §2.3, REG-32);
// the statement itself stays verbatim in SoftwareStatement (RSP-08). A server
// without trusted issuers does not support statements: the member is dropped
// and nothing is taken from it (REG-35).
//
// Order (REG-33, REG-34): compact JWS with an allowed "alg" (else
// invalid_software_statement), a JSON object payload with a string "iss"
// (else invalid), "iss" trusted (else unapproved_software_statement), a
// signature by one of that issuer's keys (selected by kid when the header has
// one), then "exp" and "nbf", then the claims as client metadata (types as in
// REG-06; else invalid).
func applyStatement(srv *Server, md *metadata.Metadata, now time.Time) (*metadata.Metadata, error) {
	stmt := md.SoftwareStatement
	if stmt == "" {
		return md, nil
	}
	if len(srv.SoftwareStatementIssuers) == 0 {
		out := md.DeepCopy()
		out.SoftwareStatement = ""
		return out, nil
	}
	jws, err := jose.ParseSignedCompact(stmt, statementAlgorithms)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, invalidStatement("is not a compact JWS signed with an accepted algorithm")
	}
	hdr := jws.Signatures[0].Protected
	if _, crit := hdr.ExtraHeaders["crit"]; crit {
		return nil, invalidStatement("uses critical header parameters")
	}
	claims, err := objectMembers(jws.UnsafePayloadWithoutVerification())
	if err != nil {
		return nil, invalidStatement("payload is not a JSON object")
	}
	var iss string
	if raw, ok := claims["iss"]; !ok || json.Unmarshal(raw, &iss) != nil || iss == "" {
		return nil, invalidStatement("has no iss claim")
	}
	set, trusted := srv.SoftwareStatementIssuers[iss]
	if !trusted {
		return nil, unapprovedStatement()
	}
	if !verifiedBy(jws, hdr, set) {
		return nil, invalidStatement("signature does not verify")
	}
	if t, ok, err := numericClaim(claims, "exp"); err != nil {
		return nil, invalidStatement("exp is not a number")
	} else if ok && !now.Before(t.Add(statementLeeway)) {
		return nil, invalidStatement("has expired")
	}
	if t, ok, err := numericClaim(claims, "nbf"); err != nil {
		return nil, invalidStatement("nbf is not a number")
	} else if ok && now.Add(statementLeeway).Before(t) {
		return nil, invalidStatement("is not yet valid")
	}

	// Claims win over JSON members: overlay them at the JSON level and decode
	// the result with the one metadata decoder.
	base, err := md.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding metadata: %w", err)
	}
	merged, err := objectMembers(base)
	if err != nil {
		return nil, fmt.Errorf("re-reading metadata: %w", err)
	}
	for name, v := range claims {
		if !jwtClaims[name] {
			merged[name] = v
		}
	}
	delete(merged, "software_statement")
	mergedJSON, err := json.Marshal(merged)
	if err != nil {
		return nil, invalidStatement("claims are not valid JSON")
	}
	out, err := metadata.Decode(mergedJSON, false)
	if err != nil {
		// The JSON members decoded before, so the claims are at fault.
		return nil, invalidStatement("claims are not valid client metadata")
	}
	out.SoftwareStatement = stmt
	return out, nil
}

// verifiedBy reports whether one of the keys of set verifies jws. With a kid
// in the header only keys with that kid are tried. Encryption keys, symmetric
// keys and keys whose "alg" differs from the header's are skipped.
func verifiedBy(jws *jose.JSONWebSignature, hdr jose.Header, set jose.JSONWebKeySet) bool {
	for _, k := range set.Keys {
		if hdr.KeyID != "" && k.KeyID != hdr.KeyID {
			continue
		}
		if k.Use == "enc" || (k.Algorithm != "" && k.Algorithm != hdr.Algorithm) {
			continue
		}
		if _, sym := k.Key.([]byte); sym {
			continue
		}
		pub := k.Public()
		if !pub.Valid() {
			continue
		}
		if _, err := jws.Verify(pub.Key); err == nil {
			return true
		}
	}
	return false
}

// objectMembers decodes a JSON object into its members, rejecting duplicates
// and trailing data.
func objectMembers(data []byte) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("not a JSON object")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, err
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("duplicate member")
		}
		out[name] = raw
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("trailing data")
	}
	return out, nil
}

// numericClaim reads a NumericDate claim; ok is false when it is absent or null.
func numericClaim(claims map[string]json.RawMessage, name string) (t time.Time, ok bool, err error) {
	raw, present := claims[name]
	if !present || string(bytes.TrimSpace(raw)) == "null" {
		return time.Time{}, false, nil
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || f > 1e15 || f < -1e15 {
		return time.Time{}, false, fmt.Errorf("bad %s", name)
	}
	return time.Unix(int64(f), 0), true, nil
}
