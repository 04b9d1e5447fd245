// Package inprocess runs the clientreg manager inside the calling process,
// for the programs that start a local control plane (hack/demo, hack/load).
package inprocess

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/clientreg/clientreg/controllers"
)

// Manager is a manager with every clientreg controller set up.
type Manager struct {
	mgr      ctrl.Manager
	ctx      context.Context
	cancel   context.CancelFunc
	done     chan error
	finished chan struct{}
	started  bool
}

// New creates a manager for cfg with metrics and probes off and no leader
// election, and sets up the controllers as opts says; ctx bounds its life.
// It does not start it.
func New(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme, opts controllers.Options) (*Manager, error) {
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
		Cache:                  controllers.CacheOptions(),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	m := &Manager{mgr: mgr, done: make(chan error, 1), finished: make(chan struct{})}
	m.ctx, m.cancel = context.WithCancel(ctx)
	if err := controllers.Setup(m.ctx, mgr, opts); err != nil {
		m.cancel()
		return nil, fmt.Errorf("setting up the controllers: %w", err)
	}
	return m, nil
}

// Start starts the manager in the background.
func (m *Manager) Start() {
	m.started = true
	go func() {
		defer close(m.finished)
		err := m.mgr.Start(m.ctx)
		if err == nil {
			err = errors.New("manager exited")
		}
		m.done <- err
	}()
}

// Done receives the result of the started manager: why it stopped, never
// nil.
func (m *Manager) Done() <-chan error { return m.done }

// Stop stops the manager and, when it was started, waits for it to finish,
// at most wait (forever when wait is 0).
func (m *Manager) Stop(wait time.Duration) {
	m.cancel()
	if !m.started {
		return
	}
	if wait == 0 {
		<-m.finished
		return
	}
	select {
	case <-m.finished:
	case <-time.After(wait):
	}
}

// SignalContext returns a context that ends on Ctrl-C (SIGINT) or SIGTERM,
// and the function that stops listening for them.
func SignalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}
