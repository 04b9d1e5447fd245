package controllers

import (
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// setCondition sets a condition, stamping the generation it was computed for.
// meta.SetStatusCondition moves LastTransitionTime only when the status flips,
// so an unchanged condition causes no status write.
func setCondition(conds *[]metav1.Condition, generation int64, condType string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               condType,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	})
}

// condTrue and condFalse shorten the common cases.
func condTrue(conds *[]metav1.Condition, gen int64, t, reason, msg string) {
	setCondition(conds, gen, t, metav1.ConditionTrue, reason, msg)
}

func condFalse(conds *[]metav1.Condition, gen int64, t, reason, msg string) {
	setCondition(conds, gen, t, metav1.ConditionFalse, reason, msg)
}

// markReady sets Ready=True and removes Reconciling and Stalled.
func markReady(conds *[]metav1.Condition, gen int64, reason, msg string) {
	condTrue(conds, gen, oauthv1alpha1.ConditionReady, reason, msg)
	meta.RemoveStatusCondition(conds, oauthv1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(conds, oauthv1alpha1.ConditionStalled)
}

// markNotReady sets Ready=False and, for kstatus (Flux, kpt), one of the
// abnormal-true conditions with the same reason and message: Stalled=True
// when only a change by a person can help (kstatus: Failed), else
// Reconciling=True (kstatus: InProgress).
func markNotReady(conds *[]metav1.Condition, gen int64, reason, msg string, stalled bool) {
	condFalse(conds, gen, oauthv1alpha1.ConditionReady, reason, msg)
	set, unset := oauthv1alpha1.ConditionReconciling, oauthv1alpha1.ConditionStalled
	if stalled {
		set, unset = unset, set
	}
	condTrue(conds, gen, set, reason, msg)
	meta.RemoveStatusCondition(conds, unset)
}

// maxEventNote is below the API server's 1024-character limit on an event's
// note; a longer one is rejected and the event lost.
const maxEventNote = 1000

// eventf records an event with its note cut to maxEventNote.
func eventf(rec events.EventRecorder, regarding runtime.Object, eventtype, reason, action, note string, args ...any) {
	msg := fmt.Sprintf(note, args...)
	if len(msg) > maxEventNote {
		msg = msg[:maxEventNote-3] + "..."
	}
	rec.Eventf(regarding, nil, eventtype, reason, action, "%s", msg)
}
