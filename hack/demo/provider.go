package main

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
)

// startingProvider is node-oidc-provider being started in the background,
// while the control plane starts.
type startingProvider struct {
	done chan struct{}
	p    *oidcprovider.Provider // valid after done
	err  error                  // valid after done
}

// startProvider starts node-oidc-provider (hack/interop, pinned) on a free
// 127.0.0.1 port over TLS, in the background. Call close in every case.
func startProvider() *startingProvider {
	s := &startingProvider{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		s.p, s.err = oidcprovider.New(oidcprovider.Options{})
	}()
	return s
}

// wait returns the running provider once it listens.
func (s *startingProvider) wait(ctx context.Context) (*oidcprovider.Provider, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-s.done:
	}
	if s.err != nil {
		return nil, fmt.Errorf("starting node-oidc-provider %s (hack/interop; `make interop-deps` installs it): %w", oidcprovider.PinnedVersion, s.err)
	}
	return s.p, nil
}

// close waits for the start to finish, then stops node.
func (s *startingProvider) close() {
	<-s.done
	if s.p != nil {
		s.p.Close()
	}
}

// providerVars are the values of the placeholders of hack/demo/samples.
func providerVars(p *oidcprovider.Provider) map[string]string {
	return map[string]string{
		"PROVIDER_ISSUER":    p.URL,
		"PROVIDER_CA_BUNDLE": base64.StdEncoding.EncodeToString(p.CAPEM),
	}
}
