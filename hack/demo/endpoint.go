package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/testcerts"
	"github.com/clientreg/clientreg/internal/cli"
)

// endpointTLS is the certificate the embedded registration endpoint serves:
// a throw-away CA and a certificate for 127.0.0.1 signed by it.
type endpointTLS struct {
	certFile, keyFile string // in a temporary directory
	caFile            string // absolute; for curl --cacert
	caPEM             []byte
	tmp               string
}

// newEndpointTLS generates the certificate and key into a temporary
// directory and writes the CA to caPath. close removes all three.
func newEndpointTLS(caPath string) (*endpointTLS, error) {
	tmp, err := os.MkdirTemp("", "clientreg-demo-endpoint-")
	if err != nil {
		return nil, fmt.Errorf("creating a directory for the endpoint certificate: %w", err)
	}
	certFile, keyFile, caPEM, err := testcerts.Write(tmp)
	if err != nil {
		_ = os.RemoveAll(tmp)
		return nil, fmt.Errorf("endpoint certificate: %w", err)
	}
	e := &endpointTLS{certFile: certFile, keyFile: keyFile, caPEM: caPEM, tmp: tmp}
	if e.caFile, err = filepath.Abs(caPath); err != nil {
		e.close()
		return nil, fmt.Errorf("resolving %s: %w", caPath, err)
	}
	if err := os.MkdirAll(filepath.Dir(e.caFile), 0o755); err != nil {
		e.close()
		return nil, fmt.Errorf("creating directory for the endpoint CA: %w", err)
	}
	if err := os.WriteFile(e.caFile, caPEM, 0o644); err != nil {
		e.caFile = ""
		e.close()
		return nil, fmt.Errorf("writing the endpoint CA: %w", err)
	}
	return e, nil
}

func (e *endpointTLS) close() {
	_ = os.RemoveAll(e.tmp)
	if e.caFile != "" {
		_ = os.Remove(e.caFile)
	}
}

// httpsClient trusts caPEM and nothing else, and never uses a proxy (all
// the demo's servers are on 127.0.0.1).
func httpsClient(caPEM []byte) (*http.Client, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("no certificate in the CA bundle")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}, nil
}

// callJSON sends a request with an optional JSON body and decodes a JSON
// object answer (nil when the body is not one).
func callJSON(ctx context.Context, hc *http.Client, method, url string, body any) (int, map[string]any, error) {
	var r io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, fmt.Errorf("encoding the request: %w", err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	return doJSON(hc, req)
}

func doJSON(hc *http.Client, req *http.Request) (int, map[string]any, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: reading the answer: %w", req.Method, req.URL, err)
	}
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, nil
}

// secretMembers are the members of RFC 7591 / RFC 7592 and token answers
// that are never printed.
var secretMembers = []string{"client_secret", "registration_access_token", "access_token", "refresh_token", "id_token"}

// printMasked prints a JSON object, indented, with every secret member
// masked (and recorded in d.masked).
func (d *demo) printMasked(indent string, m map[string]any) error {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	for _, k := range secretMembers {
		if v, ok := c[k].(string); ok {
			c[k] = d.mask(v)
		}
	}
	raw, err := json.MarshalIndent(c, indent, "  ")
	if err != nil {
		return fmt.Errorf("formatting JSON: %w", err)
	}
	fmt.Fprintf(d.out, "%s%s\n", indent, raw)
	return nil
}

// demoRegistration is what the demo registers at the endpoint, and what the
// printed curl command sends.
func demoRegistration(name string) map[string]any {
	return map[string]any{
		"client_name":                name,
		"grant_types":                []string{"client_credentials"},
		"response_types":             []string{},
		"token_endpoint_auth_method": "client_secret_basic",
		"scope":                      "api",
	}
}

// endpointServer finds the first sample server with spec.registrationEndpoint.
func endpointServer(ctx context.Context, k8s client.Client, samples []sample) (oauthv1alpha1.ServerObject, error) {
	for _, s := range tracked(samples) {
		kind := oauthv1alpha1.ServerKind(s.obj.GetKind())
		if kind != oauthv1alpha1.KindAuthorizationServer && kind != oauthv1alpha1.KindClusterAuthorizationServer {
			continue
		}
		server, err := cli.GetServer(ctx, k8s, s.obj.GetNamespace(), oauthv1alpha1.ServerReference{Kind: kind, Name: s.obj.GetName()})
		if err != nil {
			return nil, err
		}
		if server.GetSpec().RegistrationEndpoint != nil {
			return server, nil
		}
	}
	return nil, errors.New("no sample server sets spec.registrationEndpoint")
}

// showEndpoint discovers the embedded endpoint of the first sample server
// that has one, registers a client there over HTTPS, shows the answer
// (masked) and the OAuthClient the registration became, and prints a curl
// command doing the same. It returns that command.
func (d *demo) showEndpoint(ctx context.Context, k8s client.Client, samples []sample, tlsFiles *endpointTLS, baseURL string) (string, error) {
	server, err := endpointServer(ctx, k8s, samples)
	if err != nil {
		return "", err
	}
	name := qualified(server.GetNamespace(), server.GetName())
	issuer := server.GetStatus().EndpointIssuer
	if issuer == "" {
		return "", fmt.Errorf("%s %s is Ready but has no status.endpointIssuer", server.ServerKind(), name)
	}
	hc, err := httpsClient(tlsFiles.caPEM)
	if err != nil {
		return "", fmt.Errorf("endpoint CA: %w", err)
	}
	defer hc.CloseIdleConnections()
	out := d.out
	fmt.Fprintf(out, "\nThe manager serves it at %s, with a certificate for 127.0.0.1 signed by a CA the demo generated (%s).\n", baseURL, tlsFiles.caFile)
	fmt.Fprintf(out, "%s %s sets spec.registrationEndpoint (open: true); its endpoint issuer:\n  %s\n", server.ServerKind(), name, issuer)

	discovery := issuer + "/.well-known/openid-configuration"
	status, disc, err := callJSON(ctx, hc, http.MethodGet, discovery, nil)
	if err != nil {
		return "", fmt.Errorf("endpoint discovery: %w", err)
	}
	regURL, _ := disc["registration_endpoint"].(string)
	if status != http.StatusOK || regURL == "" {
		return "", fmt.Errorf("endpoint discovery: GET %s: status %d, registration_endpoint %q", discovery, status, regURL)
	}
	fmt.Fprintf(out, "\nGET %s\n  %d: registration_endpoint %s\n", discovery, status, regURL)

	body := demoRegistration("Shipping (registered by the demo)")
	raw, err := json.Marshal(body)
	if err != nil {
		return "", fmt.Errorf("encoding the registration: %w", err)
	}
	fmt.Fprintf(out, "\nPOST %s\n  %s\n", regURL, raw)
	start := time.Now()
	status, reg, err := callJSON(ctx, hc, http.MethodPost, regURL, body)
	if err != nil {
		return "", fmt.Errorf("registration at the embedded endpoint: %w", err)
	}
	if status != http.StatusCreated {
		msg, _ := json.Marshal(reg)
		return "", fmt.Errorf("registration at the embedded endpoint: POST %s: status %d, want 201: %s", regURL, status, msg)
	}
	fmt.Fprintf(out, "  %d %s after %s:\n", status, http.StatusText(status), time.Since(start).Round(time.Millisecond))
	if err := d.printMasked("  ", reg); err != nil {
		return "", err
	}
	clientID, _ := reg["client_id"].(string)
	rcu, _ := reg["registration_client_uri"].(string)
	handle, ok := strings.CutPrefix(rcu, issuer+"/register/")
	if clientID == "" || !ok || handle == "" {
		return "", fmt.Errorf("registration at the embedded endpoint: the answer lacks client_id or an RFC 7592 registration_client_uri below %s/register/", issuer)
	}

	// A Stateful registration is an OAuthClient named by the handle, in the
	// server's namespace (registrationEndpoint.namespace for a cluster server).
	ns := server.GetNamespace()
	if ns == "" {
		ns = server.GetSpec().RegistrationEndpoint.Namespace
	}
	oc := &oauthv1alpha1.OAuthClient{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: handle}, oc); err != nil {
		return "", fmt.Errorf("the OAuthClient of the endpoint registration: %w", err)
	}
	ready := "not Ready"
	if meta.IsStatusConditionTrue(oc.Status.Conditions, oauthv1alpha1.ConditionReady) {
		ready = "Ready"
	}
	fmt.Fprintf(out, "\nThe registration is the OAuthClient %s/%s (%s; label %s), credentials in the Secret %s/%s.\n",
		oc.Namespace, oc.Name, ready, oauthv1alpha1.LabelRegisteredVia, oc.Namespace, oc.Status.SecretName)
	if server.GetSpec().DynamicRegistration != nil {
		same := "the same client_id"
		if oc.Status.ClientID != clientID {
			same = "a different client_id: unexpected"
		}
		fmt.Fprintf(out, "Its server registers at %s, so the operator registered it there before answering (%s).\n",
			server.GetSpec().DynamicRegistration.IssuerURL, same)
	}
	return curlCommand(tlsFiles.caFile, regURL)
}

// curlCommand is the registration the demo made, as a command to paste.
func curlCommand(caFile, regURL string) (string, error) {
	raw, err := json.Marshal(demoRegistration("from curl"))
	if err != nil {
		return "", fmt.Errorf("encoding the registration: %w", err)
	}
	return fmt.Sprintf("curl --cacert %s -H 'Content-Type: application/json' \\\n    -d '%s' \\\n    %s", caFile, raw, regURL), nil
}
