package stateless_test

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/internal/josetest"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/registrar/metadata"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

const (
	clusterNS = "clientreg-system"
	serverNS  = "team-a"
	issuer    = "https://idp.team-a.example"
	day       = 24 * time.Hour
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

type serverMod func(*oauthv1alpha1.StatelessServer)

func withLifetime(d time.Duration) serverMod {
	return func(s *oauthv1alpha1.StatelessServer) { s.ClientIDLifetime = &metav1.Duration{Duration: d} }
}

func withAlg(a oauthv1alpha1.SigningAlgorithm) serverMod {
	return func(s *oauthv1alpha1.StatelessServer) { s.SigningAlgorithm = a }
}

func withEncryption(mode oauthv1alpha1.EncryptionMode, recipient []byte) serverMod {
	return func(s *oauthv1alpha1.StatelessServer) {
		s.Encryption = &oauthv1alpha1.StatelessEncryption{Mode: mode}
		if recipient != nil {
			s.Encryption.RecipientKey = &apiextensionsv1.JSON{Raw: recipient}
		}
	}
}

func newServer(name string, uid types.UID, mods ...serverMod) *oauthv1alpha1.AuthorizationServer {
	s := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: name, UID: uid, Generation: 1},
		Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: issuer}},
	}
	for _, m := range mods {
		m(s.Spec.Stateless)
	}
	return s
}

// ensureKeys does what the backend's server half (reconcileKeys) does to a key set.
func ensureKeys(t *testing.T, ks *sci.KeySet, spec *oauthv1alpha1.StatelessServer, now time.Time) {
	t.Helper()
	lifetime := spec.EffectiveLifetime()
	if _, err := ks.Ensure("sig", spec.EffectiveSigningAlgorithm(), now, lifetime); err != nil {
		t.Fatal(err)
	}
	if spec.EffectiveEncryptionMode() == oauthv1alpha1.EncryptionGenerated {
		if _, err := ks.Ensure("enc", statelessbackend.EncryptionKeyAlgorithm, now, lifetime); err != nil {
			t.Fatal(err)
		}
	}
}

type fixture struct {
	t      *testing.T
	ctx    context.Context
	clk    *clocktesting.FakeClock
	client client.Client
	b      *statelessbackend.Backend
	server oauthv1alpha1.ServerObject
	keys   *sci.KeySet
}

// newFixture builds a backend over a fake client; with keys, it writes the
// server's key Secret the way the server reconciler does.
func newFixture(t *testing.T, server oauthv1alpha1.ServerObject, withKeys bool) *fixture {
	t.Helper()
	f := &fixture{
		t:      t,
		ctx:    context.Background(),
		clk:    clocktesting.NewFakeClock(t0),
		client: testutil.FakeClient().Build(),
		server: server,
		keys:   &sci.KeySet{},
	}
	f.b = &statelessbackend.Backend{Reader: f.client, ClusterResourceNamespace: clusterNS, Clock: f.clk}
	if withKeys {
		ensureKeys(t, f.keys, server.GetSpec().Stateless, t0)
		f.writeKeys()
	}
	return f
}

// writeKeys creates or updates the key Secret with f.keys.
func (f *fixture) writeKeys() {
	f.t.Helper()
	raw, err := f.keys.Marshal()
	if err != nil {
		f.t.Fatal(err)
	}
	ref := oauthv1alpha1.StatelessKeySecret(f.server, clusterNS)
	sec := &corev1.Secret{}
	err = f.client.Get(f.ctx, ref, sec)
	switch {
	case err == nil:
		sec.Data = map[string][]byte{statelessbackend.KeySetDataKey: raw}
		err = f.client.Update(f.ctx, sec)
	case client.IgnoreNotFound(err) == nil:
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name},
			Type:       corev1.SecretTypeOpaque,
			Data:       map[string][]byte{statelessbackend.KeySetDataKey: raw},
		}
		err = f.client.Create(f.ctx, sec)
	}
	if err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) req(md *metadata.Metadata, stored *backend.Credentials) *backend.Request {
	return &backend.Request{
		Client:   &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: "billing"}},
		Server:   f.server,
		Metadata: md,
		Stored:   stored,
		Now:      f.clk.Now(),
	}
}

func (f *fixture) create(md *metadata.Metadata) *backend.Credentials {
	f.t.Helper()
	creds, err := f.b.Create(f.ctx, f.req(md, nil))
	if err != nil {
		f.t.Fatalf("Create: %v", err)
	}
	return creds
}

// observe calls Observe on a copy of stored and returns the observation and
// the copy as Observe left it.
func (f *fixture) observe(md *metadata.Metadata, stored *backend.Credentials) (backend.Observation, *backend.Credentials) {
	f.t.Helper()
	var cp *backend.Credentials
	if stored != nil {
		c := *stored
		cp = &c
	}
	obs, err := f.b.Observe(f.ctx, f.req(md, cp))
	if err != nil {
		f.t.Fatalf("Observe: %v", err)
	}
	return obs, cp
}

func (f *fixture) verifier() *sci.Verifier {
	f.t.Helper()
	spec := f.server.GetSpec().Stateless
	v, err := sci.VerifierFromKeySet(spec.Issuer, spec.EffectiveAudience(), f.keys, f.clk)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) activeKID(use sci.KeyUse) string {
	f.t.Helper()
	k, ok := f.keys.Active(use)
	if !ok {
		f.t.Fatalf("no active %s key", use)
	}
	return k.ID
}

func webClient(uris ...string) *metadata.Metadata {
	if len(uris) == 0 {
		uris = []string{"https://app.example/cb"}
	}
	return &metadata.Metadata{RedirectURIs: uris, ClientName: "Billing"}
}

func publicClient() *metadata.Metadata {
	return &metadata.Metadata{RedirectURIs: []string{"http://127.0.0.1:8080/cb"}, TokenEndpointAuthMethod: "none"}
}

func segment(t *testing.T, id string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(id, ".")
	if i >= len(parts) {
		t.Fatalf("id has %d segments", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	return josetest.Object(t, json.RawMessage(raw))
}

func segments(id string) int { return strings.Count(id, ".") + 1 }

func wantPending(t *testing.T, err error, reason string) *backend.PendingError {
	t.Helper()
	p, ok := backend.AsPending(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a PendingError", err, err)
	}
	if p.Reason != reason || p.RetryAfter != 5*time.Second {
		t.Fatalf("pending reason %q retry %v, want %q 5s", p.Reason, p.RetryAfter, reason)
	}
	return p
}

func wantPermanent(t *testing.T, err error, reason string) *backend.PermanentError {
	t.Helper()
	p, ok := backend.AsPermanent(err)
	if !ok {
		t.Fatalf("error %v (%T) is not a PermanentError", err, err)
	}
	if p.Reason != reason {
		t.Fatalf("permanent reason %q, want %q (%v)", p.Reason, reason, err)
	}
	return p
}

func TestKeySecretMissing(t *testing.T) {
	f := newFixture(t, newServer("idp", "uid-1"), false)

	_, err := f.b.Observe(f.ctx, f.req(webClient(), &backend.Credentials{ClientID: "a.b.c", ClientSecret: "s"}))
	p := wantPending(t, err, oauthv1alpha1.ReasonServerNotReady)
	if !strings.Contains(p.Error(), "team-a/idp-stateless-keys") {
		t.Errorf("message %q does not name the key Secret", p.Error())
	}

	_, err = f.b.Create(f.ctx, f.req(webClient(), nil))
	wantPending(t, err, oauthv1alpha1.ReasonServerNotReady)

	// Nothing stored: nothing to check, so no key Secret is needed.
	obs, _ := f.observe(webClient(), nil)
	if obs.Exists || obs.UpToDate || obs.Message != "no client id issued yet" {
		t.Errorf("Observe(nil) = %+v", obs)
	}
}

func TestCreate(t *testing.T) {
	tests := []struct {
		name         string
		mods         []serverMod
		md           *metadata.Metadata
		wantAlg      string
		wantLifetime time.Duration
		wantSegments int
		wantSecret   bool
	}{
		{name: "defaults", md: webClient(), wantAlg: "ES256", wantLifetime: 90 * day, wantSegments: 3, wantSecret: true},
		{name: "EdDSA, 1 day", mods: []serverMod{withAlg(oauthv1alpha1.SigningEdDSA), withLifetime(day)}, md: webClient(), wantAlg: "EdDSA", wantLifetime: day, wantSegments: 3, wantSecret: true},
		{name: "RS256", mods: []serverMod{withAlg(oauthv1alpha1.SigningRS256), withLifetime(day)}, md: webClient(), wantAlg: "RS256", wantLifetime: day, wantSegments: 3, wantSecret: true},
		{name: "never expires", mods: []serverMod{withLifetime(0)}, md: webClient(), wantAlg: "ES256", wantSegments: 3, wantSecret: true},
		{name: "public client", md: publicClient(), wantAlg: "ES256", wantLifetime: 90 * day, wantSegments: 3},
		{name: "generated encryption", mods: []serverMod{withEncryption(oauthv1alpha1.EncryptionGenerated, nil), withLifetime(day)}, md: webClient(), wantAlg: "ES256", wantLifetime: day, wantSegments: 5, wantSecret: true},
		{name: "generated encryption, public client", mods: []serverMod{withEncryption(oauthv1alpha1.EncryptionGenerated, nil)}, md: publicClient(), wantAlg: "ES256", wantLifetime: 90 * day, wantSegments: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newServer("idp", "uid-1", tt.mods...), true)
			creds := f.create(tt.md)

			if creds.ClientID == "" || segments(creds.ClientID) != tt.wantSegments {
				t.Fatalf("client id has %d segments, want %d", segments(creds.ClientID), tt.wantSegments)
			}
			if (creds.ClientSecret != "") != tt.wantSecret {
				t.Errorf("client secret set = %v, want %v", creds.ClientSecret != "", tt.wantSecret)
			}
			if creds.Issuer != issuer {
				t.Errorf("Issuer = %q", creds.Issuer)
			}
			if !creds.IssuedAt.Equal(t0) {
				t.Errorf("IssuedAt = %v, want %v", creds.IssuedAt, t0)
			}
			wantExp := time.Time{}
			if tt.wantLifetime > 0 {
				wantExp = t0.Add(tt.wantLifetime)
			}
			if !creds.ExpiresAt.Equal(wantExp) {
				t.Errorf("ExpiresAt = %v, want %v", creds.ExpiresAt, wantExp)
			}
			if creds.RegistrationAccessToken != "" || creds.RegistrationClientURI != "" {
				t.Errorf("stateless credentials carry RFC 7592 members: %+v", creds)
			}
			digest, err := f.b.Digest(f.req(tt.md, nil))
			if err != nil {
				t.Fatal(err)
			}
			if creds.Digest != digest || !strings.HasPrefix(digest, "sha256:") {
				t.Errorf("Digest = %q, want %q", creds.Digest, digest)
			}

			if tt.wantSegments == 5 {
				h := segment(t, creds.ClientID, 0)
				if h["kid"] != f.activeKID("enc") || h["alg"] != statelessbackend.EncryptionKeyAlgorithm || h["enc"] != "A256GCM" {
					t.Errorf("JWE header = %v", h)
				}
			} else {
				h := segment(t, creds.ClientID, 0)
				if h["kid"] != f.activeKID("sig") || h["alg"] != tt.wantAlg || h["typ"] != sci.TypeClientID {
					t.Errorf("JWS header = %v, want kid %s alg %s", h, f.activeKID("sig"), tt.wantAlg)
				}
			}

			// The server's own keys verify the id, its claims and its secret.
			c, err := f.verifier().Verify(creds.ClientID)
			if err != nil {
				t.Fatalf("minted id does not verify: %v", err)
			}
			if c.KeyID != f.activeKID("sig") || c.Issuer != issuer || c.Audience != issuer || !c.IssuedAt.Equal(t0) || !c.ExpiresAt.Equal(wantExp) {
				t.Errorf("claims = %+v", c)
			}
			var reg map[string]any
			if err := json.Unmarshal(c.Reg, &reg); err != nil {
				t.Fatal(err)
			}
			if uris, _ := reg["redirect_uris"].([]any); len(uris) != len(tt.md.RedirectURIs) || uris[0] != tt.md.RedirectURIs[0] {
				t.Errorf("reg = %s", c.Reg)
			}
			if tt.wantSecret {
				if err := f.verifier().CheckSecret(c, creds.ClientSecret); err != nil {
					t.Errorf("minted secret does not check: %v", err)
				}
			}
		})
	}
}

func TestUpdateAndRotateMintNewCredentials(t *testing.T) {
	f := newFixture(t, newServer("idp", "uid-1"), true)
	first := f.create(webClient())
	for name, op := range map[string]func(context.Context, *backend.Request) (*backend.Credentials, error){
		"Update": f.b.Update, "Rotate": f.b.Rotate,
	} {
		got, err := op(f.ctx, f.req(webClient(), first))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.ClientID == first.ClientID || got.ClientSecret == first.ClientSecret || got.ClientSecret == "" {
			t.Errorf("%s did not mint new credentials", name)
		}
		if got.Digest != first.Digest {
			t.Errorf("%s digest %q, want %q", name, got.Digest, first.Digest)
		}
	}
	if err := f.b.Delete(f.ctx, f.req(webClient(), first)); err != nil {
		t.Errorf("Delete: %v", err)
	}
}

// observeChange runs after Create and returns the request's metadata and
// stored credentials.
type observeChange func(f *fixture, creds *backend.Credentials) (*metadata.Metadata, *backend.Credentials)

// storedWith edits the stored credentials; the metadata stays webClient().
func storedWith(edit func(c *backend.Credentials)) observeChange {
	return func(_ *fixture, c *backend.Credentials) (*metadata.Metadata, *backend.Credentials) {
		edit(c)
		return webClient(), c
	}
}

// serverWith edits the server's stateless spec, a new generation.
func serverWith(edit func(s *oauthv1alpha1.StatelessServer)) observeChange {
	return func(f *fixture, c *backend.Credentials) (*metadata.Metadata, *backend.Credentials) {
		s := f.server.(*oauthv1alpha1.AuthorizationServer)
		s.Generation++
		edit(s.Spec.Stateless)
		return webClient(), c
	}
}

func TestObserve(t *testing.T) {
	const lifetime = 24 * time.Hour
	const (
		changed       = "the metadata or the server settings changed"
		wrongSecret   = "the stored client secret does not match the client id"
		doesNotVerify = "the stored client id no longer verifies with the server's keys"
		noneIssued    = "no client id issued yet"
	)
	tests := []struct {
		name         string
		change       observeChange
		wantExists   bool
		wantUpToDate bool
		wantMessage  string
		// wantExpiry asks that the stored ExpiresAt be t0+lifetime after Observe.
		wantExpiry bool
	}{
		{name: "unchanged", change: storedWith(func(*backend.Credentials) {}), wantExists: true, wantUpToDate: true, wantExpiry: true},
		{name: "expiry recovered from the id when not stored", change: storedWith(func(c *backend.Credentials) { c.ExpiresAt = time.Time{} }), wantExists: true, wantUpToDate: true, wantExpiry: true},
		{
			name: "another redirect URI",
			change: func(_ *fixture, c *backend.Credentials) (*metadata.Metadata, *backend.Credentials) {
				return webClient("https://app.example/cb", "https://app.example/cb2"), c
			},
			wantExists: true, wantMessage: changed, wantExpiry: true,
		},
		{name: "stored digest differs", change: storedWith(func(c *backend.Credentials) { c.Digest = "sha256:old" }), wantExists: true, wantMessage: changed, wantExpiry: true},
		{name: "wrong stored secret", change: storedWith(func(c *backend.Credentials) { c.ClientSecret = "WRONG-SECRET-VALUE" }), wantMessage: wrongSecret},
		{name: "missing stored secret for a confidential client", change: storedWith(func(c *backend.Credentials) { c.ClientSecret = "" }), wantMessage: wrongSecret},
		{name: "garbage client id", change: storedWith(func(c *backend.Credentials) { c.ClientID = "not-a-client-id" }), wantMessage: doesNotVerify},
		{
			name: "tampered signature",
			change: storedWith(func(c *backend.Credentials) {
				parts := strings.Split(c.ClientID, ".")
				parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + issuer + `"}`))
				c.ClientID = strings.Join(parts, ".")
			}),
			wantMessage: doesNotVerify,
		},
		{
			name: "expired",
			change: func(f *fixture, c *backend.Credentials) (*metadata.Metadata, *backend.Credentials) {
				f.clk.SetTime(t0.Add(lifetime + time.Hour))
				return webClient(), c
			},
			wantMessage: doesNotVerify,
		},
		{
			name: "nil stored",
			change: func(*fixture, *backend.Credentials) (*metadata.Metadata, *backend.Credentials) {
				return webClient(), nil
			},
			wantMessage: noneIssued,
		},
		{
			name: "empty stored client id",
			change: func(_ *fixture, c *backend.Credentials) (*metadata.Metadata, *backend.Credentials) {
				return webClient(), &backend.Credentials{ClientSecret: c.ClientSecret}
			},
			wantMessage: noneIssued,
		},
		{
			name: "lifetime change",
			change: serverWith(func(s *oauthv1alpha1.StatelessServer) {
				s.ClientIDLifetime = &metav1.Duration{Duration: 2 * lifetime}
			}),
			wantExists: true, wantMessage: changed, wantExpiry: true,
		},
		{name: "issuer change", change: serverWith(func(s *oauthv1alpha1.StatelessServer) { s.Issuer = "https://new-idp.example" }), wantMessage: doesNotVerify},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, newServer("idp", "uid-1", withLifetime(lifetime)), true)
			creds := f.create(webClient())
			secret := creds.ClientSecret
			md, stored := tt.change(f, creds)
			obs, after := f.observe(md, stored)
			if obs.Exists != tt.wantExists || obs.UpToDate != tt.wantUpToDate || obs.Message != tt.wantMessage {
				t.Errorf("Observe = %+v, want exists=%v upToDate=%v message %q", obs, tt.wantExists, tt.wantUpToDate, tt.wantMessage)
			}
			// The controller schedules renewal from the stored expiry, which
			// Observe takes from the verified id.
			if tt.wantExpiry && !after.ExpiresAt.Equal(t0.Add(lifetime)) {
				t.Errorf("stored ExpiresAt after Observe = %v, want %v", after.ExpiresAt, t0.Add(lifetime))
			}
			for _, s := range []string{secret, "WRONG-SECRET-VALUE"} {
				if strings.Contains(obs.Message, s) {
					t.Errorf("message %q contains a secret", obs.Message)
				}
			}
		})
	}
}

func TestObservePublicClient(t *testing.T) {
	f := newFixture(t, newServer("idp", "uid-1"), true)
	creds := f.create(publicClient())
	if creds.ClientSecret != "" {
		t.Fatal("public client got a secret")
	}
	obs, _ := f.observe(publicClient(), creds)
	if !obs.Exists || !obs.UpToDate {
		t.Errorf("Observe = %+v", obs)
	}
	// The client becomes confidential: the stored credentials lack a secret.
	if obs, _ := f.observe(webClient(), creds); obs.Exists {
		t.Errorf("Observe after switching to a confidential client = %+v", obs)
	}
}

func TestObserveGeneratedEncryption(t *testing.T) {
	f := newFixture(t, newServer("idp", "uid-1", withEncryption(oauthv1alpha1.EncryptionGenerated, nil), withLifetime(30*day)), true)
	creds := f.create(webClient())
	if segments(creds.ClientID) != 5 {
		t.Fatalf("id has %d segments", segments(creds.ClientID))
	}
	stored := *creds
	stored.ExpiresAt = time.Time{}
	if obs, after := f.observe(webClient(), &stored); !obs.Exists || !obs.UpToDate || !after.ExpiresAt.Equal(t0.Add(30*day)) {
		t.Errorf("Observe = %+v, stored expiry %v", obs, after.ExpiresAt)
	}
	wrong := *creds
	wrong.ClientSecret = otherFirstChar(creds.ClientSecret)
	if obs, _ := f.observe(webClient(), &wrong); obs.Exists || strings.Contains(obs.Message, creds.ClientSecret) || strings.Contains(obs.Message, wrong.ClientSecret) {
		t.Errorf("Observe with a wrong secret = %+v", obs)
	}
}

func TestObserveAfterSigningAlgorithmChange(t *testing.T) {
	server := newServer("idp", "uid-1")
	f := newFixture(t, server, true)
	creds := f.create(webClient())
	oldKID := f.activeKID("sig")

	server.Generation = 2
	server.Spec.Stateless.SigningAlgorithm = oauthv1alpha1.SigningEdDSA

	// The server reconciler has not rotated the key yet.
	_, err := f.b.Observe(f.ctx, f.req(webClient(), creds))
	wantPending(t, err, oauthv1alpha1.ReasonServerNotReady)
	_, err = f.b.Create(f.ctx, f.req(webClient(), nil))
	wantPending(t, err, oauthv1alpha1.ReasonServerNotReady)

	// Now it has: the old id still verifies with the retired key, but is stale.
	ensureKeys(t, f.keys, server.Spec.Stateless, t0.Add(time.Minute))
	f.writeKeys()
	obs, _ := f.observe(webClient(), creds)
	if !obs.Exists || obs.UpToDate || obs.Message != "the metadata or the server settings changed" {
		t.Errorf("Observe = %+v, want exists and stale", obs)
	}

	renewed, err := f.b.Update(f.ctx, f.req(webClient(), creds))
	if err != nil {
		t.Fatal(err)
	}
	h := segment(t, renewed.ClientID, 0)
	if h["alg"] != "EdDSA" || h["kid"] != f.activeKID("sig") || h["kid"] == oldKID {
		t.Errorf("renewed header = %v", h)
	}
	if obs, _ := f.observe(webClient(), renewed); !obs.Exists || !obs.UpToDate {
		t.Errorf("Observe(renewed) = %+v", obs)
	}
}

func TestKeySetChangeInvalidatesCache(t *testing.T) {
	f := newFixture(t, newServer("idp", "uid-1"), true)
	first := f.create(webClient())
	kid1 := f.activeKID("sig")
	if h := segment(t, first.ClientID, 0); h["kid"] != kid1 {
		t.Fatalf("first kid %v, want %s", h["kid"], kid1)
	}

	if err := f.keys.Rotate("sig", "ES256", t0.Add(time.Hour), f.server.GetSpec().Stateless.EffectiveLifetime()); err != nil {
		t.Fatal(err)
	}
	f.writeKeys()
	kid2 := f.activeKID("sig")
	if kid2 == kid1 {
		t.Fatal("rotation kept the kid")
	}

	second := f.create(webClient())
	if h := segment(t, second.ClientID, 0); h["kid"] != kid2 {
		t.Errorf("after rotation the id is signed by %v, want %s", h["kid"], kid2)
	}
	// Ids signed by the retired key keep verifying.
	for name, c := range map[string]*backend.Credentials{"old": first, "new": second} {
		if obs, _ := f.observe(webClient(), c); !obs.Exists || !obs.UpToDate {
			t.Errorf("Observe(%s) = %+v", name, obs)
		}
	}

	// Once the retired key is pruned, the old id no longer verifies.
	f.keys.Prune(t0.Add(200 * day))
	f.writeKeys()
	if obs, _ := f.observe(webClient(), first); obs.Exists {
		t.Errorf("Observe(old) after pruning = %+v", obs)
	}
}

func TestGenerationChangeInvalidatesCache(t *testing.T) {
	server := newServer("idp", "uid-1")
	f := newFixture(t, server, true)
	if c := f.create(webClient()); c.Issuer != issuer {
		t.Fatalf("Issuer = %q", c.Issuer)
	}
	server.Generation = 2
	server.Spec.Stateless.Issuer = "https://renamed.example"
	c := f.create(webClient())
	if c.Issuer != "https://renamed.example" {
		t.Errorf("Issuer after the spec change = %q", c.Issuer)
	}
	if p := segment(t, c.ClientID, 1); p["iss"] != "https://renamed.example" || p["aud"] != "https://renamed.example" {
		t.Errorf("claims after the spec change = %v", p)
	}
}

func TestCacheIsPerServer(t *testing.T) {
	f := newFixture(t, newServer("idp", "uid-1"), true)
	other := newServer("other", "uid-2")
	otherKeys := &sci.KeySet{}
	ensureKeys(t, otherKeys, other.Spec.Stateless, t0)
	g := &fixture{t: t, ctx: f.ctx, clk: f.clk, client: f.client, b: f.b, server: other, keys: otherKeys}
	g.writeKeys()

	for i := 0; i < 2; i++ {
		for _, fx := range []*fixture{f, g} {
			c := fx.create(webClient())
			if h := segment(t, c.ClientID, 0); h["kid"] != fx.activeKID("sig") {
				t.Errorf("server %s: id signed by %v, want %s", fx.server.GetName(), h["kid"], fx.activeKID("sig"))
			}
		}
	}
	f.b.Forget("uid-1")
	if c := f.create(webClient()); segment(t, c.ClientID, 0)["kid"] != f.activeKID("sig") {
		t.Error("minting after Forget uses the wrong key")
	}
}

func TestClusterServerReadsClusterNamespace(t *testing.T) {
	server := &oauthv1alpha1.ClusterAuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Name: "global", UID: "uid-c", Generation: 1},
		Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: issuer}},
	}
	f := newFixture(t, server, true)
	sec := &corev1.Secret{}
	if err := f.client.Get(f.ctx, types.NamespacedName{Namespace: clusterNS, Name: "global-stateless-keys"}, sec); err != nil {
		t.Fatalf("fixture did not write the key Secret in the cluster namespace: %v", err)
	}
	c := f.create(webClient())
	if obs, _ := f.observe(webClient(), c); !obs.Exists || !obs.UpToDate {
		t.Errorf("Observe = %+v", obs)
	}

	// A backend configured with another cluster namespace does not find the keys.
	b := &statelessbackend.Backend{Reader: f.client, ClusterResourceNamespace: "elsewhere", Clock: f.clk}
	_, err := b.Create(f.ctx, f.req(webClient(), nil))
	wantPending(t, err, oauthv1alpha1.ReasonServerNotReady)
}

func TestKeySecretProblems(t *testing.T) {
	tests := []struct {
		name   string
		server *oauthv1alpha1.AuthorizationServer
		data   func(t *testing.T) []byte
		// wantPending / wantPermanent name a reason; both empty means a transient error.
		wantPending, wantPermanent string
	}{
		{
			name:   "unparseable key set",
			server: newServer("idp", "uid-1"),
			data:   func(*testing.T) []byte { return []byte("{not json") },
		},
		{
			name:   "empty key Secret",
			server: newServer("idp", "uid-1"),
			data:   func(*testing.T) []byte { return nil },
		},
		{
			name:   "active key of another algorithm",
			server: newServer("idp", "uid-1"),
			data: func(t *testing.T) []byte {
				ks := &sci.KeySet{}
				ensureKeys(t, ks, &oauthv1alpha1.StatelessServer{SigningAlgorithm: oauthv1alpha1.SigningEdDSA}, t0)
				raw, _ := ks.Marshal()
				return raw
			},
			wantPending: oauthv1alpha1.ReasonServerNotReady,
		},
		{
			name:        "no keys yet",
			server:      newServer("idp", "uid-1"),
			data:        func(*testing.T) []byte { return []byte(`{"keys":[]}`) },
			wantPending: oauthv1alpha1.ReasonServerNotReady,
		},
		{
			name:   "generated encryption without an encryption key",
			server: newServer("idp", "uid-1", withEncryption(oauthv1alpha1.EncryptionGenerated, nil)),
			data: func(t *testing.T) []byte {
				ks := &sci.KeySet{}
				ensureKeys(t, ks, &oauthv1alpha1.StatelessServer{}, t0)
				raw, _ := ks.Marshal()
				return raw
			},
			wantPending: oauthv1alpha1.ReasonServerNotReady,
		},
		{
			name:          "server without stateless configuration",
			server:        &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: "idp", UID: "uid-1"}},
			data:          func(*testing.T) []byte { return []byte(`{"keys":[]}`) },
			wantPermanent: oauthv1alpha1.ReasonInvalidSpec,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.server, false)
			sec := &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: "idp-stateless-keys"},
				Data:       map[string][]byte{statelessbackend.KeySetDataKey: tt.data(t)},
			}
			if err := f.client.Create(f.ctx, sec); err != nil {
				t.Fatal(err)
			}
			for op, call := range map[string]func() error{
				"Create": func() error { _, err := f.b.Create(f.ctx, f.req(webClient(), nil)); return err },
				"Observe": func() error {
					_, err := f.b.Observe(f.ctx, f.req(webClient(), &backend.Credentials{ClientID: "a.b.c"}))
					return err
				},
			} {
				err := call()
				if err == nil {
					t.Fatalf("%s: no error", op)
				}
				_, pending := backend.AsPending(err)
				_, permanent := backend.AsPermanent(err)
				switch {
				case tt.wantPending != "":
					wantPending(t, err, tt.wantPending)
				case tt.wantPermanent != "":
					wantPermanent(t, err, tt.wantPermanent)
				case pending || permanent:
					t.Errorf("%s: %v is pending=%v permanent=%v, want a transient error", op, err, pending, permanent)
				}
			}
		})
	}
}

func TestCreateRefusesBadMetadata(t *testing.T) {
	f := newFixture(t, newServer("idp", "uid-1"), true)
	tests := []struct {
		name string
		md   *metadata.Metadata
	}{
		{
			name: "private key in jwks",
			md: &metadata.Metadata{RedirectURIs: []string{"https://app.example/cb"}, TokenEndpointAuthMethod: "private_key_jwt",
				JWKS: json.RawMessage(`{"keys":[{"kty":"oct","kid":"x","k":"c2VjcmV0c2VjcmV0c2VjcmV0"}]}`)},
		},
		{
			name: "client id too large",
			md: &metadata.Metadata{RedirectURIs: []string{"https://app.example/cb"},
				Extra: map[string]json.RawMessage{"x_blob": json.RawMessage(`"` + strings.Repeat("a", sci.MaxClientIDLength) + `"`)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.b.Create(f.ctx, f.req(tt.md, nil))
			wantPermanent(t, err, oauthv1alpha1.ReasonInvalidMetadata)
		})
	}
}

func TestRecipientKeyMode(t *testing.T) {
	pub, priv := ecJWK(t, elliptic.P256(), "rk-1", false)
	server := newServer("idp", "uid-1", withEncryption(oauthv1alpha1.EncryptionRecipientKey, pub), withLifetime(30*day))
	f := newFixture(t, server, true)
	creds := f.create(webClient())

	if segments(creds.ClientID) != 5 || creds.ClientSecret == "" {
		t.Fatalf("id segments %d, secret set %v", segments(creds.ClientID), creds.ClientSecret != "")
	}
	if h := segment(t, creds.ClientID, 0); h["kid"] != "rk-1" || h["alg"] != "ECDH-ES+A256KW" || h["cty"] != "JWT" {
		t.Errorf("JWE header = %v", h)
	}
	// The authorization server holding the private key reads the nested JWS.
	jwe, err := jose.ParseEncryptedCompact(creds.ClientID, []jose.KeyAlgorithm{jose.ECDH_ES_A256KW}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := jwe.Decrypt(priv)
	if err != nil {
		t.Fatalf("decrypt: %v", err)
	}
	if segments(string(inner)) != 3 {
		t.Fatalf("inner id has %d segments", segments(string(inner)))
	}
	if h := segment(t, string(inner), 0); h["kid"] != f.activeKID("sig") {
		t.Errorf("inner header = %v", h)
	}
	if p := segment(t, string(inner), 1); p["client_secret"] != creds.ClientSecret || p["iss"] != issuer {
		t.Errorf("inner claims iss=%v, secret matches=%v", p["iss"], p["client_secret"] == creds.ClientSecret)
	}

	// The operator cannot decrypt: Observe relies on the digest.
	if obs, after := f.observe(webClient(), creds); !obs.Exists || !obs.UpToDate || !after.ExpiresAt.Equal(t0.Add(30*day)) {
		t.Errorf("Observe = %+v", obs)
	}
	garbage := *creds
	garbage.ClientID = "unverifiable"
	if obs, _ := f.observe(webClient(), &garbage); !obs.Exists || !obs.UpToDate {
		t.Errorf("Observe(garbage id, same digest) = %+v", obs)
	}
	if obs, _ := f.observe(webClient("https://other.example/cb"), creds); !obs.Exists || obs.UpToDate {
		t.Errorf("Observe(changed metadata) = %+v", obs)
	}

	// A new recipient key changes the desired state.
	pub2, _ := ecJWK(t, elliptic.P256(), "rk-2", false)
	server.Generation = 2
	server.Spec.Stateless.Encryption.RecipientKey = &apiextensionsv1.JSON{Raw: pub2}
	if obs, _ := f.observe(webClient(), creds); obs.UpToDate {
		t.Errorf("Observe after the recipient key changed = %+v", obs)
	}
	renewed := f.create(webClient())
	if h := segment(t, renewed.ClientID, 0); h["kid"] != "rk-2" {
		t.Errorf("renewed JWE kid = %v", h["kid"])
	}
}

func TestRecipientKeyModeRefusesPrivateKey(t *testing.T) {
	privJWK, _ := ecJWK(t, elliptic.P256(), "rk-1", true)
	f := newFixture(t, newServer("idp", "uid-1", withEncryption(oauthv1alpha1.EncryptionRecipientKey, privJWK)), true)
	_, err := f.b.Create(f.ctx, f.req(webClient(), nil))
	p := wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
	if !strings.Contains(p.Error(), "must be a public key") {
		t.Errorf("message = %q", p.Error())
	}
	if strings.Contains(p.Error(), `"d"`) {
		t.Errorf("message leaks key material: %q", p.Error())
	}
	_, err = f.b.Observe(f.ctx, f.req(webClient(), &backend.Credentials{ClientID: "x"}))
	wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
}

// RecipientKey accepts every public EC or RSA key, so the server reconciler
// reports the server ready; minting then refuses some of those keys with a
// plain error, which the client reconciler retries forever instead of
// reporting InvalidSpec.
func TestRecipientKeyModeUnusableKeysArePermanent(t *testing.T) {
	p384, _ := ecJWK(t, elliptic.P384(), "rk-1", false)
	noKID, _ := ecJWK(t, elliptic.P256(), "", false)
	rsa1024 := rsaJWK(t, 1024, "rk-1")
	for name, jwk := range map[string][]byte{"EC P-384": p384, "no kid": noKID, "RSA 1024": rsa1024} {
		t.Run(name, func(t *testing.T) {
			spec := &oauthv1alpha1.StatelessServer{Encryption: &oauthv1alpha1.StatelessEncryption{Mode: oauthv1alpha1.EncryptionRecipientKey, RecipientKey: &apiextensionsv1.JSON{Raw: jwk}}}
			_, _, rkErr := statelessbackend.RecipientKey(spec)
			f := newFixture(t, newServer("idp", "uid-1", withEncryption(oauthv1alpha1.EncryptionRecipientKey, jwk)), true)
			_, err := f.b.Create(f.ctx, f.req(webClient(), nil))
			if err == nil {
				return // usable after all
			}
			if _, ok := backend.AsPermanent(err); !ok || rkErr == nil {
				t.Errorf("RecipientKey() error %v; Create error %v is not permanent", rkErr, err)
			}
		})
	}
}

func TestRecipientKey(t *testing.T) {
	ecPub, _ := ecJWK(t, elliptic.P256(), "ec", false)
	ecPriv, _ := ecJWK(t, elliptic.P256(), "ec", true)
	rsaPub := rsaJWK(t, 2048, "rsa")
	okpPub := ed25519JWK(t, "ed")
	oct := jwkOf(t, make([]byte, 32), "oct")

	tests := []struct {
		name    string
		enc     *oauthv1alpha1.StatelessEncryption
		wantAlg string
		wantKID string
		wantErr string
	}{
		{name: "no encryption", enc: nil, wantErr: "recipientKey is required"},
		{name: "no key", enc: &oauthv1alpha1.StatelessEncryption{Mode: oauthv1alpha1.EncryptionRecipientKey}, wantErr: "recipientKey is required"},
		{name: "not a JWK", enc: &oauthv1alpha1.StatelessEncryption{RecipientKey: &apiextensionsv1.JSON{Raw: []byte(`{"kty":"nope"}`)}}, wantErr: "not a valid JWK"},
		{name: "EC public", enc: &oauthv1alpha1.StatelessEncryption{RecipientKey: &apiextensionsv1.JSON{Raw: ecPub}}, wantAlg: "ECDH-ES+A256KW", wantKID: "ec"},
		{name: "RSA public", enc: &oauthv1alpha1.StatelessEncryption{RecipientKey: &apiextensionsv1.JSON{Raw: rsaPub}}, wantAlg: "RSA-OAEP-256", wantKID: "rsa"},
		{name: "EC private", enc: &oauthv1alpha1.StatelessEncryption{RecipientKey: &apiextensionsv1.JSON{Raw: ecPriv}}, wantErr: "must be a public key"},
		{name: "symmetric", enc: &oauthv1alpha1.StatelessEncryption{RecipientKey: &apiextensionsv1.JSON{Raw: oct}}, wantErr: "must be a public key"},
		{name: "Ed25519", enc: &oauthv1alpha1.StatelessEncryption{RecipientKey: &apiextensionsv1.JSON{Raw: okpPub}}, wantErr: "unsupported key type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, alg, err := statelessbackend.RecipientKey(&oauthv1alpha1.StatelessServer{Encryption: tt.enc})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				if k != nil || alg != "" {
					t.Errorf("returned key %v alg %q with an error", k, alg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if alg != tt.wantAlg || k.KeyID != tt.wantKID || !k.IsPublic() {
				t.Errorf("alg %q kid %q public %v", alg, k.KeyID, k.IsPublic())
			}
		})
	}
}

func TestDigest(t *testing.T) {
	b := &statelessbackend.Backend{}
	rk1, _ := ecJWK(t, elliptic.P256(), "rk-1", false)
	rk2, _ := ecJWK(t, elliptic.P256(), "rk-2", false)
	digest := func(t *testing.T, s *oauthv1alpha1.StatelessServer, md *metadata.Metadata) string {
		t.Helper()
		srv := &oauthv1alpha1.AuthorizationServer{Spec: oauthv1alpha1.AuthorizationServerSpec{Stateless: s}}
		d, err := b.Digest(&backend.Request{Server: srv, Metadata: md})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := func() *oauthv1alpha1.StatelessServer { return &oauthv1alpha1.StatelessServer{Issuer: issuer} }
	d0 := digest(t, base(), webClient())
	if !strings.HasPrefix(d0, "sha256:") || len(d0) != len("sha256:")+43 {
		t.Fatalf("digest %q is not sha256:<base64url>", d0)
	}

	tests := []struct {
		name     string
		server   func() *oauthv1alpha1.StatelessServer
		md       *metadata.Metadata
		wantSame bool
	}{
		{name: "equal inputs", server: base, md: webClient(), wantSame: true},
		{name: "audience spelled out as the issuer", server: func() *oauthv1alpha1.StatelessServer { s := base(); s.Audience = issuer; return s }, md: webClient(), wantSame: true},
		{name: "default lifetime spelled out", server: func() *oauthv1alpha1.StatelessServer { s := base(); withLifetime(90 * day)(s); return s }, md: webClient(), wantSame: true},
		{name: "default algorithm spelled out", server: func() *oauthv1alpha1.StatelessServer { s := base(); s.SigningAlgorithm = "ES256"; return s }, md: webClient(), wantSame: true},
		{name: "key rotation interval", server: func() *oauthv1alpha1.StatelessServer {
			s := base()
			s.KeyRotationInterval = &metav1.Duration{Duration: time.Hour}
			return s
		}, md: webClient(), wantSame: true},
		{name: "key Secret name", server: func() *oauthv1alpha1.StatelessServer { s := base(); s.KeySecretName = "other"; return s }, md: webClient(), wantSame: true},
		{name: "issuer", server: func() *oauthv1alpha1.StatelessServer { s := base(); s.Issuer = "https://other.example"; return s }, md: webClient()},
		{name: "audience", server: func() *oauthv1alpha1.StatelessServer { s := base(); s.Audience = "https://rs.example"; return s }, md: webClient()},
		{name: "lifetime", server: func() *oauthv1alpha1.StatelessServer { s := base(); withLifetime(day)(s); return s }, md: webClient()},
		{name: "algorithm", server: func() *oauthv1alpha1.StatelessServer { s := base(); s.SigningAlgorithm = "EdDSA"; return s }, md: webClient()},
		{name: "encryption mode", server: func() *oauthv1alpha1.StatelessServer {
			s := base()
			withEncryption(oauthv1alpha1.EncryptionGenerated, nil)(s)
			return s
		}, md: webClient()},
		{name: "metadata: another redirect URI", server: base, md: webClient("https://app.example/cb", "https://app.example/cb2")},
		{name: "metadata: client name", server: base, md: &metadata.Metadata{RedirectURIs: []string{"https://app.example/cb"}, ClientName: "Other"}},
		{name: "metadata: extra member", server: base, md: func() *metadata.Metadata {
			m := webClient()
			m.Extra = map[string]json.RawMessage{"x_a": json.RawMessage(`1`)}
			return m
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := digest(t, tt.server(), tt.md)
			if (d == d0) != tt.wantSame {
				t.Errorf("digest %q vs base %q: same=%v, want %v", d, d0, d == d0, tt.wantSame)
			}
		})
	}

	t.Run("recipient key", func(t *testing.T) {
		mk := func(raw []byte) *oauthv1alpha1.StatelessServer {
			s := base()
			withEncryption(oauthv1alpha1.EncryptionRecipientKey, raw)(s)
			return s
		}
		d1, d1b, d2 := digest(t, mk(rk1), webClient()), digest(t, mk(rk1), webClient()), digest(t, mk(rk2), webClient())
		if d1 != d1b || d1 == d2 || d1 == d0 {
			t.Errorf("recipient key digests: same key %v, different key %v, vs none %v", d1 == d1b, d1 == d2, d1 == d0)
		}
	})

	t.Run("no stateless configuration", func(t *testing.T) {
		_, err := b.Digest(&backend.Request{Server: &oauthv1alpha1.AuthorizationServer{}, Metadata: webClient()})
		wantPermanent(t, err, oauthv1alpha1.ReasonInvalidSpec)
	})
}

func TestSettingHelpers(t *testing.T) {
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	t.Run("Lifetime", func(t *testing.T) {
		for _, tt := range []struct {
			in   *metav1.Duration
			want time.Duration
		}{{nil, 90 * day}, {dur(0), 0}, {dur(time.Hour), time.Hour}} {
			if got := (&oauthv1alpha1.StatelessServer{ClientIDLifetime: tt.in}).EffectiveLifetime(); got != tt.want {
				t.Errorf("Lifetime(%v) = %v, want %v", tt.in, got, tt.want)
			}
		}
		if statelessbackend.DefaultClientIDLifetime != 2160*time.Hour {
			t.Errorf("DefaultClientIDLifetime = %v, want the CRD default 2160h", statelessbackend.DefaultClientIDLifetime)
		}
	})
	t.Run("RotationInterval", func(t *testing.T) {
		for _, tt := range []struct {
			in   *metav1.Duration
			want time.Duration
		}{{nil, 30 * day}, {dur(0), 0}, {dur(48 * time.Hour), 48 * time.Hour}} {
			if got := (&oauthv1alpha1.StatelessServer{KeyRotationInterval: tt.in}).EffectiveRotationInterval(); got != tt.want {
				t.Errorf("RotationInterval(%v) = %v, want %v", tt.in, got, tt.want)
			}
		}
		if statelessbackend.DefaultKeyRotationInterval != 720*time.Hour {
			t.Errorf("DefaultKeyRotationInterval = %v, want the CRD default 720h", statelessbackend.DefaultKeyRotationInterval)
		}
	})
	t.Run("Audience", func(t *testing.T) {
		if got := (&oauthv1alpha1.StatelessServer{Issuer: issuer}).EffectiveAudience(); got != issuer {
			t.Errorf("default audience = %q", got)
		}
		if got := (&oauthv1alpha1.StatelessServer{Issuer: issuer, Audience: "https://rs.example"}).EffectiveAudience(); got != "https://rs.example" {
			t.Errorf("audience = %q", got)
		}
	})
	t.Run("SigningAlgorithm", func(t *testing.T) {
		for in, want := range map[oauthv1alpha1.SigningAlgorithm]string{"": "ES256", "ES256": "ES256", "EdDSA": "EdDSA", "RS256": "RS256"} {
			if got := (&oauthv1alpha1.StatelessServer{SigningAlgorithm: in}).EffectiveSigningAlgorithm(); got != want {
				t.Errorf("SigningAlgorithm(%q) = %q, want %q", in, got, want)
			}
		}
	})
	t.Run("EncryptionMode", func(t *testing.T) {
		for _, tt := range []struct {
			in   *oauthv1alpha1.StatelessEncryption
			want oauthv1alpha1.EncryptionMode
		}{
			{nil, oauthv1alpha1.EncryptionNone},
			{&oauthv1alpha1.StatelessEncryption{}, oauthv1alpha1.EncryptionNone},
			{&oauthv1alpha1.StatelessEncryption{Mode: oauthv1alpha1.EncryptionNone}, oauthv1alpha1.EncryptionNone},
			{&oauthv1alpha1.StatelessEncryption{Mode: oauthv1alpha1.EncryptionGenerated}, oauthv1alpha1.EncryptionGenerated},
			{&oauthv1alpha1.StatelessEncryption{Mode: oauthv1alpha1.EncryptionRecipientKey}, oauthv1alpha1.EncryptionRecipientKey},
		} {
			if got := (&oauthv1alpha1.StatelessServer{Encryption: tt.in}).EffectiveEncryptionMode(); got != tt.want {
				t.Errorf("EncryptionMode(%+v) = %q, want %q", tt.in, got, tt.want)
			}
		}
	})
}

func TestKeySecretRef(t *testing.T) {
	namespacedServer := func(keySecret string) oauthv1alpha1.ServerObject {
		return &oauthv1alpha1.AuthorizationServer{
			ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: "idp"},
			Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: issuer, KeySecretName: keySecret}},
		}
	}
	clusterServer := func(keySecret string) oauthv1alpha1.ServerObject {
		return &oauthv1alpha1.ClusterAuthorizationServer{
			ObjectMeta: metav1.ObjectMeta{Name: "global"},
			Spec:       oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: issuer, KeySecretName: keySecret}},
		}
	}
	tests := []struct {
		name   string
		server oauthv1alpha1.ServerObject
		want   types.NamespacedName
	}{
		{"namespaced, default name", namespacedServer(""), types.NamespacedName{Namespace: serverNS, Name: "idp-stateless-keys"}},
		{"namespaced, custom name", namespacedServer("my-keys"), types.NamespacedName{Namespace: serverNS, Name: "my-keys"}},
		{"cluster, default name", clusterServer(""), types.NamespacedName{Namespace: clusterNS, Name: "global-stateless-keys"}},
		{"cluster, custom name", clusterServer("shared-keys"), types.NamespacedName{Namespace: clusterNS, Name: "shared-keys"}},
		{"no stateless member", &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: serverNS, Name: "dyn"}}, types.NamespacedName{Namespace: serverNS, Name: "dyn-stateless-keys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := oauthv1alpha1.StatelessKeySecret(tt.server, clusterNS); got != tt.want {
				t.Errorf("KeySecretRef = %v, want %v", got, tt.want)
			}
		})
	}
}

// otherFirstChar changes the first character, always to a different one.
func otherFirstChar(s string) string {
	if s[0] == 'x' {
		return "y" + s[1:]
	}
	return "x" + s[1:]
}
