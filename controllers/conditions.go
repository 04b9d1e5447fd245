package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

// condTrue and condFalse shorten the common cases (backend.SetCondition).
func condTrue(conds *[]metav1.Condition, gen int64, t, reason, msg string) {
	backend.ConditionTrue(conds, gen, t, reason, msg)
}

func condFalse(conds *[]metav1.Condition, gen int64, t, reason, msg string) {
	backend.ConditionFalse(conds, gen, t, reason, msg)
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

// eventf records an event (backend.Eventf).
func eventf(rec events.EventRecorder, regarding runtime.Object, eventtype, reason, action, note string, args ...any) {
	backend.Eventf(rec, regarding, eventtype, reason, action, note, args...)
}
