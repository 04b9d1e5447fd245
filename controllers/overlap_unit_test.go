package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

// A rotation during the overlap of an earlier one replaces a new client and
// deletes the oldest. When that delete fails, the new credentials are kept
// all the same (they were issued; losing them would orphan a client), and
// an Event names the client left at the server.
func TestRotationDuringAnOverlapKeepsTheNewCredentialsWhenTheOldestCannotBeDeleted(t *testing.T) {
	c := testClient(func(c *oauthv1alpha1.OAuthClient) {
		c.Annotations = map[string]string{oauthv1alpha1.AnnotationRotate: "r2"}
	})
	registered := func(id string) *backend.Credentials {
		return &backend.Credentials{ClientID: id, ClientSecret: "secret-" + id, RegistrationAccessToken: "rat-" + id,
			RegistrationClientURI: "https://idp.example/reg/" + id, Issuer: "https://idp.example", IssuedAt: t0, Digest: "d1"}
	}
	h := newHarness(t, readyServer(), c)
	h.storeSecret(t, c, &storedState{current: registered("c1"), previous: registered("p0"), retireAt: t0.Add(time.Hour), rotationSeen: "r1"})
	h.be.ObserveFunc = observeStored(true, true)
	h.be.RotateFunc = func(ctx context.Context, req *backend.Request) (*backend.Credentials, error) {
		if err := req.BeforeRegister(ctx, "https://idp.example/reg"); err != nil {
			return nil, err
		}
		return registered("c2"), nil
	}
	h.be.DeleteFunc = func(_ context.Context, req *backend.Request) error {
		return errors.New("server down while deleting " + req.Stored.ClientID)
	}
	_, _ = h.reconcile(t)

	got := h.secret(t)
	if id := string(got.Data["client_id"]); id != "c2" {
		t.Fatalf("Secret holds client %q, want the new c2", id)
	}
	if id := string(got.Data[oauthv1alpha1.PreviousKeyPrefix+"client_id"]); id != "c1" {
		t.Fatalf("Secret keeps previous client %q for the overlap, want c1", id)
	}
	obj := h.get(t)
	if obj.UnresolvedRegistration() != nil {
		t.Fatalf("the stored registration is not recorded as answered: %+v", obj.UnresolvedRegistration())
	}
	found := false
	for len(h.rec.Events) > 0 {
		if e := <-h.rec.Events; strings.Contains(e, "OrphanedRegistration") && strings.Contains(e, "p0") {
			found = true
		}
	}
	if !found {
		t.Fatal("no Event names the client left at the server")
	}
}
