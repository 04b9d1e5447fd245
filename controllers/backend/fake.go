package backend

import "context"

// Fake is a Backend whose behaviour is set per test through function fields;
// a nil field panics, so a test states every call it expects. Calls are counted.
type Fake struct {
	DigestFunc  func(*Request) (string, error)
	ObserveFunc func(context.Context, *Request) (Observation, error)
	CreateFunc  func(context.Context, *Request) (*Credentials, error)
	UpdateFunc  func(context.Context, *Request) (*Credentials, error)
	RotateFunc  func(context.Context, *Request) (*Credentials, error)
	DeleteFunc  func(context.Context, *Request) error

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
