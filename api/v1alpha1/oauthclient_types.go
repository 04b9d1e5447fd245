package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServerKind names one of the two server kinds an OAuthClient can refer to.
// +kubebuilder:validation:Enum=AuthorizationServer;ClusterAuthorizationServer
type ServerKind string

const (
	// KindAuthorizationServer is the namespaced server kind.
	KindAuthorizationServer ServerKind = "AuthorizationServer"
	// KindClusterAuthorizationServer is the cluster-scoped server kind.
	KindClusterAuthorizationServer ServerKind = "ClusterAuthorizationServer"
)

// ServerReference points an OAuthClient at the server that issues its client id.
type ServerReference struct {
	// kind is AuthorizationServer (in the client's namespace) or
	// ClusterAuthorizationServer. Defaults to AuthorizationServer.
	// +optional
	// +kubebuilder:default=AuthorizationServer
	Kind ServerKind `json:"kind,omitempty"`

	// name is the name of the server object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// RedirectURI is an absolute redirection URI, compared by exact string match
// (RFC 6749 §3.1.2, RFC 9700 §2.1): https, http on a loopback address only,
// or a private-use scheme; never a fragment, a wildcard or a script scheme.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="self.matches('^[a-zA-Z][a-zA-Z0-9+.-]*:')",message="must be an absolute URI with a scheme"
// +kubebuilder:validation:XValidation:rule="!self.contains('#')",message="must not contain a fragment"
// +kubebuilder:validation:XValidation:rule="!self.lowerAscii().matches('^(javascript|data|vbscript|file|about|blob):')",message="scheme is not allowed for a redirect URI"
// +kubebuilder:validation:XValidation:rule="!self.lowerAscii().startsWith('http:') || self.matches('^(?i)http://(127([.][0-9]{1,3}){3}|[[]::1[]]|localhost)(:[0-9]{1,5})?([/?].*)?$')",message="plain http is allowed only for a loopback host (127.0.0.0/8, [::1], localhost); use https"
// +kubebuilder:validation:XValidation:rule="!self.lowerAscii().startsWith('https:') || self.matches('^(?i)https://[^/?#*@]+([/?].*)?$')",message="https redirect URI must have a host, no user info and no wildcard"
type RedirectURI string

// WebURL is an absolute http(s) URL of a web page, image or document.
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="self.lowerAscii().startsWith('https://') || self.lowerAscii().startsWith('http://')",message="must be an absolute http or https URL"
type WebURL string

// HTTPSURL is an absolute https URL.
// +kubebuilder:validation:MaxLength=2048
// +kubebuilder:validation:XValidation:rule="self.lowerAscii().startsWith('https://')",message="must be an absolute https URL"
type HTTPSURL string

// DeletionPolicy says what happens at the authorization server when an
// OAuthClient is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete deletes the registration at the server and the credentials Secret.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the registration at the server and keeps the
	// credentials Secret (its owner reference is removed) so nothing is lost.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// ApplicationType is the OpenID Connect application_type.
// +kubebuilder:validation:Enum=web;native
type ApplicationType string

// SubjectType is the OpenID Connect subject_type.
// +kubebuilder:validation:Enum=public;pairwise
type SubjectType string

// SecretKeys names the data keys of the credentials Secret.
type SecretKeys struct {
	// clientID is the key holding the client id. Defaults to client_id.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	ClientID string `json:"clientID,omitempty"`
	// clientSecret is the key holding the client secret. Defaults to client_secret.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	ClientSecret string `json:"clientSecret,omitempty"`
	// registrationAccessToken is the key holding the RFC 7592 registration
	// access token. Defaults to registration_access_token.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	RegistrationAccessToken string `json:"registrationAccessToken,omitempty"`
	// registrationClientURI is the key holding the RFC 7592 client
	// configuration endpoint. Defaults to registration_client_uri.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	RegistrationClientURI string `json:"registrationClientURI,omitempty"`
	// issuer is the key holding the issuer the client belongs to. Defaults to issuer.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Issuer string `json:"issuer,omitempty"`
}

// SecretTemplate shapes the credentials Secret.
type SecretTemplate struct {
	// labels are added to the Secret.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Labels map[string]string `json:"labels,omitempty"`
	// annotations are added to the Secret.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	Annotations map[string]string `json:"annotations,omitempty"`
	// keys renames the Secret's data keys.
	// +optional
	Keys *SecretKeys `json:"keys,omitempty"`
}

// Rotation configures credential rotation.
type Rotation struct {
	// interval rotates the credentials when they are this old. Unset or 0s
	// rotates only on expiry or on request (the oauth.clientreg.dev/rotate
	// annotation set to a new value).
	// +optional
	Interval *metav1.Duration `json:"interval,omitempty"`

	// overlap is how long the previous registration stays valid after a
	// rotation that had to register a new client (RFC 7592 has no secret
	// rotation). Its credentials stay in the Secret under previous_* keys
	// meanwhile, then the old client is deleted at the server. Defaults to 1h.
	// +optional
	// +kubebuilder:default="1h"
	Overlap *metav1.Duration `json:"overlap,omitempty"`
}

// AdoptFrom names an existing registration to take over.
type AdoptFrom struct {
	// secretName is a Secret in the OAuthClient's namespace holding
	// client_id, registration_access_token and registration_client_uri (and
	// client_secret, if any) of an existing registration. The operator
	// verifies it with an RFC 7592 read and takes it over without
	// re-registering or rotating. It may equal spec.secretName, in which case
	// that Secret comes under the OAuthClient's control.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`
}

// OAuthClientSpec is the desired client registration. Member names follow
// RFC 7591 and OpenID Connect Dynamic Client Registration 1.0 in Kubernetes
// camelCase.
//
// serverRef and secretName are required by CEL rules here rather than by the
// schema's required list: a missing required member makes the API server
// skip every CEL rule of the enclosing object and add "some validation rules
// were not checked because the object was invalid" to the one message that
// matters.
// +kubebuilder:validation:XValidation:rule="has(self.serverRef)",message="serverRef is required: the AuthorizationServer or ClusterAuthorizationServer that issues the client id",fieldPath=".serverRef",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="has(self.secretName)",message="secretName is required: the Secret that receives the credentials",fieldPath=".secretName",reason=FieldValueRequired
// +kubebuilder:validation:XValidation:rule="!(has(self.jwks) && has(self.jwksURI))",message="jwks and jwksURI are mutually exclusive (RFC 7591 §2)",fieldPath=".jwksURI"
type OAuthClientSpec struct {
	// serverRef names the AuthorizationServer or ClusterAuthorizationServer
	// that issues the client id. Required (a CEL rule on spec). Immutable.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="serverRef is immutable; create a new OAuthClient instead"
	ServerRef ServerReference `json:"serverRef"`

	// secretName is the Secret, in the OAuthClient's namespace, that receives
	// the credentials. The Secret is created and controlled by this object; an
	// existing Secret controlled by anything else is never overwritten.
	// Required (a CEL rule on spec). Immutable.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="secretName is immutable"
	SecretName string `json:"secretName"`

	// secretTemplate adds labels and annotations to the Secret and renames its keys.
	// +optional
	SecretTemplate *SecretTemplate `json:"secretTemplate,omitempty"`

	// rotation configures credential rotation.
	// +optional
	Rotation *Rotation `json:"rotation,omitempty"`

	// adoptFrom takes over an existing registration instead of registering.
	// +optional
	AdoptFrom *AdoptFrom `json:"adoptFrom,omitempty"`

	// deletionPolicy says what happens to the registration when this object is
	// deleted. Defaults to Delete.
	// +optional
	// +kubebuilder:default=Delete
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// redirectURIs is redirect_uris: the redirection URIs, compared by exact match.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	RedirectURIs []RedirectURI `json:"redirectURIs,omitempty"`

	// tokenEndpointAuthMethod is token_endpoint_auth_method: none,
	// client_secret_basic, client_secret_post, client_secret_jwt,
	// private_key_jwt, tls_client_auth, self_signed_tls_client_auth or an
	// absolute URI. Defaults (at the server) to client_secret_basic.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	TokenEndpointAuthMethod string `json:"tokenEndpointAuthMethod,omitempty"`

	// grantTypes is grant_types. Defaults (at the server) to [authorization_code].
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=256
	GrantTypes []string `json:"grantTypes,omitempty"`

	// responseTypes is response_types. Defaults to [code] for
	// authorization_code clients and to none for clients without a
	// redirect-based grant.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=256
	ResponseTypes []string `json:"responseTypes,omitempty"`

	// clientName is client_name: the name shown to end users.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ClientName string `json:"clientName,omitempty"`

	// clientURI is client_uri: the client's home page.
	// +optional
	ClientURI WebURL `json:"clientURI,omitempty"`

	// logoURI is logo_uri: the client's logo.
	// +optional
	LogoURI WebURL `json:"logoURI,omitempty"`

	// scope is scope: space-separated scope values the client may request.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$`
	Scope string `json:"scope,omitempty"`

	// contacts is contacts: ways to contact the people responsible for the client.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=320
	Contacts []string `json:"contacts,omitempty"`

	// tosURI is tos_uri: the terms of service.
	// +optional
	TOSURI WebURL `json:"tosURI,omitempty"`

	// policyURI is policy_uri: the privacy policy.
	// +optional
	PolicyURI WebURL `json:"policyURI,omitempty"`

	// jwksURI is jwks_uri: where the client's public JWK Set is published.
	// Mutually exclusive with jwks.
	// +optional
	JWKSURI HTTPSURL `json:"jwksURI,omitempty"`

	// jwks is jwks: the client's public JWK Set by value. Mutually exclusive
	// with jwksURI. Private and symmetric keys are refused.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	JWKS *apiextensionsv1.JSON `json:"jwks,omitempty"`

	// softwareID is software_id.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	SoftwareID string `json:"softwareID,omitempty"`

	// softwareVersion is software_version.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	SoftwareVersion string `json:"softwareVersion,omitempty"`

	// applicationType is the OpenID Connect application_type: web or native.
	// +optional
	ApplicationType ApplicationType `json:"applicationType,omitempty"`

	// sectorIdentifierURI is sector_identifier_uri.
	// +optional
	SectorIdentifierURI HTTPSURL `json:"sectorIdentifierURI,omitempty"`

	// subjectType is subject_type: public or pairwise.
	// +optional
	SubjectType SubjectType `json:"subjectType,omitempty"`

	// idTokenSignedResponseAlg is id_token_signed_response_alg.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	IDTokenSignedResponseAlg string `json:"idTokenSignedResponseAlg,omitempty"`

	// idTokenEncryptedResponseAlg is id_token_encrypted_response_alg.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	IDTokenEncryptedResponseAlg string `json:"idTokenEncryptedResponseAlg,omitempty"`

	// idTokenEncryptedResponseEnc is id_token_encrypted_response_enc.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	IDTokenEncryptedResponseEnc string `json:"idTokenEncryptedResponseEnc,omitempty"`

	// userinfoSignedResponseAlg is userinfo_signed_response_alg.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UserinfoSignedResponseAlg string `json:"userinfoSignedResponseAlg,omitempty"`

	// requestObjectSigningAlg is request_object_signing_alg.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RequestObjectSigningAlg string `json:"requestObjectSigningAlg,omitempty"`

	// tokenEndpointAuthSigningAlg is token_endpoint_auth_signing_alg; never none.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self != 'none'",message="must not be none"
	TokenEndpointAuthSigningAlg string `json:"tokenEndpointAuthSigningAlg,omitempty"`

	// defaultMaxAge is default_max_age in seconds.
	// +optional
	// +kubebuilder:validation:Minimum=0
	DefaultMaxAge *int64 `json:"defaultMaxAge,omitempty"`

	// requireAuthTime is require_auth_time.
	// +optional
	RequireAuthTime *bool `json:"requireAuthTime,omitempty"`

	// defaultACRValues is default_acr_values.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=256
	DefaultACRValues []string `json:"defaultACRValues,omitempty"`

	// initiateLoginURI is initiate_login_uri.
	// +optional
	InitiateLoginURI HTTPSURL `json:"initiateLoginURI,omitempty"`

	// requestURIs is request_uris.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=20
	RequestURIs []HTTPSURL `json:"requestURIs,omitempty"`

	// postLogoutRedirectURIs is post_logout_redirect_uris (OpenID Connect
	// RP-Initiated Logout).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	PostLogoutRedirectURIs []RedirectURI `json:"postLogoutRedirectURIs,omitempty"`

	// frontchannelLogoutURI is frontchannel_logout_uri.
	// +optional
	FrontchannelLogoutURI WebURL `json:"frontchannelLogoutURI,omitempty"`

	// backchannelLogoutURI is backchannel_logout_uri.
	// +optional
	BackchannelLogoutURI WebURL `json:"backchannelLogoutURI,omitempty"`

	// userinfoEncryptedResponseAlg is userinfo_encrypted_response_alg.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UserinfoEncryptedResponseAlg string `json:"userinfoEncryptedResponseAlg,omitempty"`

	// userinfoEncryptedResponseEnc is userinfo_encrypted_response_enc.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UserinfoEncryptedResponseEnc string `json:"userinfoEncryptedResponseEnc,omitempty"`

	// requestObjectEncryptionAlg is request_object_encryption_alg.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RequestObjectEncryptionAlg string `json:"requestObjectEncryptionAlg,omitempty"`

	// requestObjectEncryptionEnc is request_object_encryption_enc.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RequestObjectEncryptionEnc string `json:"requestObjectEncryptionEnc,omitempty"`

	// frontchannelLogoutSessionRequired is frontchannel_logout_session_required.
	// +optional
	FrontchannelLogoutSessionRequired *bool `json:"frontchannelLogoutSessionRequired,omitempty"`

	// backchannelLogoutSessionRequired is backchannel_logout_session_required.
	// +optional
	BackchannelLogoutSessionRequired *bool `json:"backchannelLogoutSessionRequired,omitempty"`

	// tlsClientAuthSubjectDN is tls_client_auth_subject_dn (RFC 8705); with
	// tokenEndpointAuthMethod tls_client_auth exactly one tlsClientAuth* field is set.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	TLSClientAuthSubjectDN string `json:"tlsClientAuthSubjectDN,omitempty"`

	// tlsClientAuthSANDNS is tls_client_auth_san_dns (RFC 8705).
	// +optional
	// +kubebuilder:validation:MaxLength=253
	TLSClientAuthSANDNS string `json:"tlsClientAuthSANDNS,omitempty"`

	// tlsClientAuthSANURI is tls_client_auth_san_uri (RFC 8705).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	TLSClientAuthSANURI string `json:"tlsClientAuthSANURI,omitempty"`

	// tlsClientAuthSANIP is tls_client_auth_san_ip (RFC 8705).
	// +optional
	// +kubebuilder:validation:MaxLength=45
	TLSClientAuthSANIP string `json:"tlsClientAuthSANIP,omitempty"`

	// tlsClientAuthSANEmail is tls_client_auth_san_email (RFC 8705).
	// +optional
	// +kubebuilder:validation:MaxLength=320
	TLSClientAuthSANEmail string `json:"tlsClientAuthSANEmail,omitempty"`

	// extraMetadata holds further registration members passed to the server
	// verbatim, under their wire (snake_case) names, and language-tagged
	// human-readable members such as "client_name#ja-Jpan-JP" (string
	// values). A member that duplicates one of the fields above is refused.
	// +optional
	// +kubebuilder:validation:MaxProperties=64
	ExtraMetadata map[string]apiextensionsv1.JSON `json:"extraMetadata,omitempty"`
}

// OAuthClientStatus is the observed state of an OAuthClient. It never holds a
// secret: credentials live only in the Secret named by status.secretName.
type OAuthClientStatus struct {
	// observedGeneration is the generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready summarises; Registered and SecretSynced detail.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// clientID is the client id issued for this client (public by nature).
	// +optional
	ClientID string `json:"clientID,omitempty"`

	// shortClientID is clientID shortened for display (its first 16 and
	// last 8 characters when it is longer than 40; stateless ids are JWTs of
	// hundreds to thousands of characters). kubectl get -o wide shows it; the
	// full id is in clientID and in the Secret.
	// +optional
	ShortClientID string `json:"shortClientID,omitempty"`

	// issuer is the issuer the client id belongs to.
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// clientIDIssuedAt is client_id_issued_at.
	// +optional
	ClientIDIssuedAt *metav1.Time `json:"clientIDIssuedAt,omitempty"`

	// clientSecretExpiresAt is client_secret_expires_at; unset when the
	// credentials never expire.
	// +optional
	ClientSecretExpiresAt *metav1.Time `json:"clientSecretExpiresAt,omitempty"`

	// registrationClientURI is the RFC 7592 client configuration endpoint.
	// +optional
	RegistrationClientURI string `json:"registrationClientURI,omitempty"`

	// secretName is the Secret that holds the current credentials.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// lastRotationTime is when the credentials were last replaced.
	// +optional
	LastRotationTime *metav1.Time `json:"lastRotationTime,omitempty"`

	// nextRotationTime is when the credentials will next be replaced (by the
	// rotation interval or before expiry), when known.
	// +optional
	NextRotationTime *metav1.Time `json:"nextRotationTime,omitempty"`

	// pendingRegistration names a registration request whose result was
	// lost: the server may hold a client the operator cannot see, and no new
	// registration is made until the annotation
	// oauth.clientreg.dev/recover-registration is set to its id. The request
	// itself is marked, before it is sent, by the annotation
	// oauth.clientreg.dev/registration-attempt.
	// +optional
	PendingRegistration *PendingRegistration `json:"pendingRegistration,omitempty"`

	// resolvedRegistrationAttempt is the id of the last registration attempt
	// whose outcome is known: its credentials were stored, or the server
	// refused it, or the request was abandoned by recover-registration.
	// +optional
	ResolvedRegistrationAttempt string `json:"resolvedRegistrationAttempt,omitempty"`

	// metadataDocument is the client's published Client ID Metadata Document
	// (servers with clientIDMetadataDocument): its URL, which is the client
	// id, what is served there, and the state of its keys.
	// +optional
	MetadataDocument *MetadataDocumentStatus `json:"metadataDocument,omitempty"`

	// retiringClientID is the client id of the previous registration kept
	// valid during a rotation overlap.
	// +optional
	RetiringClientID string `json:"retiringClientID,omitempty"`

	// retireAt is when the previous registration is deleted.
	// +optional
	RetireAt *metav1.Time `json:"retireAt,omitempty"`

	// deletionAttempts counts failed attempts to delete the registration at
	// the server while this object is being deleted.
	// +optional
	DeletionAttempts int32 `json:"deletionAttempts,omitempty"`

	// deletionDeadline is when the operator stops retrying to delete the
	// registration at the server (set at the first failed attempt, the
	// manager's --deletion-timeout later). After it the object reports
	// DeletionBlocked until the annotation
	// oauth.clientreg.dev/abandon-registration=true lets go of the
	// registration, or an annotation change asks for one more attempt.
	// +optional
	DeletionDeadline *metav1.Time `json:"deletionDeadline,omitempty"`

	// observedRotationRequest is the last value of the
	// oauth.clientreg.dev/rotate annotation that was acted upon.
	// +optional
	ObservedRotationRequest string `json:"observedRotationRequest,omitempty"`
}

// PendingRegistration identifies a registration request whose result is not stored yet.
type PendingRegistration struct {
	// id identifies the attempt; the recover-registration annotation names it.
	ID string `json:"id"`
	// startedAt is when the request was about to be sent.
	StartedAt metav1.Time `json:"startedAt"`
	// endpoint is the registration endpoint the request went to.
	// +optional
	Endpoint string `json:"endpoint,omitempty"`
}

// OAuthClient is an OAuth 2.0 client registered at, or minted by, an
// AuthorizationServer or ClusterAuthorizationServer. Its credentials land in
// the Secret named by spec.secretName.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=oac,categories=clientreg
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.spec.secretName`
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.status.metadataDocument.url`
// +kubebuilder:printcolumn:name="Server",type=string,JSONPath=`.spec.serverRef.name`,priority=1
// +kubebuilder:printcolumn:name="ClientID",type=string,JSONPath=`.status.shortClientID`,priority=1
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.status.clientSecretExpiresAt`,priority=1
// +kubebuilder:printcolumn:name="Next-Rotation",type=date,JSONPath=`.status.nextRotationTime`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type OAuthClient struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired registration.
	// +required
	Spec OAuthClientSpec `json:"spec"`
	// status is the observed registration.
	// It defaults to {observedGeneration: 0} until the operator first writes
	// it, so kstatus (Flux, kpt) reads a fresh object as InProgress rather
	// than Current.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status OAuthClientStatus `json:"status,omitempty"`
}

// OAuthClientList is a list of OAuthClients.
//
// +kubebuilder:object:root=true
type OAuthClientList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the OAuthClients.
	Items []OAuthClient `json:"items"`
}

// SecretKeyNames returns the data key names of the credentials Secret: the
// defaults, overridden by spec.secretTemplate.keys.
func (c *OAuthClient) SecretKeyNames() SecretKeys {
	k := SecretKeys{
		ClientID:                DefaultKeyClientID,
		ClientSecret:            DefaultKeyClientSecret,
		RegistrationAccessToken: DefaultKeyRegistrationAccessToken,
		RegistrationClientURI:   DefaultKeyRegistrationClientURI,
		Issuer:                  DefaultKeyIssuer,
	}
	if t := c.Spec.SecretTemplate; t != nil && t.Keys != nil {
		for _, f := range []struct {
			dst *string
			v   string
		}{
			{&k.ClientID, t.Keys.ClientID},
			{&k.ClientSecret, t.Keys.ClientSecret},
			{&k.RegistrationAccessToken, t.Keys.RegistrationAccessToken},
			{&k.RegistrationClientURI, t.Keys.RegistrationClientURI},
			{&k.Issuer, t.Keys.Issuer},
		} {
			if f.v != "" {
				*f.dst = f.v
			}
		}
	}
	return k
}

// MetadataDocumentStatus is a client's published Client ID Metadata
// Document. Everything in it is public.
type MetadataDocumentStatus struct {
	// url is the document's URL, which is the client id.
	URL string `json:"url"`
	// document is the JSON served at url while the client is Ready.
	// +optional
	Document string `json:"document,omitempty"`
	// jwks is the JWK Set served at the document's jwks_uri (keys
	// publication JWKSURI).
	// +optional
	JWKS string `json:"jwks,omitempty"`
	// activeKeyID is the kid of the key in the Secret.
	// +optional
	ActiveKeyID string `json:"activeKeyID,omitempty"`
	// nextKeyID is the kid of a key published ahead of its use.
	// +optional
	NextKeyID string `json:"nextKeyID,omitempty"`
	// nextKeyActiveAt is when the Secret switches to the next key: when
	// every authorization server that follows the document's max-age has
	// seen it.
	// +optional
	NextKeyActiveAt *metav1.Time `json:"nextKeyActiveAt,omitempty"`
	// retiredKeyID is the kid of a replaced key still published.
	// +optional
	RetiredKeyID string `json:"retiredKeyID,omitempty"`
	// retiredKeyWithdrawAt is when the replaced key leaves the document.
	// +optional
	RetiredKeyWithdrawAt *metav1.Time `json:"retiredKeyWithdrawAt,omitempty"`
}
