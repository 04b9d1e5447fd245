package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// unstructuredString reads a string field of a sample.
func unstructuredString(s sample, fields ...string) (string, bool, error) {
	return unstructured.NestedString(s.obj.Object, fields...)
}

// showToken obtains an access token with the client credentials grant
// (RFC 6749 §4.4) using nothing but the client's Secret: the issuer, found
// through discovery, trusted with registration_ca.crt, and client_id and
// client_secret sent with HTTP Basic. It prints the answer masked.
func (d *demo) showToken(ctx context.Context, c dynamicClient) error {
	names := c.client.SecretKeyNames()
	issuer, id, secret := c.value(names.Issuer), c.value(names.ClientID), c.value(names.ClientSecret)
	if issuer == "" || id == "" || secret == "" {
		return fmt.Errorf("the Secret %s/%s lacks %s, %s or %s", c.secret.Namespace, c.secret.Name, names.Issuer, names.ClientID, names.ClientSecret)
	}
	d.mask(secret) // recorded for the test
	hc, err := httpsClient(c.secret.Data[oauthv1alpha1.KeyRegistrationCABundle])
	if err != nil {
		return fmt.Errorf("the Secret's %s: %w", oauthv1alpha1.KeyRegistrationCABundle, err)
	}
	defer hc.CloseIdleConnections()
	fmt.Fprintf(d.out, "\nFrom the Secret %s/%s: %s %s, %s %s, %s (%s), %s.\n",
		c.secret.Namespace, c.secret.Name, names.Issuer, issuer, names.ClientID, id, names.ClientSecret, mask(secret), oauthv1alpha1.KeyRegistrationCABundle)

	discovery := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	status, disc, err := callJSON(ctx, hc, http.MethodGet, discovery, nil)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	tokenURL, _ := disc["token_endpoint"].(string)
	if status != http.StatusOK || tokenURL == "" {
		return fmt.Errorf("discovery: GET %s: status %d, token_endpoint %q", discovery, status, tokenURL)
	}
	fmt.Fprintf(d.out, "\nGET %s\n  %d: token_endpoint %s\n", discovery, status, tokenURL)

	form := url.Values{"grant_type": {"client_credentials"}}
	if c.client.Spec.Scope != "" {
		form.Set("scope", c.client.Spec.Scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: each part form-urlencoded before Basic encoding.
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	fmt.Fprintf(d.out, "\nPOST %s\n  %s, HTTP Basic authentication with client_id and client_secret\n", tokenURL, form.Encode())
	status, tok, err := doJSON(hc, req)
	if err != nil {
		return fmt.Errorf("token request: %w", err)
	}
	access, _ := tok["access_token"].(string)
	if status != http.StatusOK || access == "" {
		return fmt.Errorf("token request: POST %s: status %d, want 200 with an access_token: error %v: %v", tokenURL, status, tok["error"], tok["error_description"])
	}
	fmt.Fprintf(d.out, "  %d %s:\n", status, http.StatusText(status))
	fmt.Fprintf(d.out, "     token_type:   %s\n     expires_in:   %s\n     scope:        %s\n     access_token: %s\n",
		member(tok, "token_type"), member(tok, "expires_in"), member(tok, "scope"), d.mask(access))
	fmt.Fprintln(d.out, "\nAn access token, obtained with credentials the operator registered and stored.")
	return nil
}

// member formats a member of a JSON answer, "-" when absent.
func member(m map[string]any, name string) string {
	v, ok := m[name]
	if !ok || v == nil {
		return "-"
	}
	return fmt.Sprint(v)
}
