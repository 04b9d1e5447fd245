package backend

// Field checks the backends' ValidateServer and the webhook share.

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/registrar/dcr"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// IssuerErrors checks an issuer identifier: an absolute URL with a host and
// no query or fragment (RFC 8414 §2, OpenID Connect Discovery §2).
func IssuerErrors(p *field.Path, raw string) field.ErrorList {
	u, err := url.Parse(raw)
	shown := urlForMessage(raw, u, err)
	switch {
	case err != nil:
		msg := "must be a URL"
		if !strings.Contains(raw, "@") {
			msg += ": " + strings.TrimPrefix(err.Error(), "parse \""+raw+"\": ")
		}
		return field.ErrorList{field.Invalid(p, shown, msg)}
	case u.User != nil:
		return field.ErrorList{field.Invalid(p, shown, "must not contain user information")}
	case u.Host == "" || u.Hostname() == "":
		return field.ErrorList{field.Invalid(p, shown, "must be an absolute URL with a host")}
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#"):
		return field.ErrorList{field.Invalid(p, shown, "an issuer has no query or fragment (RFC 8414 §2)")}
	}
	return nil
}

// EndpointURLErrors checks an endpoint URL: absolute, with a host, no fragment.
func EndpointURLErrors(p *field.Path, raw string) field.ErrorList {
	u, err := url.Parse(raw)
	shown := urlForMessage(raw, u, err)
	switch {
	case err != nil:
		return field.ErrorList{field.Invalid(p, shown, "must be a URL")}
	case u.User != nil:
		return field.ErrorList{field.Invalid(p, shown, "must not contain user information")}
	case u.Hostname() == "":
		return field.ErrorList{field.Invalid(p, shown, "must be an absolute URL with a host")}
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return field.ErrorList{field.Invalid(p, shown, "must not contain a fragment")}
	}
	return nil
}

// urlForMessage is the value an error about a URL may show: the URL with its
// user information replaced by REDACTED (metadata.RedactUserinfo, the rule of
// every other error), or nothing when it cannot be parsed and has an "@"
// (where the user information ends is then unknown): a password or token must
// not reach the error message, which kubectl, audit logs and GitOps tools
// record.
func urlForMessage(raw string, u *url.URL, parseErr error) any {
	switch {
	case parseErr != nil && strings.Contains(raw, "@"):
		return field.OmitValueType{}
	case parseErr == nil && u.User != nil:
		return metadata.RedactUserinfo(raw)
	}
	return raw
}

// CABundleErrors accepts only PEM certificates, every one of which parses;
// and it makes the check the dynamic backend makes when it builds its client.
func CABundleErrors(p *field.Path, bundle []byte) field.ErrorList {
	var errs field.ErrorList
	rest, n := bundle, 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		n++
		if b.Type != "CERTIFICATE" {
			// Never echo the block: it may be a private key pasted by mistake.
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, fmt.Sprintf("PEM block %d is a %q, not a CERTIFICATE; only CA certificates belong here", n, b.Type)))
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			errs = append(errs, field.Invalid(p, field.OmitValueType{}, fmt.Sprintf("certificate %d does not parse: %v", n, err)))
		}
	}
	if len(strings.TrimSpace(string(rest))) > 0 && n > 0 {
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, "holds data that is not PEM after the last certificate"))
	}
	if _, err := dcr.NewClient(dcr.Config{CABundle: bundle}); err != nil && len(errs) == 0 {
		errs = append(errs, field.Invalid(p, field.OmitValueType{}, "must hold at least one PEM certificate"))
	}
	return errs
}

// DurationErrors refuses negative durations and, when lowest > 0, positive
// ones below lowest (zeroMeans says what 0 does).
func DurationErrors(p *field.Path, d *metav1.Duration, lowest time.Duration, zeroMeans string) field.ErrorList {
	switch {
	case d == nil || d.Duration == 0:
		return nil
	case d.Duration < 0:
		return field.ErrorList{field.Invalid(p, d.Duration.String(), "must not be negative")}
	case lowest > 0 && d.Duration < lowest:
		return field.ErrorList{field.Invalid(p, d.Duration.String(), fmt.Sprintf("must be %s or at least %s", zeroMeans, lowest))}
	}
	return nil
}

// NameErrors checks a Secret or object name (a DNS-1123 subdomain).
func NameErrors(p *field.Path, name string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// NamespaceErrors refuses, on a namespaced server, a namespace other than
// its own; on a cluster server it only checks the name.
func NamespaceErrors(obj oauthv1alpha1.ServerObject, p *field.Path, ns, what string) field.ErrorList {
	if ns == "" {
		return nil
	}
	if obj.ServerKind() == oauthv1alpha1.KindAuthorizationServer {
		if ns != obj.GetNamespace() {
			return field.ErrorList{field.Forbidden(p, fmt.Sprintf("an AuthorizationServer may only %s in its own namespace %q; use a ClusterAuthorizationServer for another namespace", what, obj.GetNamespace()))}
		}
		return nil
	}
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(ns) {
		errs = append(errs, field.Invalid(p, ns, msg))
	}
	return errs
}

// SecretKeySelectorErrors checks a reference to one key of a Secret.
func SecretKeySelectorErrors(obj oauthv1alpha1.ServerObject, p *field.Path, ref *oauthv1alpha1.SecretKeySelector) field.ErrorList {
	errs := NameErrors(p.Child("name"), ref.Name)
	for _, msg := range validation.IsConfigMapKey(ref.Key) {
		errs = append(errs, field.Invalid(p.Child("key"), ref.Key, msg))
	}
	if obj.ServerKind() == oauthv1alpha1.KindClusterAuthorizationServer {
		// Namespaced servers: the dynamic backend refuses another namespace.
		errs = append(errs, NamespaceErrors(obj, p.Child("namespace"), ref.Namespace, "")...)
	}
	return errs
}
