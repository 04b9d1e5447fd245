package v1alpha1

// Condition types. Every object carries a summary Ready condition; the others
// say which step is blocking it.
const (
	// ConditionReady summarises whether the object is fully reconciled and usable.
	ConditionReady = "Ready"
	// ConditionRegistered says whether the client holds a current client id.
	ConditionRegistered = "Registered"
	// ConditionSecretSynced says whether the credentials Secret matches the registration.
	ConditionSecretSynced = "SecretSynced"
	// ConditionKeysReady says whether a server's signing (and encryption) keys exist and are published.
	ConditionKeysReady = "KeysReady"
	// ConditionAuthorizationServerResolved says whether the endpoints of the
	// authorization server that accepts a stateless server's ids are known
	// (spec.stateless.authorizationServer). It does not gate Ready: ids are
	// minted regardless.
	ConditionAuthorizationServerResolved = "AuthorizationServerResolved"
	// ConditionReconciling is True while the object is not Ready but work
	// continues (waiting for a server, retrying); absent otherwise. It is
	// kstatus's abnormal-true condition: Flux and kpt report InProgress.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when the object is not Ready and retrying
	// cannot help (invalid spec or metadata, a refused registration, a
	// registration needing recovery, a blocked deletion); absent otherwise.
	// kstatus reports Failed, so Flux stops waiting.
	ConditionStalled = "Stalled"
)

// Condition reasons. They are CamelCase, stable, and part of the API.
const (
	// ReasonReconciling is used while work is still in progress.
	ReasonReconciling = "Reconciling"
	// ReasonRegistered means a client id was issued and stored.
	ReasonRegistered = "Registered"
	// ReasonServerNotFound means the referenced server object does not exist (yet).
	ReasonServerNotFound = "ServerNotFound"
	// ReasonServerNotReady means the referenced server exists but is not Ready.
	ReasonServerNotReady = "ServerNotReady"
	// ReasonInvalidSpec means the spec cannot be honoured; it needs a change by the user.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonInvalidMetadata means the client metadata breaks an RFC 7591 / OpenID Connect rule.
	ReasonInvalidMetadata = "InvalidMetadata"
	// ReasonBackendUnsupported means the server's backend is not implemented by this version.
	ReasonBackendUnsupported = "BackendUnsupported"
	// ReasonSecretConflict means a Secret of the requested name exists and is not controlled by this object.
	ReasonSecretConflict = "SecretConflict"
	// ReasonSecretNamespaceNotAllowed means the object needs a Secret in a
	// namespace the manager was not given (its --secret-namespaces flag);
	// the operator refuses it without asking the API server.
	ReasonSecretNamespaceNotAllowed = "SecretNamespaceNotAllowed"
	// ReasonSecretSynced means the Secret holds the current credentials.
	ReasonSecretSynced = "SecretSynced"
	// ReasonSecretWriteFailed means writing the Secret failed; it is retried.
	ReasonSecretWriteFailed = "SecretWriteFailed"
	// ReasonMintFailed means minting a stateless client id failed.
	ReasonMintFailed = "MintFailed"
	// ReasonKeysReady means keys exist and the JWKS is published in status.
	ReasonKeysReady = "KeysReady"
	// ReasonKeysFailed means keys could not be loaded, generated or stored.
	ReasonKeysFailed = "KeysFailed"
	// ReasonKeySecretConflict means the key Secret exists and is not controlled by the server object.
	ReasonKeySecretConflict = "KeySecretConflict"
	// ReasonRegistering means a registration request is being sent.
	ReasonRegistering = "Registering"
	// ReasonRegistrationIncomplete means a registration request was sent but
	// its result was never stored; see status.pendingRegistration.
	ReasonRegistrationIncomplete = "RegistrationIncomplete"
	// ReasonRegistrationRejected means the server refused the metadata (400).
	ReasonRegistrationRejected = "RegistrationRejected"
	// ReasonUnauthorized means the server answered 401 to the registration
	// access token (the client is gone or the token is invalid) and
	// onUnauthorized is Stop.
	ReasonUnauthorized = "Unauthorized"
	// ReasonForbidden means the server answered 403.
	ReasonForbidden = "Forbidden"
	// ReasonRateLimited means the server asked to slow down (429).
	ReasonRateLimited = "RateLimited"
	// ReasonServerUnavailable means the server could not be reached or failed (5xx, network).
	ReasonServerUnavailable = "ServerUnavailable"
	// ReasonDiscoveryFailed means the server's metadata could not be discovered.
	ReasonDiscoveryFailed = "DiscoveryFailed"
	// ReasonAdoptionFailed means the registration named by spec.adoptFrom could not be taken over.
	ReasonAdoptionFailed = "AdoptionFailed"
	// ReasonDeletionBlocked means deleting the registration at the server kept
	// failing; the annotation oauth.clientreg.dev/abandon-registration lets go.
	ReasonDeletionBlocked = "DeletionBlocked"
	// ReasonReady means the object is fully reconciled.
	ReasonReady = "Ready"
	// ReasonDeleting means the object is being deleted.
	ReasonDeleting = "Deleting"
)

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
	// AnnotationRotationRequest on a credentials Secret records the value of the
	// rotate annotation the stored credentials answer.
	AnnotationRotationRequest = "oauth.clientreg.dev/rotation-request"

	// AnnotationRecoverRegistration, set to the id in
	// status.pendingRegistration (OAuthClient.UnresolvedRegistration), allows a new registration although the
	// result of that earlier request was lost (a client may be orphaned at
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
