package backend

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// SetCondition sets a condition, stamping the generation it was computed
// for. meta.SetStatusCondition moves LastTransitionTime only when the status
// flips, so an unchanged condition causes no status write.
func SetCondition(conds *[]metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	})
}

// ConditionTrue sets condType to True.
func ConditionTrue(conds *[]metav1.Condition, gen int64, condType, reason, msg string) {
	SetCondition(conds, gen, condType, metav1.ConditionTrue, reason, msg)
}

// ConditionFalse sets condType to False.
func ConditionFalse(conds *[]metav1.Condition, gen int64, condType, reason, msg string) {
	SetCondition(conds, gen, condType, metav1.ConditionFalse, reason, msg)
}

// ReasonOf returns the condition reason err carries (PermanentError,
// PendingError, TransientError), or fallback.
func ReasonOf(err error, fallback string) string {
	if p, ok := AsPermanent(err); ok {
		return p.Reason
	}
	if p, ok := AsPending(err); ok {
		return p.Reason
	}
	if t, ok := AsTransient(err); ok {
		return t.Reason
	}
	return fallback
}

// WithReason returns err when it carries a condition reason, else err as a
// TransientError with reason.
func WithReason(err error, reason string) error {
	if err == nil || ReasonOf(err, "") != "" {
		return err
	}
	return Transient(reason, err)
}

// maxEventNote is below the API server's 1024-character limit on an event's
// note; a longer one is rejected and the event lost.
const maxEventNote = 1000

// Eventf records an event with its note cut to maxEventNote.
func Eventf(rec events.EventRecorder, regarding runtime.Object, eventtype, reason, action, note string, args ...any) {
	msg := fmt.Sprintf(note, args...)
	if len(msg) > maxEventNote {
		msg = msg[:maxEventNote-3] + "..."
	}
	rec.Eventf(regarding, nil, eventtype, reason, action, "%s", msg)
}
