package dcr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestFakeNilFuncPanicsNamingTheMethod(t *testing.T) {
	ctx := context.Background()
	calls := map[string]func(f *Fake){
		"Discover": func(f *Fake) { _, _ = f.Discover(ctx, "https://as.example") },
		"Register": func(f *Fake) {
			_, _ = f.Register(ctx, "https://as.example/reg", RegisterRequest{InitialAccessToken: testIAT})
		},
		"Read": func(f *Fake) { _, _ = f.Read(ctx, "https://as.example/reg/c1", testRAT) },
		"Update": func(f *Fake) {
			_, _ = f.Update(ctx, "https://as.example/reg/c1", testRAT, UpdateRequest{ClientSecret: testSecret})
		},
		"Delete": func(f *Fake) { _ = f.Delete(ctx, "https://as.example/reg/c1", testRAT) },
	}
	for method, call := range calls {
		t.Run(method, func(t *testing.T) {
			f := &Fake{}
			defer func() {
				r := recover()
				msg := fmt.Sprint(r)
				if r == nil || !strings.Contains(msg, method+"Func is nil") {
					t.Fatalf("panic = %v, want one naming %sFunc", r, method)
				}
				for _, s := range allSecrets {
					if strings.Contains(msg, s) {
						t.Fatalf("panic message contains a credential: %s", msg)
					}
				}
				if got := f.Calls(); got != (countOnly(method)) {
					t.Errorf("Calls() = %+v, want %+v", got, countOnly(method))
				}
			}()
			call(f)
		})
	}
}

func countOnly(method string) FakeCalls {
	var c FakeCalls
	switch method {
	case "Discover":
		c.Discover = 1
	case "Register":
		c.Register = 1
	case "Read":
		c.Read = 1
	case "Update":
		c.Update = 1
	case "Delete":
		c.Delete = 1
	}
	return c
}

func TestFakeCallsFuncsAndCounts(t *testing.T) {
	errGone := &Error{Op: opDelete, Kind: KindUnauthorized, StatusCode: 401}
	f := &Fake{
		DiscoverFunc: func(_ context.Context, issuer string) (*ServerMetadata, error) {
			return &ServerMetadata{Issuer: issuer}, nil
		},
		RegisterFunc: func(_ context.Context, _ string, req RegisterRequest) (*Registration, error) {
			return &Registration{ClientID: "c1", RegistrationAccessToken: req.InitialAccessToken}, nil
		},
		ReadFunc: func(_ context.Context, uri, _ string) (*Registration, error) {
			return &Registration{ClientID: "c1", RegistrationClientURI: uri}, nil
		},
		UpdateFunc: func(_ context.Context, _, _ string, req UpdateRequest) (*Registration, error) {
			return &Registration{ClientID: req.ClientID}, nil
		},
		DeleteFunc: func(context.Context, string, string) error { return errGone },
	}
	var r Registrar = f
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if md, err := r.Discover(ctx, "https://as.example"); err != nil || md.Issuer != "https://as.example" {
				t.Errorf("Discover = %v, %v", md, err)
			}
			if reg, err := r.Register(ctx, "e", RegisterRequest{InitialAccessToken: "t"}); err != nil || reg.RegistrationAccessToken != "t" {
				t.Errorf("Register = %v, %v", reg, err)
			}
			if reg, err := r.Read(ctx, "u", "t"); err != nil || reg.RegistrationClientURI != "u" {
				t.Errorf("Read = %v, %v", reg, err)
			}
			if reg, err := r.Update(ctx, "u", "t", UpdateRequest{ClientID: "c9"}); err != nil || reg.ClientID != "c9" {
				t.Errorf("Update = %v, %v", reg, err)
			}
			if err := r.Delete(ctx, "u", "t"); !errors.Is(err, errGone) || !IsKind(err, KindUnauthorized) {
				t.Errorf("Delete = %v", err)
			}
		})
	}
	wg.Wait()
	want := FakeCalls{Discover: 10, Register: 10, Read: 10, Update: 10, Delete: 10}
	if got := f.Calls(); got != want {
		t.Errorf("Calls() = %+v, want %+v", got, want)
	}
}
