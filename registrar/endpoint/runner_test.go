package endpoint_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clientreg/clientreg/internal/certtest"
	"github.com/clientreg/clientreg/registrar/endpoint"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with serial to
// dir and returns the file names and the certificate.
func writeCert(t *testing.T, dir string, serial int64) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	cert, key := certtest.SelfSigned(t, &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "clientreg-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	})
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	// Write to temporary names and rename, like a Secret volume update.
	for _, f := range []struct {
		name string
		data []byte
	}{
		{certFile, certtest.PEM(cert)},
		{keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})},
	} {
		tmp := f.name + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.name); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, cert
}

// runner starts r on a loopback listener and returns its address and a stop
// function that cancels the context and returns Start's result.
func startRunner(t *testing.T, r *endpoint.ServerRunner) (addr string, stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.Listener = ln
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Start did not return after cancel")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return ln.Addr().String(), stop
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
})

func TestRunnerTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := writeCert(t, dir, 1)
	var hits atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		okHandler(w, r)
	})
	addr, stop := startRunner(t, &endpoint.ServerRunner{CertFile: certFile, KeyFile: keyFile, Handler: h})
	pool := x509.NewCertPool()
	pool.AddCert(cert)

	t.Run("TLS 1.2 handshake", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
		if err != nil {
			t.Fatalf("TLS 1.2: %v", err)
		}
		defer func() { _ = conn.Close() }()
		if v := conn.ConnectionState().Version; v != tls.VersionTLS12 {
			t.Errorf("version %x", v)
		}
	})
	t.Run("TLS 1.3 request", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := c.Get("https://" + addr + "/x")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
		if err == nil {
			_ = conn.Close()
			t.Fatal("TLS 1.1 handshake succeeded")
		}
		// The server refuses (alert), not the client library.
		if !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("TLS 1.1 failed for another reason: %v", err)
		}
	})
	t.Run("plain HTTP refused (SEC-01, MGT-02)", func(t *testing.T) {
		before := hits.Load()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = io.WriteString(conn, "POST /oauth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("plain HTTP answered %d", resp.StatusCode)
			}
		}
		if hits.Load() != before {
			t.Error("a plain HTTP request reached the handler")
		}
	})
	if err := stop(); err != nil {
		t.Fatalf("Start returned %v after cancel", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}

func TestRunnerInsecure(t *testing.T) {
	addr, stop := startRunner(t, &endpoint.ServerRunner{Insecure: true, Handler: okHandler})
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("HTTP = %d %q", resp.StatusCode, body)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func TestRunnerCertReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := writeCert(t, dir, 1)
	var logs atomic.Int32
	addr, _ := startRunner(t, &endpoint.ServerRunner{CertFile: certFile, KeyFile: keyFile, Handler: okHandler,
		CertCheckInterval: 10 * time.Millisecond, Log: func(string, ...any) { logs.Add(1) }})
	serial := func() int64 {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // test: compares the served certificate
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close() }()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 1 {
		t.Fatalf("serial %d, want 1", s)
	}
	writeCert(t, dir, 2)
	future := time.Now().Add(time.Minute)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, future, future); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for serial() != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate is not served")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A broken pair keeps the current certificate.
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if s := serial(); s != 2 {
		t.Errorf("serial %d after a broken update, want 2", s)
	}
	if logs.Load() == 0 {
		t.Error("reload not logged")
	}
}

func TestRunnerGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		if r.Context().Err() != nil {
			t.Error("in-flight request was cancelled by the shutdown")
		}
		okHandler(w, r)
	})
	addr, stop := startRunner(t, &endpoint.ServerRunner{Insecure: true, Handler: h, ShutdownTimeout: 5 * time.Second})
	got := make(chan int, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			got <- -1
			return
		}
		_ = resp.Body.Close()
		got <- resp.StatusCode
	}()
	<-started
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-stopped:
		t.Fatalf("Start returned (%v) before the in-flight request finished", err)
	default:
	}
	close(release)
	if code := <-got; code != http.StatusOK {
		t.Errorf("in-flight request got %d", code)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Start = %v", err)
	}
}

func TestRunnerShutdownTimeout(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	started := make(chan struct{})
	h := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		close(started)
		<-block
	})
	addr, stop := startRunner(t, &endpoint.ServerRunner{Insecure: true, Handler: h, ShutdownTimeout: 50 * time.Millisecond})
	go func() {
		if resp, err := http.Get("http://" + addr + "/"); err == nil {
			_ = resp.Body.Close()
		}
	}()
	<-started
	if err := stop(); err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Start = %v, want a shutdown deadline error", err)
	}
}

func TestRunnerConfigErrors(t *testing.T) {
	dir := t.TempDir()
	for name, r := range map[string]*endpoint.ServerRunner{
		"no handler":     {Insecure: true},
		"no certificate": {Handler: okHandler},
		"missing files":  {Handler: okHandler, CertFile: filepath.Join(dir, "a"), KeyFile: filepath.Join(dir, "b")},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			r.Listener = ln
			if err := r.Start(t.Context()); err == nil {
				t.Fatal("Start succeeded")
			} else if strings.Contains(err.Error(), "PRIVATE") {
				t.Error("error text leaks key material")
			}
			if _, err := ln.Accept(); err == nil {
				t.Error("listener left open")
			}
		})
	}
	if (&endpoint.ServerRunner{}).NeedLeaderElection() {
		t.Error("NeedLeaderElection = true")
	}
}
