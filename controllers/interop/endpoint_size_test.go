package interop

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// TestEndpointStatefulOversizedClientIDStoresNothing: at a stateless server
// with the default Stateful storage, a registration whose client id would
// exceed sci.MaxClientIDLength is answered 400 invalid_client_metadata (the
// Stateless mode's description) and no OAuthClient is ever created: a watch
// sees only the registration that fits, and no Warning Event is raised.
// Before, the OAuthClient was created, failed InvalidMetadata with a Warning
// Event and an error logged, and was deleted again.
func TestEndpointStatefulOversizedClientIDStoresNothing(t *testing.T) {
	e := startEndpoint(t)
	ns := newNamespace(t)
	_, issuer := createEndpointServer(t, ns)

	wc, err := client.NewWithWatch(restCfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	w, err := wc.Watch(context.Background(), &oauthv1alpha1.OAuthClientList{}, client.InNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	var uris []string
	for i := 0; i < 6; i++ {
		uris = append(uris, "https://app.example/"+strings.Repeat(strconv.Itoa(i), 1500))
	}
	bigStatus, big := e.call(t, http.MethodPost, issuer+"/register", "", map[string]any{"redirect_uris": uris, "client_name": "too big"})
	// A registration that fits, as a marker: once the watch shows it, it
	// would have shown an earlier object too.
	st, body := e.call(t, http.MethodPost, issuer+"/register", "", map[string]any{"redirect_uris": []string{"https://app.example/cb"}})
	if st != http.StatusCreated {
		t.Fatalf("registration: %d %v", st, body)
	}
	handle := strings.TrimPrefix(body["registration_client_uri"].(string), issuer+"/register/")
	timeout := time.After(30 * time.Second)
	for seen := false; !seen; {
		select {
		case ev := <-w.ResultChan():
			oc, ok := ev.Object.(*oauthv1alpha1.OAuthClient)
			if !ok {
				t.Fatalf("watch: %v %T", ev.Type, ev.Object)
			}
			if oc.Name != handle {
				t.Fatalf("watch saw %s of %s (%v): only the registration that fits may be stored", ev.Type, oc.Name, oc.Spec.ClientName)
			}
			seen = ev.Type == watch.Added || seen
		case <-timeout:
			t.Fatal("the watch never showed the registration that fits")
		}
	}
	events := &corev1.EventList{}
	if err := k8s.List(context.Background(), events, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Items {
		if ev.Type == corev1.EventTypeWarning {
			t.Errorf("Warning Event %s on %s/%s: %s", ev.Reason, ev.InvolvedObject.Kind, ev.InvolvedObject.Name, ev.Message)
		}
	}
	want := "the metadata is too large for a stateless client id of at most " + strconv.Itoa(sci.MaxClientIDLength) + " bytes"
	if bigStatus != http.StatusBadRequest || big["error"] != "invalid_client_metadata" || big["error_description"] != want {
		t.Fatalf("oversized registration: %d %v", bigStatus, big)
	}
}
