package registration

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// A failed read of an unchanged Secret is forgotten once a read works again:
// before, the read error stuck (Refresh and LastError kept returning it, and
// GetCertificate blamed it) until the Secret's resourceVersion changed. A
// broken version still raises one Event only, across the failed read.
func TestTLSSecretRecoversFromFailedRead(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var failGet atomic.Bool
	c := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if failGet.Load() {
				return errors.New("connection refused")
			}
			return c.Get(ctx, key, obj, opts...)
		},
	}).Build()
	rec := events.NewFakeRecorder(10)
	key := types.NamespacedName{Namespace: "ns", Name: "tls"}
	s := &TLSSecret{Reader: c, Key: key, Recorder: rec, Clock: clocktesting.NewFakePassiveClock(now), Log: logr.Discard()}
	ctx := context.Background()

	good, goodKey := selfSigned(t, now.Add(-time.Hour), now.Add(time.Hour))
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: good, corev1.TLSPrivateKeyKey: goodKey}}
	if err := c.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatalf("good Secret: %v", err)
	}

	failGet.Store(true)
	if err := s.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("failed read: %v", err)
	}
	failGet.Store(false)
	if err := s.Refresh(ctx); err != nil {
		t.Fatalf("the unchanged good Secret read again: %v", err)
	}
	if err := s.LastError(); err != nil {
		t.Fatalf("LastError after a good read: %v", err)
	}

	// A broken version: one Event, and its own error (not a read error)
	// once reads work again.
	sec.Data = map[string][]byte{corev1.TLSCertKey: good, corev1.TLSPrivateKeyKey: []byte("garbage")}
	if err := c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err == nil {
		t.Fatal("a broken Secret is not reported")
	}
	failGet.Store(true)
	_ = s.Refresh(ctx)
	failGet.Store(false)
	if err := s.Refresh(ctx); err == nil || strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "loading the certificate") {
		t.Fatalf("the broken version read again: %v", err)
	}
	if n := len(rec.Events); n != 1 {
		t.Fatalf("%d Events for one broken version, want 1", n)
	}
	if got, err := s.GetCertificate(nil); err != nil || got.Leaf.NotAfter != now.Add(time.Hour) {
		t.Fatalf("the last good certificate is not served: %v, %v", got, err)
	}
}
