package webhook

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	uzap "go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
)

// The races every fresh two-replica install has (a Conflict writing the
// certificate Secret or a webhook configuration, the chart's empty Secret
// read before a replica filled it) reach the log at debug level without a
// stack trace; other errors of the rotator, and the same errors elsewhere,
// stay errors.
func TestQuietCertRaces(t *testing.T) {
	conflict := apierrors.NewConflict(schema.GroupResource{Resource: "secrets"}, "clientreg-webhook-tls", errors.New("the object has been modified"))
	notFilled := fmt.Errorf("Cert secret is not well-formed, missing ca.crt")
	other := errors.New("x509: certificate has expired")
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, "clientreg-webhook-tls", errors.New("no"))
	for _, tc := range []struct {
		name      string
		log       func(logr.Logger)
		wantError bool
		wantDebug bool
	}{
		{"rotator conflict", func(l logr.Logger) { l.WithName("cert-rotation").Error(conflict, "could not refresh cert on startup") }, false, true},
		{"rotator Secret not filled yet", func(l logr.Logger) {
			l.WithName("cert-rotation").Error(notFilled, "secret is not well-formed, cannot update webhook configurations")
		}, false, true},
		{"rotator reconcile conflict", func(l logr.Logger) {
			l.WithValues("controller", "cert-rotator", "reconcileID", "x").Error(conflict, "Reconciler error")
		}, false, true},
		{"other rotator error", func(l logr.Logger) { l.WithName("cert-rotation").Error(other, "error rotating certs") }, true, false},
		{"rotator refused", func(l logr.Logger) { l.WithName("cert-rotation").Error(forbidden, "error rotating certs") }, true, false},
		{"conflict elsewhere", func(l logr.Logger) {
			l.WithValues("controller", "oauthclient").Error(conflict, "Reconciler error")
		}, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := QuietCertRaces(zap.New(zap.WriteTo(&buf), zap.UseDevMode(false), zap.Level(zapcore.DebugLevel)))
			tc.log(l)
			out := buf.String()
			isError := strings.Contains(out, `"level":"error"`)
			isDebug := strings.Contains(out, `"level":"debug"`) && strings.Contains(out, "harmless race")
			if isError != tc.wantError || isDebug != tc.wantDebug {
				t.Fatalf("logged %q: error=%v debug=%v, want error=%v debug=%v", out, isError, isDebug, tc.wantError, tc.wantDebug)
			}
			if tc.wantDebug && (strings.Contains(out, "stacktrace") || !strings.Contains(out, "error")) {
				t.Fatalf("the debug line has a stack trace or lacks the error: %s", out)
			}
		})
	}
}

// logVia logs through a helper frame that asks logr to skip it.
func logVia(l logr.Logger) { l.WithCallDepth(1).Info("via helper") }

// The wrapper keeps the caller attribution of the logger it wraps, also for
// WithCallDepth (review finding: it skipped one frame too many).
func TestQuietCertRacesKeepsCaller(t *testing.T) {
	var buf bytes.Buffer
	l := QuietCertRaces(zap.New(zap.WriteTo(&buf), zap.RawZapOpts(uzap.AddCaller())))
	l.Info("direct")
	logVia(l)
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if !strings.Contains(line, "quietraces_test.go") {
			t.Errorf("caller is not this test file: %s", line)
		}
	}
}
