package dcr

import (
	"context"
	"sync"
)

// Fake is a Registrar with func fields for tests of callers. Calling a method
// whose func field is nil panics with a message naming the method (never the
// arguments, which hold tokens). Calls are counted per method, also before a
// panic; Fake is safe for concurrent use as long as the func fields are not
// changed during calls.
type Fake struct {
	// DiscoverFunc implements Discover.
	DiscoverFunc func(ctx context.Context, issuer string) (*ServerMetadata, error)
	// RegisterFunc implements Register.
	RegisterFunc func(ctx context.Context, endpoint string, req RegisterRequest) (*Registration, error)
	// ReadFunc implements Read.
	ReadFunc func(ctx context.Context, clientURI, accessToken string) (*Registration, error)
	// UpdateFunc implements Update.
	UpdateFunc func(ctx context.Context, clientURI, accessToken string, req UpdateRequest) (*Registration, error)
	// DeleteFunc implements Delete.
	DeleteFunc func(ctx context.Context, clientURI, accessToken string) error

	mu    sync.Mutex
	calls FakeCalls
}

// FakeCalls counts the calls made to a Fake, per method.
type FakeCalls struct {
	Discover, Register, Read, Update, Delete int
}

// Calls returns a snapshot of the call counts.
func (f *Fake) Calls() FakeCalls {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *Fake) count(n *int) {
	f.mu.Lock()
	*n++
	f.mu.Unlock()
}

func fakeMissing(method string) {
	panic("dcr.Fake: " + method + " called but " + method + "Func is nil")
}

// Discover calls DiscoverFunc.
func (f *Fake) Discover(ctx context.Context, issuer string) (*ServerMetadata, error) {
	f.count(&f.calls.Discover)
	if f.DiscoverFunc == nil {
		fakeMissing("Discover")
	}
	return f.DiscoverFunc(ctx, issuer)
}

// Register calls RegisterFunc.
func (f *Fake) Register(ctx context.Context, endpoint string, req RegisterRequest) (*Registration, error) {
	f.count(&f.calls.Register)
	if f.RegisterFunc == nil {
		fakeMissing("Register")
	}
	return f.RegisterFunc(ctx, endpoint, req)
}

// Read calls ReadFunc.
func (f *Fake) Read(ctx context.Context, clientURI, accessToken string) (*Registration, error) {
	f.count(&f.calls.Read)
	if f.ReadFunc == nil {
		fakeMissing("Read")
	}
	return f.ReadFunc(ctx, clientURI, accessToken)
}

// Update calls UpdateFunc.
func (f *Fake) Update(ctx context.Context, clientURI, accessToken string, req UpdateRequest) (*Registration, error) {
	f.count(&f.calls.Update)
	if f.UpdateFunc == nil {
		fakeMissing("Update")
	}
	return f.UpdateFunc(ctx, clientURI, accessToken, req)
}

// Delete calls DeleteFunc.
func (f *Fake) Delete(ctx context.Context, clientURI, accessToken string) error {
	f.count(&f.calls.Delete)
	if f.DeleteFunc == nil {
		fakeMissing("Delete")
	}
	return f.DeleteFunc(ctx, clientURI, accessToken)
}
