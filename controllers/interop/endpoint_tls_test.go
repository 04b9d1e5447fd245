package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/hack/interop/testcerts"
	"github.com/clientreg/clientreg/internal/registration"
)

// tlsPair is a fresh CA and a 127.0.0.1 server certificate it signed.
type tlsPair struct {
	ca, cert, key []byte
	der           []byte // the leaf, DER
}

func newTLSPair(t *testing.T) tlsPair {
	t.Helper()
	ca, cert, key, err := testcerts.New()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(cert)
	if b == nil {
		t.Fatal("no PEM certificate")
	}
	return tlsPair{ca: ca, cert: cert, key: key, der: b.Bytes}
}

// servedLeaf makes a new TLS connection (no session reuse) and returns the
// leaf certificate the server presented, verified against roots.
func servedLeaf(addr string, roots *x509.CertPool) ([]byte, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, err
	}
	defer func() { _ = conn.Close() }() // only the handshake matters
	return conn.ConnectionState().PeerCertificates[0].Raw, nil
}

// The endpoint serves the certificate of a kubernetes.io/tls Secret
// (--registration-tls-secret): a rotated Secret is served on the next
// handshakes; a broken one keeps the last good certificate and is reported
// with a Warning Event on the Secret; a repaired one is served again.
func TestEndpointTLSFromSecret(t *testing.T) {
	ns := newNamespace(t)
	a, b, c := newTLSPair(t), newTLSPair(t), newTLSPair(t)
	roots := x509.NewCertPool()
	for _, p := range []tlsPair{a, b, c} {
		roots.AppendCertsFromPEM(p.ca)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "endpoint-tls"},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: a.cert, corev1.TLSPrivateKeyKey: a.key},
	}
	create(t, sec)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	startManager(t, func(_ *ctrl.Options, o *controllers.Options) {
		o.Endpoint = &controllers.EndpointOptions{BaseURL: "https://" + addr, Listener: l,
			TLSSecret: types.NamespacedName{Namespace: ns, Name: sec.Name}, TLSSecretInterval: 100 * time.Millisecond}
	})
	serves := func(want tlsPair, name string) {
		t.Helper()
		eventually(t, 30*time.Second, func() error {
			got, err := servedLeaf(addr, roots)
			if err != nil {
				return err
			}
			if !bytes.Equal(got, want.der) {
				return fmt.Errorf("not serving certificate %s yet", name)
			}
			return nil
		})
	}
	serves(a, "a")
	// The endpoint answers over it.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}}
	resp, err := hc.Get("https://" + addr + "/namespaces/" + ns + "/none/register")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET of an unknown server = %d, want 404", resp.StatusCode)
	}

	update := func(data map[string][]byte) {
		t.Helper()
		cur := &corev1.Secret{}
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(sec), cur); err != nil {
			t.Fatal(err)
		}
		cur.Data = data
		if err := k8s.Update(context.Background(), cur); err != nil {
			t.Fatal(err)
		}
	}
	// Rotation: a new handshake sees the new certificate.
	update(map[string][]byte{corev1.TLSCertKey: b.cert, corev1.TLSPrivateKeyKey: b.key})
	serves(b, "b")

	// Broken: c's certificate with b's key. b stays in use, and it is reported.
	update(map[string][]byte{corev1.TLSCertKey: c.cert, corev1.TLSPrivateKeyKey: b.key})
	eventually(t, 30*time.Second, func() error {
		list := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Kind == "Secret" && e.Regarding.Name == sec.Name && e.Reason == registration.ReasonInvalidTLSCertificate && e.Type == corev1.EventTypeWarning {
				return nil
			}
		}
		return fmt.Errorf("no %s event on the Secret among %d events", registration.ReasonInvalidTLSCertificate, len(list.Items))
	})
	// Well after the broken version was read (100ms interval), b is still served.
	time.Sleep(500 * time.Millisecond)
	for range 3 {
		got, err := servedLeaf(addr, roots)
		if err != nil || !bytes.Equal(got, b.der) {
			t.Fatalf("after a broken Secret: %v, serving b = %v", err, bytes.Equal(got, b.der))
		}
	}
	// A key that is not PEM is broken too; then the repaired Secret is served.
	update(map[string][]byte{corev1.TLSCertKey: c.cert, corev1.TLSPrivateKeyKey: []byte("not a key")})
	time.Sleep(500 * time.Millisecond)
	if got, err := servedLeaf(addr, roots); err != nil || !bytes.Equal(got, b.der) {
		t.Fatalf("after a Secret with a garbage tls.key: %v", err)
	}
	update(map[string][]byte{corev1.TLSCertKey: c.cert, corev1.TLSPrivateKeyKey: c.key})
	serves(c, "c")
}
