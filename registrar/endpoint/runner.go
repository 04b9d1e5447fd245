package endpoint

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Server timeouts of ServerRunner. WriteTimeout exceeds the time a Store may
// wait for credentials (the operator's store waits up to 30 s).
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 60 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 32 << 10

	// DefaultShutdownTimeout bounds the graceful shutdown when
	// ServerRunner.ShutdownTimeout is 0.
	DefaultShutdownTimeout = 10 * time.Second
	// DefaultCertCheckInterval is how often, at most, the certificate files
	// are checked for changes when ServerRunner.CertCheckInterval is 0.
	DefaultCertCheckInterval = 5 * time.Second
)

// ServerRunner serves a Handler over HTTPS (TLS 1.2 minimum, SEC-01, MGT-02),
// or over plain HTTP only when Insecure is set (local development). It is a
// controller-runtime manager.Runnable that serves on every replica.
//
// The certificate and key files are re-read when they change on disk: on a
// TLS handshake, at most every CertCheckInterval, their modification times
// and sizes are compared with those last loaded, and a changed pair is
// loaded; a pair that fails to load (for example half-written) keeps the
// previous certificate in use and is retried at the next check.
type ServerRunner struct {
	// Addr is the listen address, for example ":8443"; ignored when Listener is set.
	Addr string
	// CertFile and KeyFile are the PEM certificate (chain) and key. Required
	// unless Insecure or Certificates is set.
	CertFile, KeyFile string
	// Certificates, when set, supplies the certificate instead of CertFile
	// and KeyFile (for example from a Kubernetes Secret).
	Certificates CertificateSource
	// Insecure serves plain HTTP. Never use it in production: RFC 7591 §5 and
	// RFC 7592 §5 require TLS.
	Insecure bool
	// Handler serves requests. Required.
	Handler http.Handler
	// ShutdownTimeout bounds the graceful shutdown; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Listener, when set, is used instead of listening on Addr (tests). Start
	// takes ownership of it and closes it.
	Listener net.Listener
	// CertCheckInterval is how often, at most, the certificate files are
	// checked for changes; 0 means DefaultCertCheckInterval.
	CertCheckInterval time.Duration
	// Log, when set, receives server errors (TLS handshake failures,
	// certificate reload failures). It never receives secrets.
	Log LogFunc
}

// CertificateSource supplies the serving certificate of every TLS handshake.
type CertificateSource interface {
	// GetCertificate is a tls.Config.GetCertificate callback.
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
}

// NeedLeaderElection returns false: the endpoint serves on every replica.
func (s *ServerRunner) NeedLeaderElection() bool { return false }

func (s *ServerRunner) log(msg string, kv ...any) {
	if s.Log != nil {
		s.Log(msg, kv...)
	}
}

// Start serves until ctx is done, then shuts down gracefully: new
// connections are refused and in-flight requests get ShutdownTimeout to
// finish. It returns nil after a clean shutdown, or the error that stopped
// serving.
func (s *ServerRunner) Start(ctx context.Context) error {
	ln := s.Listener
	closeLn := func() {
		if ln != nil {
			_ = ln.Close()
		}
	}
	if s.Handler == nil {
		closeLn()
		return errors.New("registration endpoint: no handler")
	}
	var tlsCfg *tls.Config
	switch {
	case s.Insecure:
	case s.Certificates != nil:
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: s.Certificates.GetCertificate}
	default:
		if s.CertFile == "" || s.KeyFile == "" {
			closeLn()
			return errors.New("registration endpoint: a TLS certificate and key are required unless Insecure is set")
		}
		interval := s.CertCheckInterval
		if interval <= 0 {
			interval = DefaultCertCheckInterval
		}
		rel, err := newCertReloader(s.CertFile, s.KeyFile, interval, s.log)
		if err != nil {
			closeLn()
			return fmt.Errorf("registration endpoint: %w", err)
		}
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: rel.getCertificate}
	}
	if ln == nil {
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", s.Addr)
		if err != nil {
			return fmt.Errorf("registration endpoint: listening on %s: %w", s.Addr, err)
		}
		ln = l
	}
	srv := &http.Server{
		Handler:           s.Handler,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(logWriter{s.log}, "", 0),
		// Requests keep ctx's values but not its cancellation, so that
		// in-flight requests can finish during the graceful shutdown.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			served <- srv.ServeTLS(ln, "", "")
		} else {
			served <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-served:
		return fmt.Errorf("registration endpoint: %w", err)
	case <-ctx.Done():
	}
	timeout := s.ShutdownTimeout
	if timeout <= 0 {
		timeout = DefaultShutdownTimeout
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if shutdownErr != nil {
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("registration endpoint: %w", err)
	}
	if shutdownErr != nil {
		return fmt.Errorf("registration endpoint: graceful shutdown: %w", shutdownErr)
	}
	return nil
}

// logWriter adapts a LogFunc to the http.Server error log.
type logWriter struct{ log func(string, ...any) }

// Write forwards one log line of the http.Server.
func (w logWriter) Write(p []byte) (int, error) {
	w.log("registration endpoint server error", "error", string(bytes.TrimSpace(p)))
	return len(p), nil
}

// fileStamp identifies a version of a file.
type fileStamp struct {
	mod  time.Time
	size int64
}

func (a fileStamp) equal(b fileStamp) bool { return a.size == b.size && a.mod.Equal(b.mod) }

func stampOf(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size()}, nil
}

// certReloader serves a certificate pair and reloads it when the files change.
type certReloader struct {
	certFile, keyFile string
	interval          time.Duration
	log               func(string, ...any)
	now               func() time.Time

	mu                  sync.Mutex
	cert                *tls.Certificate
	certStamp, keyStamp fileStamp
	lastCheck           time.Time
}

func newCertReloader(certFile, keyFile string, interval time.Duration, logf func(string, ...any)) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, interval: interval, log: logf, now: time.Now}
	if err := c.load(); err != nil {
		return nil, err
	}
	c.lastCheck = c.now()
	return c, nil
}

// load reads the pair and records the stamps it was read at.
func (c *certReloader) load() error {
	cs, err := stampOf(c.certFile)
	if err != nil {
		return fmt.Errorf("reading the TLS certificate: %w", err)
	}
	ks, err := stampOf(c.keyFile)
	if err != nil {
		return fmt.Errorf("reading the TLS key: %w", err)
	}
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("loading the TLS certificate and key: %w", err)
	}
	c.cert, c.certStamp, c.keyStamp = &pair, cs, ks
	return nil
}

// getCertificate is the tls.Config.GetCertificate callback.
func (c *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.lastCheck) >= c.interval {
		c.lastCheck = now
		cs, cerr := stampOf(c.certFile)
		ks, kerr := stampOf(c.keyFile)
		if cerr == nil && kerr == nil && (!cs.equal(c.certStamp) || !ks.equal(c.keyStamp)) {
			if err := c.load(); err != nil {
				c.log("keeping the previous TLS certificate", "error", err.Error())
			} else {
				c.log("reloaded the TLS certificate")
			}
		}
	}
	return c.cert, nil
}
