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
	// DefaultDocumentMaxAge applies when spec.clientIDMetadataDocument.cacheMaxAge is unset.
	DefaultDocumentMaxAge = 5 * time.Minute
	// DefaultPropagationMargin applies when keys.propagationMargin is unset.
	DefaultPropagationMargin = 30 * time.Second
	// DefaultRetiredKeyOverlap applies when keys.retiredKeyOverlap is unset.
	DefaultRetiredKeyOverlap = 10 * time.Minute
	// DefaultDocumentRate applies when rateLimit is unset (requests per second).
	DefaultDocumentRate = 100
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

// EffectiveMaxAge is the Cache-Control max-age of documents (at least 1s).
func (c *ClientIDMetadataDocumentServer) EffectiveMaxAge() time.Duration {
	switch {
	case c.CacheMaxAge == nil:
		return DefaultDocumentMaxAge
	case c.CacheMaxAge.Duration < time.Second:
		return time.Second
	}
	return c.CacheMaxAge.Truncate(time.Second)
}

// EffectiveKeyAlgorithm is the algorithm of generated keys (ES256 when unset).
func (c *ClientIDMetadataDocumentServer) EffectiveKeyAlgorithm() string {
	if c.Keys == nil || c.Keys.Algorithm == "" {
		return string(SigningES256)
	}
	return c.Keys.Algorithm
}

// EffectiveKeyPublication is where public keys are published (JWKS when unset).
func (c *ClientIDMetadataDocumentServer) EffectiveKeyPublication() KeyPublication {
	if c.Keys == nil || c.Keys.Publication == "" {
		return KeyPublicationJWKS
	}
	return c.Keys.Publication
}

// EffectivePropagationDelay is how long a key is published before the
// Secret switches to it: the document's max-age plus the margin.
func (c *ClientIDMetadataDocumentServer) EffectivePropagationDelay() time.Duration {
	margin := DefaultPropagationMargin
	if c.Keys != nil && c.Keys.PropagationMargin != nil && c.Keys.PropagationMargin.Duration >= 0 {
		margin = c.Keys.PropagationMargin.Duration
	}
	return c.EffectiveMaxAge() + margin
}

// EffectiveRetiredKeyOverlap is how long a replaced key stays published.
func (c *ClientIDMetadataDocumentServer) EffectiveRetiredKeyOverlap() time.Duration {
	if c.Keys == nil || c.Keys.RetiredKeyOverlap == nil || c.Keys.RetiredKeyOverlap.Duration < 0 {
		return DefaultRetiredKeyOverlap
	}
	return c.Keys.RetiredKeyOverlap.Duration
}

// EffectiveRateLimit is the token bucket of the server's documents: requests
// per second and burst.
func (c *ClientIDMetadataDocumentServer) EffectiveRateLimit() (perSecond float64, burst int) {
	rate := int32(DefaultDocumentRate)
	if c.RateLimit != nil && c.RateLimit.RequestsPerSecond > 0 {
		rate = c.RateLimit.RequestsPerSecond
	}
	b := 2 * rate
	if c.RateLimit != nil && c.RateLimit.Burst > 0 {
		b = c.RateLimit.Burst
	}
	return float64(rate), int(b)
}
