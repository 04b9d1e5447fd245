package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// condUnknown marks a condition as not yet known.
func condUnknown(conds *[]metav1.Condition, gen int64, t, reason, msg string) {
	setCondition(conds, gen, t, metav1.ConditionUnknown, reason, msg)
}
