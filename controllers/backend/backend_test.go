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

func TestAsPermanent(t *testing.T) {
	perm := backend.Permanent(oauthv1alpha1.ReasonInvalidMetadata, "metadata %s: %w", "bad", errRoot)
	tests := []struct {
		name   string
		err    error
		wantOK bool
	}{
		{"nil", nil, false},
		{"plain error", errRoot, false},
		{"direct", perm, true},
		{"wrapped once", fmt.Errorf("minting: %w", perm), true},
		{"wrapped twice", fmt.Errorf("reconcile: %w", fmt.Errorf("minting: %w", perm)), true},
		{"joined", errors.Join(errRoot, perm), true},
		{"formatted with %v loses the type", fmt.Errorf("minting: %v", perm), false},
		{"pending is not permanent", &backend.PendingError{Reason: "x", Err: errRoot}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := backend.AsPermanent(tt.err)
			if ok != tt.wantOK {
				t.Fatalf("AsPermanent ok = %v, want %v", ok, tt.wantOK)
			}
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
			if !errors.Is(tt.err, errRoot) {
				t.Error("the cause is lost through the wrapping")
			}
		})
	}
	if got := perm.Error(); got != "metadata bad: root cause" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(errors.Unwrap(perm), errRoot) {
		t.Error("Unwrap does not reach the formatted error's cause")
	}
}

func TestAsPending(t *testing.T) {
	pend := &backend.PendingError{Reason: oauthv1alpha1.ReasonServerNotReady, Err: fmt.Errorf("waiting: %w", errRoot), RetryAfter: 7 * time.Second}
	tests := []struct {
		name   string
		err    error
		wantOK bool
	}{
		{"nil", nil, false},
		{"plain error", errRoot, false},
		{"direct", pend, true},
		{"wrapped once", fmt.Errorf("observe: %w", pend), true},
		{"wrapped twice", fmt.Errorf("reconcile: %w", fmt.Errorf("observe: %w", pend)), true},
		{"formatted with %v loses the type", fmt.Errorf("observe: %v", pend), false},
		{"permanent is not pending", backend.Permanent("x", "y"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, ok := backend.AsPending(tt.err)
			if ok != tt.wantOK {
				t.Fatalf("AsPending ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				return
			}
			if p != pend || p.Reason != oauthv1alpha1.ReasonServerNotReady || p.RetryAfter != 7*time.Second {
				t.Errorf("AsPending returned %+v, want the original", p)
			}
			if !errors.Is(tt.err, errRoot) {
				t.Error("the cause is lost through the wrapping")
			}
		})
	}
	if got := pend.Error(); got != "waiting: root cause" {
		t.Errorf("Error() = %q", got)
	}
}
