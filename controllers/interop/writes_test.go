package interop

import (
	"fmt"
	"testing"
	"time"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

// TestDynamicRegistrationWrites counts what registering clients at
// node-oidc-provider costs the API server: at most three writes per client
// (the in-flight mark with the finalizer, the Secret, the status) and at
// most one Event.
func TestDynamicRegistrationWrites(t *testing.T) {
	const n = 20
	p := oidcprovider.Start(t, oidcprovider.Options{})
	m := startManager(t, realClock)
	ns := newNamespace(t)
	srv := dynamicServer(ns, "idp", p)
	create(t, srv)
	waitServerReady(t, srv)
	time.Sleep(time.Second) // the server's own writes settle
	writes, events := m.apiWrites.Load(), m.eventWrites.Load()
	for i := 0; i < n; i++ {
		create(t, serviceClient(ns, fmt.Sprintf("c%d", i), "idp"))
	}
	for i := 0; i < n; i++ {
		waitClient(t, ns, fmt.Sprintf("c%d", i), 60*time.Second, ready)
	}
	time.Sleep(2 * time.Second) // Events are sent asynchronously
	events = m.eventWrites.Load() - events
	writes = m.apiWrites.Load() - writes - events
	t.Logf("%d clients: %d API writes, %d Event writes", n, writes, events)
	if writes > 3*n {
		t.Errorf("%d API writes for %d registrations: more than 3 each", writes, n)
	}
	if events > n {
		t.Errorf("%d Event writes for %d registrations: more than 1 each", events, n)
	}
	if got := p.Stats(t).Register; got != n {
		t.Errorf("%d registrations at the provider for %d clients", got, n)
	}
	for i := 0; i < n; i++ {
		c := waitClient(t, ns, fmt.Sprintf("c%d", i), time.Second, ready)
		if mark := c.RegistrationAttempt(); mark == nil || mark.ID != c.Status.ResolvedRegistrationAttempt || c.UnresolvedRegistration() != nil {
			t.Fatalf("%s: mark %+v, resolved %q", c.Name, mark, c.Status.ResolvedRegistrationAttempt)
		}
		if len(c.Finalizers) != 1 || c.Finalizers[0] != oauthv1alpha1.FinalizerOAuthClient {
			t.Fatalf("%s: finalizers %v", c.Name, c.Finalizers)
		}
	}
}
