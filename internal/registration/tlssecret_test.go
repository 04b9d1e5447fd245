package registration

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
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

	"github.com/clientreg/clientreg/internal/certtest"
)

// selfSigned returns a PEM certificate valid from notBefore to notAfter and its key.
func selfSigned(t *testing.T, notBefore, notAfter time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	cert, key := certtest.SelfSigned(t, &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "endpoint"},
		NotBefore: notBefore, NotAfter: notAfter, DNSNames: []string{"endpoint"},
	})
	return certtest.PEM(cert), certtest.KeyPEM(t, key)
}

// tlsSecret is the TLS Secret key holding a new certificate valid from
// notBefore to notAfter and its key.
func tlsSecret(t *testing.T, key types.NamespacedName, notBefore, notAfter time.Time) *corev1.Secret {
	t.Helper()
	cert, certKey := selfSigned(t, notBefore, notAfter)
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: cert, corev1.TLSPrivateKeyKey: certKey}}
}

// The unit cases the envtest (controllers/interop) does not reach: a
// missing Secret before any certificate, an expired certificate, and one
// Event per broken version.
func TestTLSSecret(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := clocktesting.NewFakePassiveClock(now)
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).Build()
	rec := events.NewFakeRecorder(10)
	key := types.NamespacedName{Namespace: "ns", Name: "tls"}
	s := &TLSSecret{Reader: c, Key: key, Recorder: rec, Clock: clk, Log: logr.Discard()}
	ctx := context.Background()

	if err := s.Refresh(ctx); err == nil {
		t.Fatal("a missing Secret is not reported")
	}
	if _, err := s.GetCertificate(nil); err == nil || !strings.Contains(err.Error(), "no TLS certificate loaded") {
		t.Fatalf("GetCertificate before any certificate: %v", err)
	}

	sec := tlsSecret(t, key, now.Add(-time.Hour), now.Add(time.Hour))
	if err := c.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	if err := s.Refresh(ctx); err != nil {
		t.Fatalf("good Secret: %v", err)
	}
	served, err := s.GetCertificate(nil)
	if err != nil || served.Leaf.NotAfter != now.Add(time.Hour) {
		t.Fatalf("serving %v, %v", served, err)
	}

	sec.Data = tlsSecret(t, key, now.Add(-2*time.Hour), now.Add(-time.Minute)).Data
	if err := c.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	for range 3 { // the same broken version: reported once
		if err := s.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Fatalf("expired certificate: %v", err)
		}
	}
	if got, _ := s.GetCertificate(nil); got != served || s.LastError() == nil {
		t.Fatal("an expired certificate replaced the good one")
	}
	if n := len(rec.Events); n != 1 {
		t.Fatalf("%d events for one broken version, want 1", n)
	}
	if e := <-rec.Events; !strings.Contains(e, ReasonInvalidTLSCertificate) || strings.Contains(e, "PRIVATE KEY") {
		t.Fatalf("event %q", e)
	}
}

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

	sec := tlsSecret(t, key, now.Add(-time.Hour), now.Add(time.Hour))
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
	sec.Data = map[string][]byte{corev1.TLSCertKey: sec.Data[corev1.TLSCertKey], corev1.TLSPrivateKeyKey: []byte("garbage")}
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
