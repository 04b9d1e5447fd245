package metrics

import (
	"context"
	"time"

	"github.com/clientreg/clientreg/registrar/dcr"
)

// Operation label values of clientreg_remote_request_duration_seconds.
const (
	OpDiscover = "discover"
	OpRegister = "register"
	OpRead     = "read"
	OpUpdate   = "update"
	OpDelete   = "delete"
)

// OutcomeSuccess is the outcome label of a call that succeeded; a failure is
// labelled with its dcr.Kind ("Unauthorized", "Transient", ...), or "Error"
// for an error that is not a *dcr.Error.
const OutcomeSuccess = "success"

// InstrumentRegistrar wraps next so that every call is timed into
// clientreg_remote_request_duration_seconds{operation,outcome}. It changes
// nothing else: arguments, results and errors pass through as they are.
func (m *Metrics) InstrumentRegistrar(next dcr.Registrar) dcr.Registrar {
	if m == nil {
		return next
	}
	return &instrumented{next: next, m: m}
}

type instrumented struct {
	next dcr.Registrar
	m    *Metrics
}

var _ dcr.Registrar = (*instrumented)(nil)

func (r *instrumented) observe(op string, start time.Time, err error) {
	r.m.observeRemote(op, Outcome(err), time.Since(start))
}

// Outcome is the outcome label of a call that returned err.
func Outcome(err error) string {
	if err == nil {
		return OutcomeSuccess
	}
	if e, ok := dcr.AsError(err); ok {
		return e.Kind.String()
	}
	return "Error"
}

func (r *instrumented) Discover(ctx context.Context, issuer string) (*dcr.ServerMetadata, error) {
	start := time.Now()
	md, err := r.next.Discover(ctx, issuer)
	r.observe(OpDiscover, start, err)
	return md, err
}

func (r *instrumented) Register(ctx context.Context, endpoint string, req dcr.RegisterRequest) (*dcr.Registration, error) {
	start := time.Now()
	reg, err := r.next.Register(ctx, endpoint, req)
	r.observe(OpRegister, start, err)
	return reg, err
}

func (r *instrumented) Read(ctx context.Context, clientURI, accessToken string) (*dcr.Registration, error) {
	start := time.Now()
	reg, err := r.next.Read(ctx, clientURI, accessToken)
	r.observe(OpRead, start, err)
	return reg, err
}

func (r *instrumented) Update(ctx context.Context, clientURI, accessToken string, req dcr.UpdateRequest) (*dcr.Registration, error) {
	start := time.Now()
	reg, err := r.next.Update(ctx, clientURI, accessToken, req)
	r.observe(OpUpdate, start, err)
	return reg, err
}

func (r *instrumented) Delete(ctx context.Context, clientURI, accessToken string) error {
	start := time.Now()
	err := r.next.Delete(ctx, clientURI, accessToken)
	r.observe(OpDelete, start, err)
	return err
}
