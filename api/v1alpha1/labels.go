package v1alpha1

// The labels, annotations, finalizer and Secret data keys the operator reads
// and writes: the contract between the API, the reconcilers, the embedded
// registration endpoint and the users.

// Annotations and labels understood or written by the operator.
const (
	// AnnotationRotate asks for rotation now: set it to any new value (for
	// example a timestamp). The value last acted upon is recorded in
	// status.observedRotationRequest, so the annotation never has to be removed
	// and GitOps tools see no drift.
	AnnotationRotate = "oauth.clientreg.dev/rotate"

	// LabelManagedBy marks Secrets written by the operator; only Secrets with
	// this label are cached.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of LabelManagedBy on operator-written Secrets.
	ManagedByValue = "clientreg"
	// LabelOwnerKind is set on managed Secrets to the kind of the owning object.
	LabelOwnerKind = "oauth.clientreg.dev/owner-kind"
	// LabelOwnerName is set on managed Secrets to the name of the owning object.
	LabelOwnerName = "oauth.clientreg.dev/owner-name"

	// AnnotationRegistrationDigest on a credentials Secret records the digest of
	// the registration (metadata plus server settings) the stored client id was
	// issued for.
	AnnotationRegistrationDigest = "oauth.clientreg.dev/registration-digest"
	// AnnotationIssuedAt on a credentials Secret records when the client id was issued (RFC 3339).
	AnnotationIssuedAt = "oauth.clientreg.dev/issued-at"
	// AnnotationExpiresAt on a credentials Secret records when the client id and
	// secret expire (RFC 3339); absent when they never expire.
	AnnotationExpiresAt = "oauth.clientreg.dev/expires-at"
	// AnnotationNextRotation on a credentials Secret records when the
	// credentials are next rotated (RFC 3339): spec.rotation.interval after
	// they were issued, or renewal before they expire; absent when never.
	// The same time is in status.nextRotationTime.
	AnnotationNextRotation = "oauth.clientreg.dev/next-rotation"
	// AnnotationRotationRequest on a credentials Secret records the value of the
	// rotate annotation the stored credentials answer.
	AnnotationRotationRequest = "oauth.clientreg.dev/rotation-request"

	// AnnotationRecoverRegistration, set to the id in
	// status.pendingRegistration (OAuthClient.UnresolvedRegistration),
	// allows a new registration although the result of that earlier request
	// was lost (a client may be orphaned at
	// the server; check there first).
	AnnotationRecoverRegistration = "oauth.clientreg.dev/recover-registration"
	// AnnotationRegistrationAttempt on an OAuthClient is the in-flight mark of
	// a registration request (a PendingRegistration as JSON). The operator
	// writes it, with its finalizer, in one update locked on the
	// resourceVersion before the request is sent. It stays when the request
	// is answered: status.resolvedRegistrationAttempt, or the
	// oauth.clientreg.dev/attempt-id annotation of the credentials Secret,
	// then names the same id. Found with neither, it means the result of
	// that request was lost (see OAuthClient.UnresolvedRegistration).
	AnnotationRegistrationAttempt = "oauth.clientreg.dev/registration-attempt"
	// AnnotationAbandonRegistration set to "true" on an OAuthClient being
	// deleted releases it without deleting the registration at the server.
	AnnotationAbandonRegistration = "oauth.clientreg.dev/abandon-registration"
	// AnnotationAttemptID on a credentials Secret records the registration
	// attempt whose result the Secret holds.
	AnnotationAttemptID = "oauth.clientreg.dev/attempt-id"
	// AnnotationRetireAt on a credentials Secret records when the previous_*
	// credentials are deleted at the server (RFC 3339).
	AnnotationRetireAt = "oauth.clientreg.dev/retire-at"
	// AnnotationOrphanedFrom on a credentials Secret kept by deletionPolicy
	// Orphan names the OAuthClient that kept it and its server
	// ("<name>/<server kind>/<server name>"). A new OAuthClient of that name
	// and server in that namespace, with the same Secret keys, adopts the
	// Secret and its registration.
	AnnotationOrphanedFrom = "oauth.clientreg.dev/orphaned-from"

	// FinalizerOAuthClient is the finalizer the operator puts on OAuthClients.
	FinalizerOAuthClient = "oauth.clientreg.dev/finalizer"
)

// Default Secret data keys.
const (
	// DefaultKeyClientID is the default Secret key of the client id.
	DefaultKeyClientID = "client_id"
	// DefaultKeyClientSecret is the default Secret key of the client secret.
	DefaultKeyClientSecret = "client_secret"
	// DefaultKeyRegistrationAccessToken is the default Secret key of the RFC 7592 registration access token.
	DefaultKeyRegistrationAccessToken = "registration_access_token"
	// DefaultKeyRegistrationClientURI is the default Secret key of the RFC 7592 client configuration URI.
	DefaultKeyRegistrationClientURI = "registration_client_uri"
	// DefaultKeyIssuer is the default Secret key of the issuer the client belongs to.
	DefaultKeyIssuer = "issuer"
	// KeyRegistrationCABundle is the Secret key of the PEM CA bundle trusted
	// for the registration client URI (the server's caBundle when the
	// registration was last synced). It is kept with the credentials so the
	// registration can be deleted without the server object. The name is
	// fixed; it serves the previous_* registration too.
	KeyRegistrationCABundle = "registration_ca.crt"
	// PreviousKeyPrefix prefixes the keys of the previous registration kept
	// during a rotation overlap (previous_client_id, previous_client_secret, ...).
	PreviousKeyPrefix = "previous_"
)

// Secret data keys of a client identified by a metadata document
// (clientIDMetadataDocument) whose key pair the operator holds. The names are
// fixed. The private key is given in the forms clients load: a JWK (with
// kid, alg and use) and a PKCS#8 PEM block, with its kid and alg beside it.
const (
	// KeyPrivateKeyJWK is the private signing key as a JWK.
	KeyPrivateKeyJWK = "private_key.jwk"
	// KeyPrivateKeyPEM is the private signing key as a PKCS#8 PEM block.
	KeyPrivateKeyPEM = "private_key.pem"
	// KeyKeyID is the kid of the private key (the JWS header kid of client
	// assertions).
	KeyKeyID = "kid"
	// KeyKeyAlgorithm is the algorithm the private key signs with.
	KeyKeyAlgorithm = "alg"
	// KeyKeyRotation is the operator's state of a key rotation in progress
	// (a key published ahead of its use, a replaced key still published);
	// clients ignore it.
	KeyKeyRotation = "key_rotation.json"
)

// Labels and annotations on OAuthClients created over HTTP: the contract
// between the embedded endpoint's store, which writes them, and the
// reconciler, which reads them.
const (
	// LabelRegisteredVia marks OAuthClients created by the endpoint.
	LabelRegisteredVia = "oauth.clientreg.dev/registered-via"
	// RegisteredViaEndpoint is LabelRegisteredVia's value.
	RegisteredViaEndpoint = "registration-endpoint"
	// LabelServerKind and LabelServerName name the server an HTTP registration belongs to.
	LabelServerKind = "oauth.clientreg.dev/server-kind"
	LabelServerName = "oauth.clientreg.dev/server-name"
	// AnnotationRATHash holds the SHA-256 (hex) of the registration access
	// token; the token itself is never stored.
	AnnotationRATHash = "oauth.clientreg.dev/registration-access-token-sha256"
	// AnnotationSoftwareStatement holds the software statement the client registered with.
	AnnotationSoftwareStatement = "oauth.clientreg.dev/software-statement"
)
