package endpoint_test

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/clientreg/clientreg/registrar/dcr"
	"github.com/clientreg/clientreg/registrar/endpoint"
)

// TestInteropDCRClient drives the endpoint over TLS with the project's own
// RFC 7591 / RFC 7592 client: discovery, register, read, update, delete.
func TestInteropDCRClient(t *testing.T) {
	store := &endpoint.FakeStore{}
	h := &endpoint.Handler{Store: store}
	ts := httptest.NewUnstartedServer(h)
	ts.StartTLS()
	defer ts.Close()
	srv := &endpoint.Server{Path: "/clusters/corp", Issuer: ts.URL + "/clusters/corp", OIDC: true,
		InitialAccessTokenHashes: [][32]byte{sha256Sum(iatToken)}, RotateOnUpdate: true,
		AuthorizationEndpoint: "https://as.example/authorize", TokenEndpoint: "https://as.example/token"}
	h.Resolver = endpoint.NewStaticResolver(srv)

	c, err := dcr.NewClient(dcr.Config{HTTPClient: ts.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	md, err := c.Discover(ctx, srv.Issuer)
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	if md.Issuer != srv.Issuer || md.RegistrationEndpoint != srv.Issuer+"/register" {
		t.Fatalf("discovered %+v", md)
	}
	reg, err := c.Register(ctx, md.RegistrationEndpoint, dcr.RegisterRequest{
		Metadata:           json.RawMessage(`{"redirect_uris":["https://client.example.org/cb"],"client_name":"interop"}`),
		InitialAccessToken: iatToken,
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if reg.ClientID == "" || reg.ClientSecret == "" || reg.RegistrationAccessToken == "" || reg.RegistrationClientURI == "" {
		t.Fatalf("registration %v", reg)
	}
	read, err := c.Read(ctx, reg.RegistrationClientURI, reg.RegistrationAccessToken)
	if err != nil || read.ClientID != reg.ClientID || read.ClientSecret != reg.ClientSecret {
		t.Fatalf("Read: %v %v", read, err)
	}
	upd, err := c.Update(ctx, reg.RegistrationClientURI, reg.RegistrationAccessToken, dcr.UpdateRequest{
		ClientID:     reg.ClientID,
		Metadata:     reg.Metadata, // the full response; the client strips forbidden members
		ClientSecret: reg.ClientSecret,
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if upd.RegistrationAccessToken == "" || upd.RegistrationAccessToken == reg.RegistrationAccessToken {
		t.Fatal("token not rotated on update")
	}
	if _, err := c.Read(ctx, reg.RegistrationClientURI, reg.RegistrationAccessToken); !dcr.IsKind(err, dcr.KindUnauthorized) {
		t.Fatalf("old token after rotation: %v", err)
	}
	if err := c.Delete(ctx, reg.RegistrationClientURI, upd.RegistrationAccessToken); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := c.Read(ctx, reg.RegistrationClientURI, upd.RegistrationAccessToken); !dcr.IsKind(err, dcr.KindUnauthorized) {
		t.Fatalf("read after delete: %v", err)
	}
	if store.Len() != 0 {
		t.Fatal("registration left behind")
	}
	// Without the initial access token the client sees an authorization error.
	_, err = c.Register(ctx, md.RegistrationEndpoint, dcr.RegisterRequest{Metadata: json.RawMessage(bodyV)})
	if !dcr.IsKind(err, dcr.KindUnauthorized) {
		t.Fatalf("Register without IAT: %v", err)
	}
}
