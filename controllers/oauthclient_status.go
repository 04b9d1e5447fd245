package controllers

import (
	"time"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

// projectStatus fills the status from the credentials now stored, and says
// they are registered and in the Secret. Nothing secret goes into status. It
// returns when the credentials are next rotated (zero when never).
func (p *clientPhase) projectStatus(state *storedState) time.Time {
	obj, creds := p.obj, state.current
	st := &obj.Status
	st.ClientID = creds.ClientID
	st.ShortClientID = creds.ClientIDForHumans()
	st.Issuer = creds.Issuer
	st.RegistrationClientURI = creds.RegistrationClientURI
	st.SecretName = obj.Spec.SecretName
	st.ClientIDIssuedAt = metaTime(creds.IssuedAt)
	st.LastRotationTime = metaTime(creds.IssuedAt)
	st.ClientSecretExpiresAt = metaTime(creds.ExpiresAt)
	st.ObservedRotationRequest = state.rotationSeen
	st.RetiringClientID, st.RetireAt = "", nil
	if state.previous != nil {
		st.RetiringClientID, st.RetireAt = state.previous.ClientID, metaTime(state.retireAt)
	}
	next := nextRotation(rotationInterval(obj), creds)
	st.NextRotationTime = metaTime(next)
	if cs, ok := p.backend.(backend.ClientState); ok {
		req := p.request(state)
		cs.ProjectStatus(req, st)
	}

	gen, conds := obj.Generation, &st.Conditions
	condTrue(conds, gen, oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ReasonRegistered, "client "+creds.ClientIDForHumans()+" issued by "+string(p.server.ServerKind())+" "+p.server.GetName())
	condTrue(conds, gen, oauthv1alpha1.ConditionSecretSynced, oauthv1alpha1.ReasonSecretSynced, "credentials stored in Secret "+obj.Spec.SecretName)
	return next
}

// nextRotation is the earlier of interval rotation and renewal before expiry
// of creds.
func nextRotation(interval time.Duration, creds *backend.Credentials) time.Time {
	var next time.Time
	if interval > 0 && !creds.IssuedAt.IsZero() {
		next = creds.IssuedAt.Add(interval)
	}
	if renew := renewAt(creds); !renew.IsZero() && (next.IsZero() || renew.Before(next)) {
		next = renew
	}
	return next
}
