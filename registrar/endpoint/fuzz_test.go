package endpoint_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/testclock"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// FuzzRegister posts arbitrary bodies to a Stateful, an OIDC and a Stateless
// server: the endpoint never answers 5xx, never panics, and answers 201 only
// for bodies that metadata.Decode and metadata.Validate (after
// WithDefaults) accept. The endpoint's own policy is stricter than
// metadata.Policy{} (discovery-listed methods only), never looser. A software
// statement is ignored by these servers (no trusted issuers), so it is cleared
// before the comparison.
func FuzzRegister(f *testing.F) {
	for _, seed := range []string{
		bodyV, bodyP, bodyN, `{}`, `["x"]`, `null`, `{"redirect_uris":"x"}`,
		`{"redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}}`,
		`{"grant_types":["client_credentials"],"response_types":[]}`,
		`{"redirect_uris":["https://client.example.org/cb"],"grant_types":["implicit"],"response_types":["id_token token"]}`,
		`{"redirect_uris":["https://client.example.org/cb"],"client_name#ja-Jpan-JP":"クライアント","software_statement":"a.b.c"}`,
		`{"redirect_uris":["https://client.example.org/cb"],"client_name":"\ud800","contacts":["\ud83d\ude00"]}`,
		`{"redirect_uris":["https://client.example.org/cb"],"sector_identifier_uri":"https://client.example.org/s.json"}`,
		`{"redirect_uris":["https://client.example.org/cb"],"jwks_uri":"https://client.example.org/jwks","token_endpoint_auth_method":"private_key_jwt"}`,
		`{"redirect_uris":["https://client.example.org/cb"],"tls_client_auth_san_dns":"a.example","token_endpoint_auth_method":"tls_client_auth"}`,
		`{"redirect_uris":["https://client.example.org/cb"],"token_endpoint_auth_method":"urn:x:y"}`,
		`{"redirect_uris":["https://client.example.org/cb"],"x":{"y":[1,2,{"z":null}]},"client_id":"a"}`,
		`{"redirect_uris":["https://client.example.org/cb"],"default_max_age":9223372036854775807}`,
		`{"redirect_uris":["https://client.example.org/cb"],"type":"client_associate"}`,
		"{\"redirect_uris\":[\"https://client.example.org/cb\"],\"client_name\":\"\xff\"}",
	} {
		f.Add(seed)
	}
	clk := testclock.New(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	servers := []*endpoint.Server{
		{Path: "/oauth", Issuer: issuerBase + "/oauth", Open: true},
		{Path: "/oidc", Issuer: issuerBase + "/oidc", Open: true, OIDC: true},
		{Path: "/sl", Issuer: issuerBase + "/sl", Open: true, Storage: endpoint.StorageStateless,
			Keys: keySet(f, clk.Now(), false), ClientIDLifetime: time.Hour},
		{Path: "/sle", Issuer: issuerBase + "/sle", Open: true, Storage: endpoint.StorageStateless, Encrypt: true,
			Keys: keySet(f, clk.Now(), true)},
	}
	h := &endpoint.Handler{Resolver: endpoint.NewStaticResolver(servers...), Store: &endpoint.FakeStore{Clock: clk}, Clock: clk,
		SectorIdentifierFetcher: func(context.Context, string) ([]string, error) {
			return []string{"https://client.example.org/cb"}, nil
		}}
	f.Fuzz(func(t *testing.T, body string) {
		for _, srv := range servers {
			req := httptest.NewRequest(http.MethodPost, issuerBase+srv.Path+"/register", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s: %d %s", srv.Path, rec.Code, rec.Body)
			}
			if rec.Header().Get("Cache-Control") != "no-store" {
				t.Fatalf("%s: answer without Cache-Control: no-store", srv.Path)
			}
			if rec.Code != http.StatusCreated {
				if rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge {
					t.Fatalf("%s: unexpected status %d %s", srv.Path, rec.Code, rec.Body)
				}
				continue
			}
			md, err := metadata.Decode([]byte(body), false)
			if err != nil {
				t.Fatalf("%s: 201 for a body Decode refuses: %v", srv.Path, err)
			}
			md.SoftwareStatement = ""
			p := metadata.Policy{OIDC: srv.OIDC}
			if errs := metadata.Validate(metadata.WithDefaults(md, p), p); len(errs) > 0 {
				t.Fatalf("%s: 201 for metadata Validate refuses: %v", srv.Path, errs)
			}
		}
	})
}
