package v1alpha1

import (
	"encoding/json"
	"fmt"
)

// RegistrationAttempt returns the in-flight mark of c (the annotation
// AnnotationRegistrationAttempt), whether or not its outcome is known; nil
// when there is none. A mark that is not valid JSON (edited by hand) is
// returned with its raw value as the ID, so that it is never mistaken for no
// mark and the recover-registration annotation can still name it.
func (c *OAuthClient) RegistrationAttempt() *PendingRegistration {
	v, ok := c.Annotations[AnnotationRegistrationAttempt]
	if !ok {
		return nil
	}
	pr := &PendingRegistration{}
	if err := json.Unmarshal([]byte(v), pr); err != nil || pr.ID == "" {
		return &PendingRegistration{ID: v}
	}
	return pr
}

// SetRegistrationAttempt writes pr as the in-flight mark of c.
func (c *OAuthClient) SetRegistrationAttempt(pr PendingRegistration) error {
	b, err := json.Marshal(pr)
	if err != nil {
		return fmt.Errorf("encoding the registration attempt: %w", err)
	}
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[AnnotationRegistrationAttempt] = string(b)
	return nil
}

// UnresolvedRegistration returns the registration request of c whose outcome
// is not recorded in c's status: its in-flight mark unless
// status.resolvedRegistrationAttempt names it, else a
// status.pendingRegistration that no resolved attempt names (older managers
// kept the mark there, and a lost result is shown there). The credentials
// Secret's AnnotationAttemptID may still hold its result; the operator checks
// that before it calls the registration lost.
func (c *OAuthClient) UnresolvedRegistration() *PendingRegistration {
	resolved := c.Status.ResolvedRegistrationAttempt
	if pr := c.RegistrationAttempt(); pr != nil && pr.ID != resolved {
		return pr
	}
	if pr := c.Status.PendingRegistration; pr != nil && pr.ID != resolved {
		return pr.DeepCopy()
	}
	return nil
}
