package registration

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// notifier wakes the registrations waiting for an object when the cache
// shows a change of it, so a registration is answered as soon as its
// OAuthClient is Ready and its Secret is in the cache, not at the next poll.
type notifier struct {
	mu      sync.Mutex
	waiters map[types.NamespacedName]map[chan struct{}]struct{}
}

// subscribe returns a channel that receives (without blocking the sender;
// one pending signal at most) whenever key changes, and a function that ends
// the subscription.
func (n *notifier) subscribe(key types.NamespacedName) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	n.mu.Lock()
	if n.waiters == nil {
		n.waiters = map[types.NamespacedName]map[chan struct{}]struct{}{}
	}
	if n.waiters[key] == nil {
		n.waiters[key] = map[chan struct{}]struct{}{}
	}
	n.waiters[key][ch] = struct{}{}
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		delete(n.waiters[key], ch)
		if len(n.waiters[key]) == 0 {
			delete(n.waiters, key)
		}
		n.mu.Unlock()
	}
}

// notify signals the waiters of key.
func (n *notifier) notify(key types.NamespacedName) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for ch := range n.waiters[key] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// handler signals the waiters of the object an event is about.
func (n *notifier) handler() toolscache.ResourceEventHandler {
	signal := func(obj any) {
		if o, ok := obj.(client.Object); ok {
			n.notify(types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()})
		}
	}
	return toolscache.ResourceEventHandlerFuncs{
		AddFunc:    signal,
		UpdateFunc: func(_, obj any) { signal(obj) },
	}
}

// WatchCache makes registrations wake up on the cache's OAuthClient and
// Secret events instead of waiting for the next poll (a registration's
// Secret has the OAuthClient's name). Call it before the cache starts; the
// informers are the ones the reconciler uses.
func (s *Store) WatchCache(ctx context.Context, c cache.Informers) error {
	for _, obj := range []client.Object{&oauthv1alpha1.OAuthClient{}, &corev1.Secret{}} {
		inf, err := c.GetInformer(ctx, obj, cache.BlockUntilSynced(false))
		if err != nil {
			return fmt.Errorf("getting the %T informer: %w", obj, err)
		}
		if _, err := inf.AddEventHandler(s.notifier.handler()); err != nil {
			return fmt.Errorf("watching %T for registrations: %w", obj, err)
		}
	}
	s.notified = true
	return nil
}
