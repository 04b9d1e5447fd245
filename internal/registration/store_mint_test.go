package registration

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// mintFixture is a Store over a fake client holding a stateless
// AuthorizationServer with Stateful endpoint storage and its key Secret; it
// counts every write.
type mintFixture struct {
	store  *Store
	srv    *endpoint.Server
	writes atomic.Int32
}

func newMintFixture(t *testing.T) *mintFixture {
	t.Helper()
	now := time.Now()
	as := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "idp", UID: "uid-idp", Generation: 1},
		Spec: oauthv1alpha1.AuthorizationServerSpec{
			Stateless:            &oauthv1alpha1.StatelessServer{Issuer: "https://idp.example"},
			RegistrationEndpoint: &oauthv1alpha1.RegistrationEndpoint{Open: true, Storage: oauthv1alpha1.StorageStateful},
		},
	}
	keys := &sci.KeySet{}
	if _, err := keys.Ensure("sig", as.Spec.Stateless.EffectiveSigningAlgorithm(), now, time.Hour); err != nil {
		t.Fatal(err)
	}
	data, err := keys.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ref := oauthv1alpha1.StatelessKeySecret(as, "clientreg-system")
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name, UID: "uid-keys"},
		Data: map[string][]byte{statelessbackend.KeySetDataKey: data}}
	f := &mintFixture{}
	count := func() { f.writes.Add(1) }
	c := fake.NewClientBuilder().WithScheme(testutil.Scheme()).WithObjects(as, sec).
		WithStatusSubresource(&oauthv1alpha1.OAuthClient{}).
		WithInterceptorFuncs(testutil.CountWrites(count)).Build()
	stateless := &statelessbackend.Backend{Reader: c, ClusterResourceNamespace: "clientreg-system"}
	res := &Resolver{Client: c, APIReader: c, BaseURL: "https://reg.example", ClusterResourceNamespace: "clientreg-system",
		Backends: new(backend.Registry).MustRegister(oauthv1alpha1.MemberStateless, stateless)}
	f.store = &Store{Client: c, APIReader: c, Resolver: res, WaitTimeout: 200 * time.Millisecond, PollInterval: 10 * time.Millisecond}
	if f.srv, err = res.Lookup(context.Background(), ServerPath(as)); err != nil {
		t.Fatal(err)
	}
	if f.srv.Crypto == nil || f.srv.Crypto.Minter == nil {
		// The endpoint mints with the reconciler's minter, built once.
		t.Fatal("the resolved server does not carry the stateless backend's minter")
	}
	if f.srv.Keys == nil || f.srv.Storage != endpoint.StorageStateful {
		t.Fatalf("fixture server: %+v", f.srv)
	}
	return f
}

// largeMetadata is valid metadata whose signed client id would exceed
// sci.MaxClientIDLength.
func largeMetadata() *metadata.Metadata {
	md := &metadata.Metadata{ClientName: "big"}
	for i := 0; i < 6; i++ {
		md.RedirectURIs = append(md.RedirectURIs, "https://app.example/"+strings.Repeat(string(rune('a'+i)), 1500))
	}
	return md
}

func wantBadRequest(t *testing.T, err error, desc string) {
	t.Helper()
	e := endpoint.AsError(err)
	if e == nil || e.Status != http.StatusBadRequest || e.Code != string(metadata.CodeInvalidClientMetadata) || e.Description != desc {
		t.Fatalf("error = %#v (%v), want 400 invalid_client_metadata %q", e, err, desc)
	}
}

// TestCreateRefusesOversizedClientIDBeforeStoring: at a stateless server
// with Stateful storage, a registration whose client id would exceed
// sci.MaxClientIDLength is refused with the Stateless mode's answer before
// any OAuthClient is written (it used to be created, fail InvalidMetadata
// with a Warning Event, and be deleted again). A registration that fits is
// stored as before.
func TestCreateRefusesOversizedClientIDBeforeStoring(t *testing.T) {
	f := newMintFixture(t)
	ctx := context.Background()
	_, err := f.store.Create(ctx, f.srv, largeMetadata(), "", [32]byte{1})
	wantBadRequest(t, err, endpoint.ClientIDTooLarge().Description)
	if n := f.writes.Load(); n != 0 {
		t.Fatalf("%d writes for a refused registration", n)
	}
	list := &oauthv1alpha1.OAuthClientList{}
	if err := f.store.Client.List(ctx, list); err != nil || len(list.Items) != 0 {
		t.Fatalf("OAuthClients after a refused registration: %d (%v)", len(list.Items), err)
	}

	// A single private_key_jwt key that cannot be a cnf claim (the reconciler
	// would fail InvalidMetadata on it too) is refused the same way.
	md := &metadata.Metadata{RedirectURIs: []string{"https://app.example/cb"}, TokenEndpointAuthMethod: "private_key_jwt",
		JWKS: []byte(`{"keys":[{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}]}`)}
	_, err = f.store.Create(ctx, f.srv, md, "", [32]byte{1})
	wantBadRequest(t, err, endpoint.UnusableClientKeys().Description)
	if n := f.writes.Load(); n != 0 {
		t.Fatalf("%d writes for a refused registration", n)
	}

	// Metadata that fits is stored (no reconciler runs here, so the wait
	// ends unavailable and the object is deleted again).
	_, err = f.store.Create(ctx, f.srv, &metadata.Metadata{RedirectURIs: []string{"https://app.example/cb"}}, "", [32]byte{1})
	if !errors.Is(err, endpoint.ErrUnavailable) {
		t.Fatalf("small registration: %v, want the wait to time out", err)
	}
	if n := f.writes.Load(); n != 2 {
		t.Fatalf("%d writes for a registration that fits, want create and delete", n)
	}
}

// createRegistered creates apps/name as the endpoint registers a client at
// the AuthorizationServer idp (labels, token hash), with clientName and one
// redirect URI.
func (f *mintFixture) createRegistered(t *testing.T, name, clientName string) *oauthv1alpha1.OAuthClient {
	t.Helper()
	oc := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name, Labels: map[string]string{
			oauthv1alpha1.LabelRegisteredVia: oauthv1alpha1.RegisteredViaEndpoint, oauthv1alpha1.LabelServerKind: string(oauthv1alpha1.KindAuthorizationServer), oauthv1alpha1.LabelServerName: "idp"},
			Annotations: map[string]string{oauthv1alpha1.AnnotationRATHash: strings.Repeat("00", 32)}},
		Spec: oauthv1alpha1.OAuthClientSpec{ServerRef: oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindAuthorizationServer, Name: "idp"},
			SecretName: name, ClientName: clientName, RedirectURIs: []oauthv1alpha1.RedirectURI{"https://app.example/cb"}},
	}
	if err := f.store.Client.Create(context.Background(), oc); err != nil {
		t.Fatal(err)
	}
	return oc
}

// TestUpdateRefusesOversizedClientIDBeforeStoring: an RFC 7592 update that
// would make the client id too large leaves the stored OAuthClient alone.
func TestUpdateRefusesOversizedClientIDBeforeStoring(t *testing.T) {
	f := newMintFixture(t)
	ctx := context.Background()
	oc := f.createRegistered(t, "reg-existing", "")
	f.writes.Store(0)
	_, err := f.store.Update(ctx, f.srv, oc.Name, largeMetadata(), nil)
	wantBadRequest(t, err, endpoint.ClientIDTooLarge().Description)
	if n := f.writes.Load(); n != 0 {
		t.Fatalf("%d writes for a refused update", n)
	}
	got := &oauthv1alpha1.OAuthClient{}
	if err := f.store.Client.Get(ctx, client.ObjectKeyFromObject(oc), got); err != nil || len(got.Spec.RedirectURIs) != 1 {
		t.Fatalf("stored client changed: %v %v", got.Spec.RedirectURIs, err)
	}
}

// An RFC 7592 update (or a client_update of the old drafts, which goes
// through the same Store.Update) that would change a minted stateless
// registration is refused with 403 and writes nothing: the id carries the
// metadata, and a new client_id from an update is what RFC 7592 §2.2
// forbids. Before, the update asked for a rotation and answered with a new id.
func TestUpdateOfMintedStatelessRegistrationIsForbidden(t *testing.T) {
	f := newMintFixture(t)
	ctx := context.Background()
	oc := f.createRegistered(t, "reg-minted", "web")
	oc.Status.ClientID = "eyJ.minted.id"
	if err := f.store.Client.Status().Update(ctx, oc); err != nil {
		t.Fatal(err)
	}
	f.writes.Store(0)
	changed := &metadata.Metadata{ClientName: "web v2", RedirectURIs: []string{"https://app.example/cb"}}
	_, err := f.store.Update(ctx, f.srv, oc.Name, changed, nil)
	if e := endpoint.AsError(err); e == nil || e.Status != http.StatusForbidden {
		t.Fatalf("Update = %v, want 403", err)
	}
	// Also when the change would be too large to mint: the update is refused
	// for what it is, not for its size.
	big := largeMetadata()
	_, err = f.store.Update(ctx, f.srv, oc.Name, big, nil)
	if e := endpoint.AsError(err); e == nil || e.Status != http.StatusForbidden {
		t.Fatalf("Update (too large) = %v, want 403", err)
	}
	if n := f.writes.Load(); n != 0 {
		t.Fatalf("%d writes for a refused update", n)
	}
	got := &oauthv1alpha1.OAuthClient{}
	if err := f.store.Client.Get(ctx, client.ObjectKeyFromObject(oc), got); err != nil || got.Spec.ClientName != "web" ||
		got.Annotations[oauthv1alpha1.AnnotationRotate] != "" {
		t.Fatalf("stored client changed: %q %v %v", got.Spec.ClientName, got.Annotations, err)
	}
}
