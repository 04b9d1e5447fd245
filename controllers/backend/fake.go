package backend

import (
	"context"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// Fake is a Backend whose behaviour is set per test through function fields.
// For the client half a nil field panics, so a test states every call it
// expects; the server half does nothing unless set (a server is Ready, has
// no Secrets and validates). Calls are counted.
type Fake struct {
	DigestFunc  func(*Request) (string, error)
	ObserveFunc func(context.Context, *Request) (Observation, error)
	CreateFunc  func(context.Context, *Request) (*Credentials, error)
	UpdateFunc  func(context.Context, *Request) (*Credentials, error)
	RotateFunc  func(context.Context, *Request) (*Credentials, error)
	DeleteFunc  func(context.Context, *Request) error

	KeepsFunc           func(*Credentials) bool
	ReconcileServerFunc func(context.Context, oauthv1alpha1.ServerObject) (ServerResult, error)
	ValidateServerFunc  func(oauthv1alpha1.ServerObject, *field.Path) (field.ErrorList, []string)
	ServerSecretsFunc   func(oauthv1alpha1.ServerObject, string) []ServerSecret

	// Calls counts calls by method name.
	Calls map[string]int
}

var _ Backend = (*Fake)(nil)

func (f *Fake) count(name string) {
	if f.Calls == nil {
		f.Calls = map[string]int{}
	}
	f.Calls[name]++
}

// Digest calls DigestFunc.
func (f *Fake) Digest(req *Request) (string, error) { f.count("Digest"); return f.DigestFunc(req) }

// Observe calls ObserveFunc.
func (f *Fake) Observe(ctx context.Context, req *Request) (Observation, error) {
	f.count("Observe")
	return f.ObserveFunc(ctx, req)
}

// Create calls CreateFunc.
func (f *Fake) Create(ctx context.Context, req *Request) (*Credentials, error) {
	f.count("Create")
	return f.CreateFunc(ctx, req)
}

// Update calls UpdateFunc.
func (f *Fake) Update(ctx context.Context, req *Request) (*Credentials, error) {
	f.count("Update")
	return f.UpdateFunc(ctx, req)
}

// Rotate calls RotateFunc.
func (f *Fake) Rotate(ctx context.Context, req *Request) (*Credentials, error) {
	f.count("Rotate")
	return f.RotateFunc(ctx, req)
}

// Delete calls DeleteFunc.
func (f *Fake) Delete(ctx context.Context, req *Request) error {
	f.count("Delete")
	return f.DeleteFunc(ctx, req)
}

// Keeps calls KeepsFunc; false when it is nil.
func (f *Fake) Keeps(stored *Credentials) bool {
	f.count("Keeps")
	return f.KeepsFunc != nil && f.KeepsFunc(stored)
}

// CheckIssue accepts everything.
func (f *Fake) CheckIssue(context.Context, oauthv1alpha1.ServerObject, *metadata.Metadata) error {
	f.count("CheckIssue")
	return nil
}

// ReconcileServer calls ReconcileServerFunc; Ready when it is nil.
func (f *Fake) ReconcileServer(ctx context.Context, server oauthv1alpha1.ServerObject) (ServerResult, error) {
	f.count("ReconcileServer")
	if f.ReconcileServerFunc == nil {
		return ServerResult{Ready: "fake backend"}, nil
	}
	return f.ReconcileServerFunc(ctx, server)
}

// ForgetServer counts the call.
func (f *Fake) ForgetServer(types.UID) { f.count("ForgetServer") }

// DefaultServer counts the call.
func (f *Fake) DefaultServer(oauthv1alpha1.ServerObject) { f.count("DefaultServer") }

// ValidateServer calls ValidateServerFunc; valid when it is nil.
func (f *Fake) ValidateServer(server oauthv1alpha1.ServerObject, path *field.Path) (field.ErrorList, []string) {
	f.count("ValidateServer")
	if f.ValidateServerFunc == nil {
		return nil, nil
	}
	return f.ValidateServerFunc(server, path)
}

// ServerUpdateWarnings counts the call.
func (f *Fake) ServerUpdateWarnings(_, _ oauthv1alpha1.ServerObject) []string {
	f.count("ServerUpdateWarnings")
	return nil
}

// ServerSecrets calls ServerSecretsFunc; none when it is nil.
func (f *Fake) ServerSecrets(server oauthv1alpha1.ServerObject, clusterNS string) []ServerSecret {
	f.count("ServerSecrets")
	if f.ServerSecretsFunc == nil {
		return nil
	}
	return f.ServerSecretsFunc(server, clusterNS)
}

// ConfigureEndpoint counts the call.
func (f *Fake) ConfigureEndpoint(context.Context, oauthv1alpha1.ServerObject, *endpoint.Server) error {
	f.count("ConfigureEndpoint")
	return nil
}
