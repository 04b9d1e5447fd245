package registration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DefaultTLSSecretInterval is how often TLSSecret reads its Secret when
// Interval is 0.
const DefaultTLSSecretInterval = 10 * time.Second

// ReasonInvalidTLSCertificate is the reason of the Warning Event raised on a
// TLS Secret that cannot be served.
const ReasonInvalidTLSCertificate = "InvalidTLSCertificate"

// TLSSecret serves the registration endpoint's certificate from a
// kubernetes.io/tls Secret (tls.crt: PEM chain, tls.key: PEM key), such as
// the one cert-manager writes, and picks up a renewed one.
//
// The Secret is read uncached, every Interval, on every replica: the
// manager's Secret cache holds only Secrets with the operator's managed-by
// label, and a TLS Secret written by someone else has none. A periodic read
// is one small GET per interval and replica; a renewed certificate is served
// at most one interval late, which is nothing next to certificate lifetimes.
// (A watch would need a second Secret informer only for this object.) A
// Secret whose resourceVersion did not change is not parsed again.
//
// A Secret that is missing, incomplete, unparsable, whose key does not match
// its certificate, or whose certificate has expired keeps the last good
// certificate in use; the problem is logged and, once per resourceVersion,
// raised as a Warning Event (ReasonInvalidTLSCertificate) on the Secret.
// Until a first certificate is loaded, handshakes fail.
type TLSSecret struct {
	// Reader reads the Secret uncached (the manager's API reader).
	Reader client.Reader
	// Key names the Secret.
	Key types.NamespacedName
	// Interval is how often the Secret is read; 0 means DefaultTLSSecretInterval.
	Interval time.Duration
	// Recorder, when set, receives the Warning Events.
	Recorder events.EventRecorder
	// Clock tells the time for the expiry check; nil means the real clock.
	Clock clock.PassiveClock
	// Log receives loads and problems (never key material).
	Log logr.Logger

	mu       sync.RWMutex
	cert     *tls.Certificate
	version  string // resourceVersion last parsed
	parseErr error  // why that version cannot be served, if it cannot
	readErr  error  // why the last read failed, if it did
}

// NeedLeaderElection returns false: every replica serves.
func (s *TLSSecret) NeedLeaderElection() bool { return false }

// Start reads the Secret at once and then every Interval until ctx is done.
func (s *TLSSecret) Start(ctx context.Context) error {
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultTLSSecretInterval
	}
	_ = s.Refresh(ctx)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_ = s.Refresh(ctx)
		}
	}
}

// Refresh reads the Secret once and loads its certificate when it changed
// and is usable. It returns the problem with the Secret as last read, if any
// (the last good certificate stays in use).
func (s *TLSSecret) Refresh(ctx context.Context) error {
	sec := &corev1.Secret{}
	if err := s.Reader.Get(ctx, s.Key, sec); err != nil {
		err = fmt.Errorf("reading TLS Secret %s: %w", s.Key, err)
		s.mu.Lock()
		repeated := s.readErr != nil && s.readErr.Error() == err.Error()
		s.readErr = err
		serving := s.cert != nil
		s.mu.Unlock()
		if !repeated {
			s.Log.Error(err, "the registration endpoint's TLS Secret cannot be read; keeping the last good certificate", "secret", s.Key.String(), "servingPrevious", serving)
		}
		return err
	}
	s.mu.Lock()
	// A read that works again ends a read failure; a version looked at
	// before keeps its verdict (and raises no second Event).
	s.readErr = nil
	same, prevErr := sec.ResourceVersion == s.version, s.parseErr
	s.mu.Unlock()
	if same {
		return prevErr
	}
	cert, err := s.parse(sec)
	if err != nil {
		err = fmt.Errorf("TLS Secret %s: %w", s.Key, err)
		s.mu.Lock()
		s.version, s.parseErr = sec.ResourceVersion, err
		serving := s.cert != nil
		s.mu.Unlock()
		s.Log.Error(err, "the registration endpoint's TLS Secret cannot be used; keeping the last good certificate", "secret", s.Key.String(), "resourceVersion", sec.ResourceVersion, "servingPrevious", serving)
		if s.Recorder != nil {
			s.Recorder.Eventf(sec, nil, corev1.EventTypeWarning, ReasonInvalidTLSCertificate, "LoadCertificate",
				"not served by the registration endpoint (the last good certificate stays in use): %v", err)
		}
		return err
	}
	s.mu.Lock()
	s.cert, s.version, s.parseErr = cert, sec.ResourceVersion, nil
	s.mu.Unlock()
	s.Log.Info("loaded the registration endpoint's TLS certificate", "secret", s.Key.String(), "resourceVersion", sec.ResourceVersion, "notAfter", cert.Leaf.NotAfter)
	return nil
}

// parse checks the Secret and returns its certificate with the parsed leaf.
func (s *TLSSecret) parse(sec *corev1.Secret) (*tls.Certificate, error) {
	crt, key := sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(key) == 0 {
		return nil, fmt.Errorf("it needs %s and %s", corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, fmt.Errorf("loading the certificate and key: %w", err)
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parsing the certificate: %w", err)
		}
	}
	now := time.Now()
	if s.Clock != nil {
		now = s.Clock.Now()
	}
	if now.After(pair.Leaf.NotAfter) {
		return nil, fmt.Errorf("the certificate expired at %s", pair.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &pair, nil
}

// GetCertificate is the tls.Config.GetCertificate callback: the last good
// certificate.
func (s *TLSSecret) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cert == nil {
		if err := s.lastErrLocked(); err != nil {
			return nil, fmt.Errorf("no TLS certificate loaded: %w", err)
		}
		return nil, errors.New("no TLS certificate loaded yet")
	}
	return s.cert, nil
}

// LastError returns the problem with the Secret as last read, or nil.
func (s *TLSSecret) LastError() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.lastErrLocked()
}

// lastErrLocked is LastError with s.mu held.
func (s *TLSSecret) lastErrLocked() error {
	if s.readErr != nil {
		return s.readErr
	}
	return s.parseErr
}
