package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/cli"
)

// dynamicClient is an OAuthClient of a dynamicRegistration server, with its
// credentials Secret.
type dynamicClient struct {
	client *oauthv1alpha1.OAuthClient
	secret *corev1.Secret
}

// value returns the Secret's data under key.
func (c dynamicClient) value(key string) string { return string(c.secret.Data[key]) }

// showDynamic prints every sample server with spec.dynamicRegistration and
// the sample OAuthClients registered there: the Secret (masked) and an
// RFC 7592 read of the registration with what the Secret holds, as an
// application would do. It returns those clients.
func (d *demo) showDynamic(ctx context.Context, k8s client.Client, samples []sample) ([]dynamicClient, error) {
	var clients []dynamicClient
	for _, s := range tracked(samples) {
		kind := oauthv1alpha1.ServerKind(s.obj.GetKind())
		if kind != oauthv1alpha1.KindAuthorizationServer && kind != oauthv1alpha1.KindClusterAuthorizationServer {
			continue
		}
		ref := oauthv1alpha1.ServerReference{Kind: kind, Name: s.obj.GetName()}
		server, err := cli.GetServer(ctx, k8s, s.obj.GetNamespace(), ref)
		if err != nil {
			return nil, err
		}
		spec := server.GetSpec().DynamicRegistration
		if spec == nil {
			continue
		}
		st := server.GetStatus()
		ready := "not Ready"
		if c := meta.FindStatusCondition(st.Conditions, oauthv1alpha1.ConditionReady); c != nil && c.Status == "True" {
			ready = "Ready"
		}
		fmt.Fprintf(d.out, "\n== %s %s: %s\n", kind, qualified(server.GetNamespace(), server.GetName()), ready)
		fmt.Fprintf(d.out, "   issuer                 %s (spec.dynamicRegistration.issuerURL, trusted with spec.caBundle)\n", spec.IssuerURL)
		fmt.Fprintf(d.out, "   registration endpoint  %s (discovered)\n", st.RegistrationEndpoint)
		fmt.Fprintf(d.out, "   token endpoint         %s (discovered)\n", st.TokenEndpoint)

		for _, cs := range tracked(samples) {
			if cs.obj.GetKind() != "OAuthClient" || !refersTo(cs, server) {
				continue
			}
			key := client.ObjectKeyFromObject(cs.obj)
			if err := showClient(ctx, k8s, key, d.out); err != nil {
				return nil, fmt.Errorf("OAuthClient %s: %w", key, err)
			}
			dc, err := d.readRegistration(ctx, k8s, key)
			if err != nil {
				return nil, fmt.Errorf("OAuthClient %s: %w", key, err)
			}
			clients = append(clients, dc)
		}
	}
	if len(clients) == 0 {
		return nil, errors.New("the samples hold no OAuthClient of a dynamicRegistration server")
	}
	return clients, nil
}

// refersTo reports whether the OAuthClient sample s names server.
func refersTo(s sample, server oauthv1alpha1.ServerObject) bool {
	kind, _, _ := unstructuredString(s, "spec", "serverRef", "kind")
	name, _, _ := unstructuredString(s, "spec", "serverRef", "name")
	if kind == "" {
		kind = string(oauthv1alpha1.KindAuthorizationServer)
	}
	if kind != string(server.ServerKind()) || name != server.GetName() {
		return false
	}
	return kind == string(oauthv1alpha1.KindClusterAuthorizationServer) || s.obj.GetNamespace() == server.GetNamespace()
}

// readRegistration reads the client's registration at its server (RFC 7592
// GET) with only what its Secret holds: registration_client_uri,
// registration_access_token and the CA in registration_ca.crt.
func (d *demo) readRegistration(ctx context.Context, k8s client.Client, key client.ObjectKey) (dynamicClient, error) {
	oc := &oauthv1alpha1.OAuthClient{}
	if err := k8s.Get(ctx, key, oc); err != nil {
		return dynamicClient{}, fmt.Errorf("reading: %w", err)
	}
	sec := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: oc.Namespace, Name: oc.Status.SecretName}, sec); err != nil {
		return dynamicClient{}, fmt.Errorf("reading the credentials Secret: %w", err)
	}
	dc := dynamicClient{client: oc, secret: sec}
	names := oc.SecretKeyNames()
	rcu, rat := dc.value(names.RegistrationClientURI), dc.value(names.RegistrationAccessToken)
	if rcu == "" || rat == "" {
		return dc, fmt.Errorf("the Secret %s/%s lacks %s or %s", sec.Namespace, sec.Name, names.RegistrationClientURI, names.RegistrationAccessToken)
	}
	d.mask(rat) // never printed; recorded for the test
	hc, err := httpsClient(sec.Data[oauthv1alpha1.KeyRegistrationCABundle])
	if err != nil {
		return dc, fmt.Errorf("the Secret's %s: %w", oauthv1alpha1.KeyRegistrationCABundle, err)
	}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rcu, nil)
	if err != nil {
		return dc, err
	}
	req.Header.Set("Authorization", "Bearer "+rat)
	req.Header.Set("Accept", "application/json")
	status, got, err := doJSON(hc, req)
	if err != nil {
		return dc, fmt.Errorf("RFC 7592 read: %w", err)
	}
	if status != http.StatusOK || got["client_id"] != dc.value(names.ClientID) {
		return dc, fmt.Errorf("RFC 7592 read: GET %s: status %d, client_id %v", rcu, status, got["client_id"])
	}
	fmt.Fprintf(d.out, "   RFC 7592 read at the server with the Secret's registration_client_uri, registration_access_token\n   and registration_ca.crt: %d, client_name %q, grant_types %v, scope %q\n",
		status, got["client_name"], got["grant_types"], got["scope"])
	return dc, nil
}
