package webhook

import (
	"errors"
	"strings"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// QuietCertRaces wraps the manager's logger so that the certificate
// rotator's harmless races are logged at debug level (V(1)) as what they
// are, with the error text and no stack trace; every other error, including
// the rotator's, stays an error.
//
// The certificate rotator (open-policy-agent/cert-controller) runs on every
// replica and writes one Secret and two webhook configurations; the API
// server's optimistic concurrency decides who wins, and the others retry. On
// a fresh install that race is the normal case, and so is reading the chart's
// empty Secret before the first replica filled it. cert-controller logs both
// as errors with stack traces ("Operation cannot be fulfilled on secrets ...",
// "Cert secret is not well-formed, missing ca.crt"), and so does
// controller-runtime when the rotator's reconcile returns the conflict.
func QuietCertRaces(l logr.Logger) logr.Logger {
	if l.GetSink() == nil {
		return l
	}
	return logr.New(&raceSink{sink: l.GetSink()})
}

// rotatorLoggerName is the name cert-controller gives its logger.
const rotatorLoggerName = "cert-rotation"

// rotatorControllerName is the controller-runtime controller that runs the
// rotator's reconciles (its errors are logged as "Reconciler error").
const rotatorControllerName = "cert-rotator"

// raceSink is a logr.LogSink that downgrades the rotator's harmless races.
type raceSink struct {
	sink logr.LogSink
	// rotator is true for loggers of cert-controller or of the controller
	// that runs its reconciles.
	rotator bool
}

var _ logr.CallDepthLogSink = (*raceSink)(nil)

func (s *raceSink) Init(info logr.RuntimeInfo) { s.sink.Init(info) }

func (s *raceSink) Enabled(level int) bool { return s.sink.Enabled(level) }

func (s *raceSink) Info(level int, msg string, kv ...any) { s.sink.Info(level, msg, kv...) }

func (s *raceSink) Error(err error, msg string, kv ...any) {
	if (s.rotator || rotatorValues(kv)) && harmlessRace(err) {
		if s.sink.Enabled(1) {
			s.sink.Info(1, msg+" (a harmless race between replicas; retried)", append(kv, "error", err.Error())...)
		}
		return
	}
	s.sink.Error(err, msg, kv...)
}

func (s *raceSink) WithValues(kv ...any) logr.LogSink {
	return &raceSink{sink: s.sink.WithValues(kv...), rotator: s.rotator || rotatorValues(kv)}
}

func (s *raceSink) WithName(name string) logr.LogSink {
	return &raceSink{sink: s.sink.WithName(name), rotator: s.rotator || name == rotatorLoggerName}
}

// WithCallDepth passes depth on. The frame raceSink adds itself is already
// accounted for: Init (called by logr.New in QuietCertRaces) adds its call
// depth to the wrapped sink's.
func (s *raceSink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.sink.(logr.CallDepthLogSink); ok {
		return &raceSink{sink: cd.WithCallDepth(depth), rotator: s.rotator}
	}
	return s
}

// rotatorValues reports whether key/values name the rotator's controller.
func rotatorValues(kv []any) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok && k == "controller" && kv[i+1] == rotatorControllerName {
			return true
		}
	}
	return false
}

// harmlessRace reports whether err is one of the rotator's expected races: a
// write that lost to another replica's (Conflict, AlreadyExists), or the
// chart's empty certificate Secret read before a replica filled it.
func harmlessRace(err error) bool {
	if err == nil {
		return false
	}
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		return false
	}
	return strings.Contains(err.Error(), "not well-formed, missing ")
}
