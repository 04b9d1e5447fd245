// Package managertest runs the operator's manager inside a test, with every
// controller set up as the manager binary sets them up. It is apart from
// package testutil because it imports package controllers, whose packages'
// own tests import testutil. Test support only.
package managertest

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/internal/testutil"
)

// Options are the options of a test's manager: scheme, the metrics server
// on metricsAddr ("0": none), no probes, the operator's cache options, and
// controller names that may repeat (tests start several managers in one
// process).
func Options(scheme *runtime.Scheme, metricsAddr string) ctrl.Options {
	return ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	}
}

// Start starts a manager for cfg with mopts and every controller
// (controllers.Setup with opts) until t ends, or until the returned stop,
// which waits up to a minute for it to finish and fails t when it takes
// longer. A manager that fails fails t.
func Start(t testing.TB, cfg *rest.Config, mopts ctrl.Options, opts controllers.Options) (stop func()) {
	t.Helper()
	mgr, err := ctrl.NewManager(cfg, mopts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := controllers.Setup(ctx, mgr, opts); err != nil {
		cancel()
		t.Fatal(err)
	}
	stopped := testutil.RunManager(t, ctx, cancel, mgr)
	return func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(time.Minute):
			t.Error("manager did not stop within a minute")
		}
	}
}
