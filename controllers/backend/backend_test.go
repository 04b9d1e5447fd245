package backend_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

var (
	statelessSpec = oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{Issuer: "https://idp.example"}}
	dynamicSpec   = oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: &oauthv1alpha1.DynamicRegistration{IssuerURL: "https://as.example"}}
)

func namespaced(spec oauthv1alpha1.AuthorizationServerSpec) oauthv1alpha1.ServerObject {
	return &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "idp"}, Spec: spec}
}

func clusterScoped(spec oauthv1alpha1.AuthorizationServerSpec) oauthv1alpha1.ServerObject {
	return &oauthv1alpha1.ClusterAuthorizationServer{ObjectMeta: metav1.ObjectMeta{Name: "global-idp"}, Spec: spec}
}

// registry registers the stateless and dynamic backends that are not nil.
func registry(stateless, dynamic backend.Backend) *backend.Registry {
	r := &backend.Registry{}
	if stateless != nil {
		r.MustRegister(oauthv1alpha1.MemberStateless, stateless)
	}
	if dynamic != nil {
		r.MustRegister(oauthv1alpha1.MemberDynamicRegistration, dynamic)
	}
	return r
}

func TestRegistryFor(t *testing.T) {
	sl, dyn := &backend.Fake{}, &backend.Fake{}
	tests := []struct {
		name       string
		registry   *backend.Registry
		server     oauthv1alpha1.ServerObject
		want       backend.Backend
		wantReason string
		wantMsg    string
	}{
		{name: "stateless server", registry: registry(sl, nil), server: namespaced(statelessSpec), want: sl},
		{name: "stateless cluster server", registry: registry(sl, dyn), server: clusterScoped(statelessSpec), want: sl},
		{name: "dynamic server with backend", registry: registry(sl, dyn), server: namespaced(dynamicSpec), want: dyn},
		{
			name: "dynamic server without backend", registry: registry(sl, nil), server: namespaced(dynamicSpec),
			wantReason: oauthv1alpha1.ReasonBackendUnsupported, wantMsg: "dynamic registration is not available",
		},
		{
			name: "no backend member", registry: registry(sl, dyn), server: namespaced(oauthv1alpha1.AuthorizationServerSpec{}),
			wantReason: oauthv1alpha1.ReasonInvalidSpec, wantMsg: "server idp sets no backend",
		},
		{
			name: "no backend member on a cluster server", registry: registry(sl, nil), server: clusterScoped(oauthv1alpha1.AuthorizationServerSpec{}),
			wantReason: oauthv1alpha1.ReasonInvalidSpec, wantMsg: "server global-idp sets no backend",
		},
		{
			name: "stateless server with an empty registry", registry: registry(nil, nil), server: namespaced(statelessSpec),
			wantReason: oauthv1alpha1.ReasonBackendUnsupported, wantMsg: "not available in this build",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.registry.For(tt.server)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("For: %v", err)
				}
				if got != tt.want {
					t.Fatalf("For returned %v, want %v", got, tt.want)
				}
				return
			}
			if got != nil {
				t.Errorf("For returned backend %v with an error", got)
			}
			p, ok := backend.AsPermanent(err)
			if !ok {
				t.Fatalf("error %v (%T) is not a PermanentError", err, err)
			}
			if p.Reason != tt.wantReason {
				t.Errorf("reason = %q, want %q", p.Reason, tt.wantReason)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("message %q does not contain %q", err.Error(), tt.wantMsg)
			}
			if _, pending := backend.AsPending(err); pending {
				t.Error("a permanent error also reads as pending")
			}
		})
	}
}

var errRoot = errors.New("root cause")

// asCase is an error, and whether an As function finds its type in it.
type asCase struct {
	name   string
	err    error
	wantOK bool
}

// wrappings are the cases every As function meets: nil, errRoot alone, and
// e as is, wrapped once or twice (as a caller doing verb adds context) and
// formatted with %v.
func wrappings(e error, verb string) []asCase {
	return []asCase{
		{"nil", nil, false},
		{"plain error", errRoot, false},
		{"direct", e, true},
		{"wrapped once", fmt.Errorf("%s: %w", verb, e), true},
		{"wrapped twice", fmt.Errorf("reconcile: %w", fmt.Errorf("%s: %w", verb, e)), true},
		{"formatted with %v loses the type", fmt.Errorf("%s: %v", verb, e), false},
	}
}

// testAs runs the As function fn on every case's error, then check on what
// it returned; where it found the type, the cause must still be errRoot.
func testAs[E any](t *testing.T, fn string, as func(error) (E, bool), cases []asCase, check func(t *testing.T, got E, ok bool)) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := as(tt.err)
			if ok != tt.wantOK {
				t.Fatalf("%s ok = %v, want %v", fn, ok, tt.wantOK)
			}
			check(t, got, ok)
			if ok && !errors.Is(tt.err, errRoot) {
				t.Error("the cause is lost through the wrapping")
			}
		})
	}
}

func TestAsPermanent(t *testing.T) {
	perm := backend.Permanent(oauthv1alpha1.ReasonInvalidMetadata, "metadata %s: %w", "bad", errRoot)
	cases := append(wrappings(perm, "minting"),
		asCase{"joined", errors.Join(errRoot, perm), true},
		asCase{"pending is not permanent", &backend.PendingError{Reason: "x", Err: errRoot}, false},
	)
	testAs(t, "AsPermanent", backend.AsPermanent, cases, func(t *testing.T, p *backend.PermanentError, ok bool) {
		if !ok {
			if p != nil {
				t.Errorf("AsPermanent returned %v with ok=false", p)
			}
			return
		}
		if p != perm {
			t.Errorf("AsPermanent returned %p, want the original %p", p, perm)
		}
		if p.Reason != oauthv1alpha1.ReasonInvalidMetadata {
			t.Errorf("reason = %q", p.Reason)
		}
	})
	if got := perm.Error(); got != "metadata bad: root cause" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(errors.Unwrap(perm), errRoot) {
		t.Error("Unwrap does not reach the formatted error's cause")
	}
}

func TestAsPending(t *testing.T) {
	pend := &backend.PendingError{Reason: oauthv1alpha1.ReasonServerNotReady, Err: fmt.Errorf("waiting: %w", errRoot), RetryAfter: 7 * time.Second}
	cases := append(wrappings(pend, "observe"),
		asCase{"permanent is not pending", backend.Permanent("x", "y"), false},
	)
	testAs(t, "AsPending", backend.AsPending, cases, func(t *testing.T, p *backend.PendingError, ok bool) {
		if ok && (p != pend || p.Reason != oauthv1alpha1.ReasonServerNotReady || p.RetryAfter != 7*time.Second) {
			t.Errorf("AsPending returned %+v, want the original", p)
		}
	})
	if got := pend.Error(); got != "waiting: root cause" {
		t.Errorf("Error() = %q", got)
	}
}
