package metadatadoc

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/registrar/metadata"
)

const base = "https://clients.example.com/oauth"

func server(mods ...func(*oauthv1alpha1.ClientIDMetadataDocumentServer)) *oauthv1alpha1.AuthorizationServer {
	s := &oauthv1alpha1.ClientIDMetadataDocumentServer{
		BaseURL: base, Issuer: "https://idp.example.com",
		CacheMaxAge: &metav1.Duration{Duration: time.Minute},
		Keys: &oauthv1alpha1.DocumentKeys{
			PropagationMargin: &metav1.Duration{Duration: 30 * time.Second},
			RetiredKeyOverlap: &metav1.Duration{Duration: 10 * time.Minute},
		},
	}
	for _, m := range mods {
		m(s)
	}
	return &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "docs"},
		Spec:       oauthv1alpha1.AuthorizationServerSpec{ClientIDMetadataDocument: s},
	}
}

func oauthClient() *oauthv1alpha1.OAuthClient {
	return &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "billing"}}
}

func m2mMetadata() *metadata.Metadata {
	return &metadata.Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "private_key_jwt"}
}

// step runs one reconcile's worth of the client half at now: Observe, then
// what the reconciler's decide would do (Create, Rotate on request, Update
// when not up to date), and returns the stored credentials after it.
func step(t *testing.T, b *Backend, srv oauthv1alpha1.ServerObject, md *metadata.Metadata, stored *backend.Credentials, now time.Time, rotate bool) (*backend.Credentials, backend.Observation) {
	t.Helper()
	ctx := context.Background()
	req := &backend.Request{Client: oauthClient(), Server: srv, Metadata: md, Stored: stored, Now: now}
	obs, err := b.Observe(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var out *backend.Credentials
	switch {
	case !obs.Exists:
		out, err = b.Create(ctx, req)
	case rotate:
		out, err = b.Rotate(ctx, req)
	case !obs.UpToDate:
		out, err = b.Update(ctx, req)
	default:
		return stored, obs
	}
	if err != nil {
		t.Fatal(err)
	}
	return out, obs
}

func status(b *Backend, srv oauthv1alpha1.ServerObject, md *metadata.Metadata, stored *backend.Credentials) *oauthv1alpha1.MetadataDocumentStatus {
	st := &oauthv1alpha1.OAuthClientStatus{}
	b.ProjectStatus(&backend.Request{Client: oauthClient(), Server: srv, Metadata: md, Stored: stored}, st)
	return st.MetadataDocument
}

func TestKeyRotationIsStagedAgainstCachingServers(t *testing.T) {
	b := &Backend{}
	srv, md := server(), m2mMetadata()
	t0 := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

	creds, _ := step(t, b, srv, md, nil, t0, false)
	if creds.ClientID != base+"/team/billing" || creds.Issuer != "https://idp.example.com" {
		t.Fatalf("created %+v", creds)
	}
	first := status(b, srv, md, creds)
	if first.ActiveKeyID == "" || !strings.Contains(first.Document, first.ActiveKeyID) || string(creds.Data[oauthv1alpha1.KeyKeyID]) != first.ActiveKeyID {
		t.Fatalf("status after create: %+v", first)
	}
	if obs, _ := b.Observe(context.Background(), &backend.Request{Client: oauthClient(), Server: srv, Metadata: md, Stored: creds, Now: t0}); !obs.Exists || !obs.UpToDate {
		t.Fatalf("fresh credentials observed as %+v", obs)
	}

	// Rotation starts: the next key is published, the Secret keeps the old one.
	t1 := t0.Add(time.Hour)
	creds, _ = step(t, b, srv, md, creds, t1, true)
	st := status(b, srv, md, creds)
	if st.ActiveKeyID != first.ActiveKeyID || st.NextKeyID == "" || !strings.Contains(st.Document, st.NextKeyID) || !strings.Contains(st.Document, st.ActiveKeyID) {
		t.Fatalf("after Rotate: %+v", st)
	}
	wantSwitch := t1.Add(time.Minute + 30*time.Second)
	if !st.NextKeyActiveAt.Time.Equal(wantSwitch) || !creds.CheckAfter.Equal(wantSwitch) {
		t.Fatalf("switch at %v (check after %v), want max-age+margin = %v", st.NextKeyActiveAt, creds.CheckAfter, wantSwitch)
	}
	// A second rotation request while one is under way keeps the schedule.
	again, _ := step(t, b, srv, md, creds, t1.Add(10*time.Second), true)
	if st2 := status(b, srv, md, again); st2.NextKeyID != st.NextKeyID || !st2.NextKeyActiveAt.Equal(st.NextKeyActiveAt) {
		t.Fatalf("a repeated request replaced the next key: %+v", st2)
	}

	// Not before max-age plus the margin.
	same, obs := step(t, b, srv, md, creds, wantSwitch.Add(-time.Second), false)
	if same != creds || !obs.UpToDate || !obs.NextCheck.Equal(wantSwitch) {
		t.Fatalf("switched early: obs %+v", obs)
	}
	// Then the Secret switches; the old key stays published for the overlap.
	creds, obs = step(t, b, srv, md, creds, wantSwitch, false)
	if obs.UpToDate {
		t.Fatal("the due switch was not reported")
	}
	st = status(b, srv, md, creds)
	if st.ActiveKeyID == first.ActiveKeyID || st.RetiredKeyID != first.ActiveKeyID || st.NextKeyID != "" ||
		!strings.Contains(st.Document, first.ActiveKeyID) || string(creds.Data[oauthv1alpha1.KeyKeyID]) != st.ActiveKeyID {
		t.Fatalf("after the switch: %+v", st)
	}
	withdraw := wantSwitch.Add(10 * time.Minute)
	if !st.RetiredKeyWithdrawAt.Time.Equal(withdraw) {
		t.Fatalf("withdraw at %v, want %v", st.RetiredKeyWithdrawAt, withdraw)
	}
	// After the overlap the old key leaves the document.
	creds, _ = step(t, b, srv, md, creds, withdraw, false)
	st = status(b, srv, md, creds)
	if st.RetiredKeyID != "" || strings.Contains(st.Document, first.ActiveKeyID) || creds.Data[oauthv1alpha1.KeyKeyRotation] != nil {
		t.Fatalf("after the overlap: %+v", st)
	}
}

func TestObserveNoticesWhatChanged(t *testing.T) {
	b := &Backend{}
	srv, md := server(), m2mMetadata()
	now := time.Now()
	creds, _ := step(t, b, srv, md, nil, now, false)
	observe := func(srv oauthv1alpha1.ServerObject, md *metadata.Metadata, c *backend.Credentials) backend.Observation {
		obs, err := b.Observe(context.Background(), &backend.Request{Client: oauthClient(), Server: srv, Metadata: md, Stored: c, Now: now})
		if err != nil {
			t.Fatal(err)
		}
		return obs
	}
	changed := m2mMetadata()
	changed.ClientName = "Billing"
	if obs := observe(srv, changed, creds); !obs.Exists || obs.UpToDate {
		t.Errorf("changed metadata: %+v", obs)
	}
	moved := server(func(s *oauthv1alpha1.ClientIDMetadataDocumentServer) { s.BaseURL = "https://new.example.com/o" })
	if obs := observe(moved, md, creds); obs.Exists || !obs.Gone {
		t.Errorf("new base URL: %+v", obs)
	}
	broken := *creds
	broken.Data = map[string][]byte{oauthv1alpha1.KeyPrivateKeyJWK: []byte("{not a key")}
	if obs := observe(srv, md, &broken); obs.Exists || strings.Contains(obs.Message, "not a key") {
		t.Errorf("a broken key: %+v (the message must not quote the Secret)", obs)
	}
	// A public client drops the key pair.
	public := &metadata.Metadata{TokenEndpointAuthMethod: "none", RedirectURIs: []string{"https://app.example/cb"}}
	out, err := b.Update(context.Background(), &backend.Request{Client: oauthClient(), Server: srv, Metadata: public, Stored: creds, Now: now})
	if err != nil || out.Data != nil || strings.Contains(status(b, srv, public, out).Document, "jwks") {
		t.Errorf("public client update: %+v, %v", out, err)
	}
}

func TestRefusedMetadataIsPermanent(t *testing.T) {
	b := &Backend{}
	for _, md := range []*metadata.Metadata{
		{TokenEndpointAuthMethod: "client_secret_basic"},
		{TokenEndpointAuthMethod: "none", LogoURI: "http://app.example/logo.png"},
	} {
		_, err := b.Create(context.Background(), &backend.Request{Client: oauthClient(), Server: server(), Metadata: md, Now: time.Now()})
		p, ok := backend.AsPermanent(err)
		if !ok || p.Reason != oauthv1alpha1.ReasonInvalidMetadata {
			t.Errorf("%+v: error %v, want a permanent InvalidMetadata", md, err)
		}
		errs := b.ValidateClient(server(), nil, oauthClient(), md)
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Field, "spec.") {
			t.Errorf("%+v: webhook errors %v", md, errs)
		}
	}
	if _, err := b.ReconcileServer(context.Background(), server()); err == nil {
		t.Error("a server is Ready although this manager serves no documents")
	}
	b.Served = true
	if r, err := b.ReconcileServer(context.Background(), server()); err != nil || r.Ready == "" {
		t.Errorf("ReconcileServer = %+v, %v", r, err)
	}
}

func TestPublisherServesReadyClientsOnly(t *testing.T) {
	b := &Backend{}
	srv := server()
	b.serverEvent(srv, false)
	md := m2mMetadata()
	creds, _ := step(t, b, srv, md, nil, time.Now(), false)
	c := oauthClient()
	c.Spec.ServerRef = oauthv1alpha1.ServerReference{Name: "docs"}
	b.ProjectStatus(&backend.Request{Client: c, Server: srv, Metadata: md, Stored: creds}, &c.Status)
	get := func(path string) int {
		req := httptest.NewRequest(http.MethodGet, "https://clients.example.com"+path, nil)
		if !b.Serves(req) {
			return 0
		}
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, req)
		return rec.Code
	}
	b.clientEvent(c, false)
	if got := get("/oauth/team/billing"); got != http.StatusNotFound {
		t.Errorf("a client that is not Ready: %d, want 404", got)
	}
	c.Status.Conditions = []metav1.Condition{{Type: oauthv1alpha1.ConditionReady, Status: metav1.ConditionTrue}}
	b.clientEvent(c, false)
	if got := get("/oauth/team/billing"); got != http.StatusOK {
		t.Errorf("a Ready client: %d, want 200", got)
	}
	if got := get("/registration/elsewhere"); got != 0 {
		t.Errorf("a path outside every base URL was claimed (%d)", got)
	}
	now := metav1.Now()
	c.DeletionTimestamp = &now
	b.clientEvent(c, false)
	if got := get("/oauth/team/billing"); got != http.StatusNotFound {
		t.Errorf("a client being deleted: %d, want 404", got)
	}
	if b.Published() != 0 {
		t.Errorf("%d documents still published", b.Published())
	}
}

// TestNestedBaseURLsCannotTakeOverADocument: a server whose base URL nests in
// another's lets a client name a URL another client's document (or JWK Set)
// lives at; such a URL is served for neither, and for the first again when
// the second goes.
func TestNestedBaseURLsCannotTakeOverADocument(t *testing.T) {
	b := &Backend{}
	outer := server(func(s *oauthv1alpha1.ClientIDMetadataDocumentServer) {
		s.Keys.Publication = oauthv1alpha1.KeyPublicationJWKSURI
	})
	inner := server(func(s *oauthv1alpha1.ClientIDMetadataDocumentServer) { s.BaseURL = base + "/team" })
	inner.Name, inner.Namespace = "nested", "billing"
	b.serverEvent(outer, false)
	b.serverEvent(inner, false)
	ready := []metav1.Condition{{Type: oauthv1alpha1.ConditionReady, Status: metav1.ConditionTrue}}

	victim := oauthClient() // team/billing: its JWK Set is at <base>/team/billing/jwks
	victim.Spec.ServerRef = oauthv1alpha1.ServerReference{Name: "docs"}
	creds, _ := step(t, b, outer, m2mMetadata(), nil, time.Now(), false)
	b.ProjectStatus(&backend.Request{Client: victim, Server: outer, Metadata: m2mMetadata(), Stored: creds}, &victim.Status)
	victim.Status.Conditions = ready
	b.clientEvent(victim, false)

	// billing/jwks on the nested server: <base>/team + /billing/jwks.
	squatter := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: "billing", Name: "jwks"}}
	squatter.Spec.ServerRef = oauthv1alpha1.ServerReference{Name: "nested"}
	public := &metadata.Metadata{TokenEndpointAuthMethod: "none", RedirectURIs: []string{"https://evil.example/cb"}}
	req := &backend.Request{Client: squatter, Server: inner, Metadata: public, Now: time.Now()}
	sc, err := b.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	req.Stored = sc
	b.ProjectStatus(req, &squatter.Status)
	squatter.Status.Conditions = ready
	if squatter.Status.MetadataDocument.URL != victim.Status.MetadataDocument.URL+"/jwks" {
		t.Fatalf("the test does not collide: %s vs %s/jwks", squatter.Status.MetadataDocument.URL, victim.Status.MetadataDocument.URL)
	}
	get := func(url string) (int, string) {
		r := httptest.NewRequest(http.MethodGet, url, nil)
		rec := httptest.NewRecorder()
		b.ServeHTTP(rec, r)
		return rec.Code, rec.Body.String()
	}
	jwksURL := victim.Status.MetadataDocument.URL + "/jwks"
	if code, body := get(jwksURL); code != 200 || !strings.Contains(body, victim.Status.MetadataDocument.ActiveKeyID) {
		t.Fatalf("the victim's JWK Set: %d %s", code, body)
	}
	b.clientEvent(squatter, false)
	if code, body := get(jwksURL); code != http.StatusNotFound {
		t.Fatalf("a URL claimed twice is served: %d %s", code, body)
	}
	b.clientEvent(squatter, true)
	if code, body := get(jwksURL); code != 200 || !strings.Contains(body, victim.Status.MetadataDocument.ActiveKeyID) {
		t.Fatalf("after the squatter left: %d %s", code, body)
	}
}

func TestServerSideRules(t *testing.T) {
	b := &Backend{}
	moved := server(func(s *oauthv1alpha1.ClientIDMetadataDocumentServer) { s.BaseURL = "https://new.example.com/o" })
	if w := b.ServerUpdateWarnings(server(), moved); len(w) != 1 || !strings.Contains(w[0], "client id of every client") {
		t.Errorf("a new base URL: warnings %q", w)
	}
	if w := b.ServerUpdateWarnings(server(), server()); len(w) != 0 {
		t.Errorf("no change: warnings %q", w)
	}
	if err := b.ConfigureEndpoint(context.Background(), server(), nil); !errors.Is(err, backend.ErrEndpointMisconfigured) {
		t.Errorf("ConfigureEndpoint = %v, want ErrEndpointMisconfigured", err)
	}
	bad := server(func(s *oauthv1alpha1.ClientIDMetadataDocumentServer) {
		s.BaseURL = "https://10.1.2.3/o"
		s.CacheMaxAge = &metav1.Duration{Duration: 0}
	})
	errs, _ := b.ValidateServer(bad, field.NewPath("spec", "clientIDMetadataDocument"))
	if len(errs) != 2 || errs[0].Field != "spec.clientIDMetadataDocument.baseURL" || errs[1].Field != "spec.clientIDMetadataDocument.cacheMaxAge" {
		t.Errorf("ValidateServer = %v", errs)
	}
}
