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
	// ReasonDocumentsNotServed means a metadata document server's documents
	// cannot be served by this manager (it runs no HTTPS listener).
	ReasonDocumentsNotServed = "DocumentsNotServed"
)
