package v1alpha1

import (
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Defaults of the server spec. The methods below apply them; every reader of
// the spec (reconcilers, backends, the webhook, the endpoint, the CLI) goes
// through them, so an unset field means the same everywhere.
const (
	// DefaultClientIDLifetime applies when spec.stateless.clientIDLifetime is unset.
	DefaultClientIDLifetime = 90 * 24 * time.Hour
	// DefaultKeyRotationInterval applies when spec.stateless.keyRotationInterval is unset.
	DefaultKeyRotationInterval = 30 * 24 * time.Hour
	// DefaultResyncInterval applies when spec.dynamicRegistration.resyncInterval is unset.
	DefaultResyncInterval = 10 * time.Minute
	// DefaultRegistrationTimeout applies when spec.dynamicRegistration.timeout is unset.
	DefaultRegistrationTimeout = 30 * time.Second
)

// EffectiveLifetime is the lifetime of minted client ids (0: they never expire).
func (s *StatelessServer) EffectiveLifetime() time.Duration {
	if s.ClientIDLifetime == nil {
		return DefaultClientIDLifetime
	}
	return s.ClientIDLifetime.Duration
}

// EffectiveRotationInterval is the key rotation interval (0: never).
func (s *StatelessServer) EffectiveRotationInterval() time.Duration {
	if s.KeyRotationInterval == nil {
		return DefaultKeyRotationInterval
	}
	return s.KeyRotationInterval.Duration
}

// EffectiveAudience is the aud of minted ids: spec.stateless.audience, else the issuer.
func (s *StatelessServer) EffectiveAudience() string {
	if s.Audience != "" {
		return s.Audience
	}
	return s.Issuer
}

// EffectiveSigningAlgorithm is the JWS algorithm of minted ids (ES256 when unset).
func (s *StatelessServer) EffectiveSigningAlgorithm() string {
	if s.SigningAlgorithm == "" {
		return string(SigningES256)
	}
	return string(s.SigningAlgorithm)
}

// EffectiveEncryptionMode is how minted ids are encrypted (None when unset).
func (s *StatelessServer) EffectiveEncryptionMode() EncryptionMode {
	if s.Encryption == nil || s.Encryption.Mode == "" {
		return EncryptionNone
	}
	return s.Encryption.Mode
}

// StatelessKeySecret is where a stateless server's key Secret lives:
// spec.stateless.keySecretName (default "<server name>-stateless-keys"), in
// the server's namespace, or clusterResourceNamespace for a
// ClusterAuthorizationServer.
func StatelessKeySecret(server ServerObject, clusterResourceNamespace string) types.NamespacedName {
	name := server.GetName() + "-stateless-keys"
	if s := server.GetSpec().Stateless; s != nil && s.KeySecretName != "" {
		name = s.KeySecretName
	}
	return types.NamespacedName{Namespace: ReferencedNamespace(server, "", clusterResourceNamespace), Name: name}
}

// EffectiveResyncInterval is how often registrations are read back (RFC 7592).
func (d *DynamicRegistration) EffectiveResyncInterval() time.Duration {
	if d.ResyncInterval != nil && d.ResyncInterval.Duration > 0 {
		return d.ResyncInterval.Duration
	}
	return DefaultResyncInterval
}

// EffectiveTimeout bounds one request to the authorization server.
func (d *DynamicRegistration) EffectiveTimeout() time.Duration {
	if d.Timeout != nil && d.Timeout.Duration > 0 {
		return d.Timeout.Duration
	}
	return DefaultRegistrationTimeout
}

// EffectiveOnUnauthorized is what a refused registration access token leads to (Stop when unset).
func (d *DynamicRegistration) EffectiveOnUnauthorized() UnauthorizedPolicy {
	if d.OnUnauthorized == "" {
		return UnauthorizedStop
	}
	return d.OnUnauthorized
}
