package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// SecretKeySelector selects one key of a Secret.
type SecretKeySelector struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// key within the Secret's data.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key"`
	// namespace of the Secret. Only a ClusterAuthorizationServer may set it;
	// a namespaced AuthorizationServer always reads its own namespace.
	// Defaults to the operator's cluster resource namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
}

// UnauthorizedPolicy says what the reconciler does when the client
// configuration endpoint answers 401, which RFC 7592 uses both for a client
// that no longer exists and for an invalid registration access token.
// +kubebuilder:validation:Enum=Stop;Reregister
type UnauthorizedPolicy string

const (
	// UnauthorizedStop stops with a Ready=False condition and keeps the stored
	// credentials; a person decides.
	UnauthorizedStop UnauthorizedPolicy = "Stop"
	// UnauthorizedReregister registers a new client and replaces the stored credentials.
	UnauthorizedReregister UnauthorizedPolicy = "Reregister"
)

// DynamicRegistration obtains client ids from a remote authorization server
// with RFC 7591 and keeps them in sync with RFC 7592.
type DynamicRegistration struct {
	// issuerURL is the authorization server's issuer; discovery
	// (OpenID Connect and RFC 8414 well-known paths) finds the registration
	// endpoint.
	// +required
	IssuerURL HTTPSURL `json:"issuerURL"`

	// registrationEndpoint overrides the discovered registration endpoint.
	// +optional
	RegistrationEndpoint HTTPSURL `json:"registrationEndpoint,omitempty"`

	// initialAccessToken is the RFC 7591 initial access token, from a Secret.
	// +optional
	InitialAccessToken *SecretKeySelector `json:"initialAccessToken,omitempty"`

	// softwareStatement is an RFC 7591 software statement, from a Secret.
	// +optional
	SoftwareStatement *SecretKeySelector `json:"softwareStatement,omitempty"`

	// caBundle is a PEM bundle of CAs trusted for the server's TLS certificate,
	// instead of the system roots.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CABundle []byte `json:"caBundle,omitempty"`

	// resyncInterval is how often a Ready client is compared with the server
	// (RFC 7592 read). Defaults to 10m.
	// +optional
	// +kubebuilder:default="10m"
	ResyncInterval *metav1.Duration `json:"resyncInterval,omitempty"`

	// timeout bounds each call to the server. Defaults to 30s.
	// +optional
	// +kubebuilder:default="30s"
	Timeout *metav1.Duration `json:"timeout,omitempty"`

	// onUnauthorized is the policy when the client configuration endpoint
	// answers 401: Stop (default) or Reregister.
	// +optional
	// +kubebuilder:default=Stop
	OnUnauthorized UnauthorizedPolicy `json:"onUnauthorized,omitempty"`
}

// SigningAlgorithm is a JWS algorithm for stateless client ids.
// +kubebuilder:validation:Enum=ES256;EdDSA;RS256
type SigningAlgorithm string

const (
	// SigningES256 is ECDSA P-256 with SHA-256 (the default).
	SigningES256 SigningAlgorithm = "ES256"
	// SigningEdDSA is Ed25519.
	SigningEdDSA SigningAlgorithm = "EdDSA"
	// SigningRS256 is RSASSA-PKCS1-v1_5 with SHA-256 and a 2048-bit key.
	SigningRS256 SigningAlgorithm = "RS256"
)

// EncryptionMode says whether and to whom stateless client ids are encrypted.
// +kubebuilder:validation:Enum=None;Generated;RecipientKey
type EncryptionMode string

const (
	// EncryptionNone issues signed-only ids. They carry nothing secret: the
	// client secret is derived with a key kept in the key Secret.
	EncryptionNone EncryptionMode = "None"
	// EncryptionGenerated encrypts ids (nested JWE, ECDH-ES+A256KW/A256GCM) to
	// a key pair the operator generates and keeps in the key Secret, for an
	// authorization server that reads that Secret (such as the embedded
	// registration endpoint). The client secret travels inside the JWE.
	EncryptionGenerated EncryptionMode = "Generated"
	// EncryptionRecipientKey encrypts ids to the authorization server's public
	// key given in recipientKey. The client secret travels inside the JWE.
	EncryptionRecipientKey EncryptionMode = "RecipientKey"
)

// StatelessEncryption configures nested (signed, then encrypted) client ids.
// +kubebuilder:validation:XValidation:rule="self.mode != 'RecipientKey' || has(self.recipientKey)",message="recipientKey is required when mode is RecipientKey",fieldPath=".recipientKey"
// +kubebuilder:validation:XValidation:rule="self.mode == 'RecipientKey' || !has(self.recipientKey)",message="recipientKey is only allowed when mode is RecipientKey",fieldPath=".recipientKey"
type StatelessEncryption struct {
	// mode is None (signed only), Generated or RecipientKey. Defaults to None.
	// +optional
	// +kubebuilder:default=None
	Mode EncryptionMode `json:"mode,omitempty"`

	// recipientKey is the authorization server's public JWK (EC P-256 for
	// ECDH-ES+A256KW, or RSA for RSA-OAEP-256). Private members are refused.
	// +optional
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	RecipientKey *apiextensionsv1.JSON `json:"recipientKey,omitempty"`
}

// StatelessServer mints client ids itself as JWTs
// (draft-bradley-oauth-stateless-client-id).
type StatelessServer struct {
	// issuer is the iss claim of minted ids: the authorization server's issuer URL.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['https', 'http'] && url(self).getHostname() != ''",message="must be an absolute http(s) URL"
	Issuer string `json:"issuer"`

	// audience is the aud claim. Defaults to issuer.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Audience string `json:"audience,omitempty"`

	// signingAlgorithm is ES256 (default), EdDSA or RS256.
	// +optional
	// +kubebuilder:default=ES256
	SigningAlgorithm SigningAlgorithm `json:"signingAlgorithm,omitempty"`

	// clientIDLifetime is how long a minted id (and its secret) stays valid;
	// clients are re-minted before it runs out. 0s means ids never expire, and
	// retired keys are then published forever. Defaults to 2160h (90 days).
	// +optional
	// +kubebuilder:default="2160h"
	ClientIDLifetime *metav1.Duration `json:"clientIDLifetime,omitempty"`

	// keyRotationInterval is how often a new signing key is generated. The
	// retired key stays published until every id it signed has expired.
	// 0s disables rotation. Defaults to 720h (30 days).
	// +optional
	// +kubebuilder:default="720h"
	KeyRotationInterval *metav1.Duration `json:"keyRotationInterval,omitempty"`

	// encryption configures nested JWE client ids.
	// +optional
	Encryption *StatelessEncryption `json:"encryption,omitempty"`

	// authorizationServer says where the minted ids are used: the
	// authorization server whose issuer is spec.stateless.issuer, whose
	// metadata (OpenID Connect Discovery, then RFC 8414) the operator reads
	// as it does a dynamic server's, or whose endpoints are given here. Its
	// authorization and token endpoints are published in status and in the
	// embedded registration endpoint's discovery documents; without them those
	// documents advertise no grant type (they describe a registration
	// service, not an authorization server).
	// +optional
	AuthorizationServer *StatelessAuthorizationServer `json:"authorizationServer,omitempty"`

	// keySecretName is the Secret that holds the keys (private, never
	// published). It is created and controlled by the server object, in the
	// server's namespace (for a ClusterAuthorizationServer, in the operator's
	// cluster resource namespace). Defaults to <server name>-stateless-keys.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	KeySecretName string `json:"keySecretName,omitempty"`
}

// StatelessAuthorizationServer names the endpoints of the authorization
// server that accepts a stateless server's client ids.
type StatelessAuthorizationServer struct {
	// caBundle is a PEM bundle of CAs trusted for the issuer's TLS
	// certificate when its metadata is discovered; empty means the system's.
	// +optional
	CABundle []byte `json:"caBundle,omitempty"`

	// authorizationEndpoint, when set, is used instead of the discovered one.
	// +optional
	AuthorizationEndpoint HTTPSURL `json:"authorizationEndpoint,omitempty"`

	// tokenEndpoint, when set, is used instead of the discovered one. When
	// both endpoints are set, nothing is discovered.
	// +optional
	TokenEndpoint HTTPSURL `json:"tokenEndpoint,omitempty"`
}

// RegistrationStorage says where the embedded endpoint keeps registrations.
// +kubebuilder:validation:Enum=Stateful;Stateless
type RegistrationStorage string

const (
	// StorageStateful stores each registration as an OAuthClient (and its
	// Secret), visible to kubectl and GitOps; the registration access token
	// is kept only as a hash.
	StorageStateful RegistrationStorage = "Stateful"
	// StorageStateless stores nothing ("stateless open registration"): the
	// client id carries the registration, the registration access token is a
	// signed read-only token, PUT and DELETE are refused. Stateless servers only.
	StorageStateless RegistrationStorage = "Stateless"
)

// RATRotation says when the embedded endpoint replaces a registration access token.
// +kubebuilder:validation:Enum=Never;OnRead;OnUpdate;OnReadAndUpdate
type RATRotation string

// RegistrationPolicy limits what the embedded endpoint registers.
type RegistrationPolicy struct {
	// allowedRedirectHosts lists the hosts redirect URIs may use: exact host
	// names, or "*.example.com" for any subdomain. Empty allows any host the
	// RFC rules allow. A refused URI gets invalid_redirect_uri.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	AllowedRedirectHosts []string `json:"allowedRedirectHosts,omitempty"`
	// allowedGrantTypes limits grant_types. Empty allows every supported one.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=256
	AllowedGrantTypes []string `json:"allowedGrantTypes,omitempty"`
	// allowedAuthMethods limits token_endpoint_auth_method. Empty allows every supported one.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=20
	// +kubebuilder:validation:items:MaxLength=256
	AllowedAuthMethods []string `json:"allowedAuthMethods,omitempty"`
	// maxClients caps the registrations a Stateful endpoint keeps. 0 = no cap.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MaxClients int32 `json:"maxClients,omitempty"`
	// rateLimit limits how fast registrations are accepted (RFC 7591 §3:
	// open registration MAY be rate-limited). Over the limit a registration
	// is answered 429 with Retry-After. Unset: no limit.
	// +optional
	RateLimit *RegistrationRateLimit `json:"rateLimit,omitempty"`
	// singleInstanceSoftwareIDs lists software_id values of single-instance
	// software (RFC 7591 §5): a registration with one of them whose
	// software_id and software_version equal those of a registration this
	// server keeps is refused with invalid_client_metadata. Stateful storage
	// only: a Stateless endpoint keeps no registrations to compare with.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	SingleInstanceSoftwareIDs []string `json:"singleInstanceSoftwareIDs,omitempty"`
}

// RegistrationRateLimit is a token bucket per server and per replica: it
// holds burst registrations and refills at registrationsPerMinute. Every
// registration request that passed the initial access token check and whose
// body decoded counts, whether its metadata is valid or not (RFC 7591 POSTs
// and the older OpenID Connect drafts' client_associate); RFC 7592
// management requests do not.
type RegistrationRateLimit struct {
	// registrationsPerMinute is the sustained rate.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000000
	RegistrationsPerMinute int32 `json:"registrationsPerMinute"`
	// burst is how many registrations may arrive at once (the bucket size).
	// Default: registrationsPerMinute / 6, at least 1 (ten seconds' worth).
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Burst int32 `json:"burst,omitempty"`
}

// TrustedSoftwareStatementIssuer is a publisher whose software statements
// the endpoint accepts; their claims win over the JSON body (RFC 7591 §2.3).
type TrustedSoftwareStatementIssuer struct {
	// issuer is the statement's iss.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	Issuer string `json:"issuer"`
	// jwks is the publisher's public JWK Set.
	// +required
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	JWKS apiextensionsv1.JSON `json:"jwks"`
}

// RegistrationEndpoint exposes an RFC 7591 / RFC 7592 endpoint for a server.
// +kubebuilder:validation:XValidation:rule="self.open || has(self.initialAccessTokens)",message="initialAccessTokens is required unless open is true",fieldPath=".initialAccessTokens"
// +kubebuilder:validation:XValidation:rule="!has(self.policy) || !has(self.policy.singleInstanceSoftwareIDs) || size(self.policy.singleInstanceSoftwareIDs) == 0 || !has(self.storage) || self.storage != 'Stateless'",message="policy.singleInstanceSoftwareIDs needs Stateful storage: a Stateless endpoint keeps no registrations to compare with",fieldPath=".policy.singleInstanceSoftwareIDs"
type RegistrationEndpoint struct {
	// open allows registration without an initial access token.
	// +optional
	Open bool `json:"open,omitempty"`
	// initialAccessTokens names a Secret whose every data value is an
	// accepted initial access token (RFC 7591 §3; at least 32 bytes each).
	// +optional
	InitialAccessTokens *SecretReference `json:"initialAccessTokens,omitempty"`
	// storage is Stateful (default) or Stateless.
	// +optional
	// +kubebuilder:default=Stateful
	Storage RegistrationStorage `json:"storage,omitempty"`
	// namespace is where a ClusterAuthorizationServer's Stateful registrations
	// are stored. A namespaced server stores them in its own namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// rotateRegistrationAccessToken: Never (default), OnRead, OnUpdate or OnReadAndUpdate.
	// +optional
	// +kubebuilder:default=Never
	RotateRegistrationAccessToken RATRotation `json:"rotateRegistrationAccessToken,omitempty"`
	// policy limits what is registered.
	// +optional
	Policy *RegistrationPolicy `json:"policy,omitempty"`
	// softwareStatementIssuers are trusted software statement publishers.
	// +optional
	// +listType=map
	// +listMapKey=issuer
	// +kubebuilder:validation:MaxItems=16
	SoftwareStatementIssuers []TrustedSoftwareStatementIssuer `json:"softwareStatementIssuers,omitempty"`
}

// AuthorizationServerSpec says how client ids are obtained. Exactly one of
// dynamicRegistration, stateless and clientIDMetadataDocument is set; the
// backend cannot be changed.
// The backend union: one list entry per member (see BackendMember), so a new
// member is one more entry in each rule.
// +kubebuilder:validation:XValidation:rule="[has(self.dynamicRegistration), has(self.stateless), has(self.clientIDMetadataDocument)].filter(m, m).size() == 1",message="exactly one of dynamicRegistration, stateless or clientIDMetadataDocument must be set"
// +kubebuilder:validation:XValidation:rule="[has(self.dynamicRegistration), has(self.stateless), has(self.clientIDMetadataDocument)] == [has(oldSelf.dynamicRegistration), has(oldSelf.stateless), has(oldSelf.clientIDMetadataDocument)]",message="the backend (dynamicRegistration, stateless or clientIDMetadataDocument) cannot be changed; create a new server object"
// +kubebuilder:validation:XValidation:rule="!has(self.clientIDMetadataDocument) || !has(self.registrationEndpoint)",message="registrationEndpoint is not available with clientIDMetadataDocument: its clients are declared as OAuthClient objects",fieldPath=".registrationEndpoint"
// +kubebuilder:validation:XValidation:rule="!has(self.registrationEndpoint) || !has(self.registrationEndpoint.storage) || self.registrationEndpoint.storage != 'Stateless' || has(self.stateless)",message="registrationEndpoint.storage Stateless needs a stateless server",fieldPath=".registrationEndpoint.storage"
type AuthorizationServerSpec struct {
	// dynamicRegistration registers clients at a remote authorization server
	// (RFC 7591) and keeps them in sync (RFC 7592).
	// +optional
	DynamicRegistration *DynamicRegistration `json:"dynamicRegistration,omitempty"`

	// stateless mints client ids as signed (optionally encrypted) JWTs.
	// +optional
	Stateless *StatelessServer `json:"stateless,omitempty"`

	// clientIDMetadataDocument gives each client an HTTPS URL as its client
	// id and serves the client's metadata there
	// (draft-ietf-oauth-client-id-metadata-document): the authorization
	// server fetches it and keeps no registration.
	// +optional
	ClientIDMetadataDocument *ClientIDMetadataDocumentServer `json:"clientIDMetadataDocument,omitempty"`

	// registrationEndpoint exposes this server's RFC 7591 / RFC 7592
	// registration endpoint on the operator's embedded HTTPS server.
	// +optional
	RegistrationEndpoint *RegistrationEndpoint `json:"registrationEndpoint,omitempty"`
}

// ClientIDMetadataDocumentServer publishes Client ID Metadata Documents. The
// manager serves them on every replica, on the HTTPS listener of the
// embedded endpoint (--registration-bind-address, with its certificate),
// which must be reachable at baseURL.
type ClientIDMetadataDocumentServer struct {
	// baseURL is the public https URL under which documents are served. An
	// OAuthClient's client id is <baseURL>/<namespace>/<name>, so it stays
	// the same as long as the object does. It must use a host name, not an
	// IP literal (authorization servers refuse private addresses), and have
	// no query, fragment or user info. Proxies in front of the manager must
	// keep the Host header and the path.
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''",message="must be an absolute https URL"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^https://[0-9.]+(:[0-9]*)?(/.*)?$') && !self.startsWith('https://[')",message="must use a host name, not an IP address: authorization servers refuse IP literals"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#') && !self.contains('@')",message="must not have a query, fragment or user info"
	BaseURL string `json:"baseURL"`

	// issuer is the issuer of the authorization server that accepts these
	// clients. It is written to each client's Secret (key issuer) for the
	// client's convenience; documents do not depend on it.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Issuer string `json:"issuer,omitempty"`

	// cacheMaxAge is the Cache-Control max-age documents are served with:
	// how long an authorization server may use a document without fetching
	// it again. A spec change or a deletion reaches an authorization server
	// within it; a new key is used only after it (and
	// keys.propagationMargin) has passed.
	// +optional
	// +kubebuilder:default="5m"
	CacheMaxAge *metav1.Duration `json:"cacheMaxAge,omitempty"`

	// keys configures the key pairs the operator generates for
	// private_key_jwt clients that bring no keys of their own.
	// +optional
	Keys *DocumentKeys `json:"keys,omitempty"`

	// rateLimit bounds the requests for this server's documents, all of
	// them together, on each replica.
	// +optional
	RateLimit *DocumentRateLimit `json:"rateLimit,omitempty"`
}

// DocumentKeys configures the client keys of a metadata document server.
type DocumentKeys struct {
	// algorithm of generated keys; a client's
	// token_endpoint_auth_signing_alg, when set, wins.
	// +optional
	// +kubebuilder:validation:Enum=ES256;EdDSA;RS256
	// +kubebuilder:default=ES256
	Algorithm string `json:"algorithm,omitempty"`

	// publication says where public keys are published: JWKS in the
	// document's jwks member, JWKSURI at a same-origin jwks_uri
	// (<client id>/jwks).
	// +optional
	// +kubebuilder:validation:Enum=JWKS;JWKSURI
	// +kubebuilder:default=JWKS
	Publication KeyPublication `json:"publication,omitempty"`

	// propagationMargin is added to cacheMaxAge before a key published
	// ahead of its use goes into the Secret: authorization servers that
	// cached the document without it must have fetched it again.
	// +optional
	// +kubebuilder:default="30s"
	PropagationMargin *metav1.Duration `json:"propagationMargin,omitempty"`

	// retiredKeyOverlap is how long a replaced key stays published after the
	// Secret switched away from it, for clients that have not reloaded the
	// Secret yet.
	// +optional
	// +kubebuilder:default="10m"
	RetiredKeyOverlap *metav1.Duration `json:"retiredKeyOverlap,omitempty"`
}

// KeyPublication says where a document's public keys are published.
type KeyPublication string

// Key publications.
const (
	KeyPublicationJWKS    KeyPublication = "JWKS"
	KeyPublicationJWKSURI KeyPublication = "JWKSURI"
)

// DocumentRateLimit is a token bucket over a server's documents.
type DocumentRateLimit struct {
	// requestsPerSecond is the sustained rate.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=100
	RequestsPerSecond int32 `json:"requestsPerSecond"`
	// burst is the bucket size; 0 means twice requestsPerSecond.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Burst int32 `json:"burst,omitempty"`
}

// The members of the backend union of AuthorizationServerSpec, by their JSON
// names. A backend registers under the member it serves.
const (
	MemberDynamicRegistration      = "dynamicRegistration"
	MemberStateless                = "stateless"
	MemberClientIDMetadataDocument = "clientIDMetadataDocument"
)

// BackendMemberTitle names a member of the backend union for people.
func BackendMemberTitle(member string) string {
	switch member {
	case MemberDynamicRegistration:
		return "dynamic registration"
	case MemberStateless:
		return "stateless client ids"
	case MemberClientIDMetadataDocument:
		return "client ID metadata documents"
	}
	return member
}

// BackendMember returns the member of the backend union that is set, or ""
// when none is (the schema requires exactly one; the first set wins).
func (s *AuthorizationServerSpec) BackendMember() string {
	switch {
	case s.DynamicRegistration != nil:
		return MemberDynamicRegistration
	case s.Stateless != nil:
		return MemberStateless
	case s.ClientIDMetadataDocument != nil:
		return MemberClientIDMetadataDocument
	}
	return ""
}

// KeyStatus describes one published key.
type KeyStatus struct {
	// kid is the key id.
	KeyID string `json:"kid"`
	// use is sig or enc.
	Use string `json:"use"`
	// alg is the key's algorithm.
	Algorithm string `json:"alg"`
	// createdAt is when the key was generated.
	CreatedAt metav1.Time `json:"createdAt"`
	// retiredAt is when the key stopped being used for new ids.
	// +optional
	RetiredAt *metav1.Time `json:"retiredAt,omitempty"`
	// publishUntil is when the retired key is removed: when the last id it
	// signed expires.
	// +optional
	PublishUntil *metav1.Time `json:"publishUntil,omitempty"`
}

// AuthorizationServerStatus is the observed state of a server object.
type AuthorizationServerStatus struct {
	// observedGeneration is the generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready summarises; KeysReady details stateless keys.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=16
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// issuer is the issuer of the ids this server issues.
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// registrationEndpoint is the RFC 7591 registration endpoint in use
	// (discovered or configured), for dynamicRegistration.
	// +optional
	RegistrationEndpoint string `json:"registrationEndpoint,omitempty"`

	// endpointIssuer is the issuer of this server's embedded registration
	// endpoint, when spec.registrationEndpoint is set and the operator was
	// started with a base URL.
	// +optional
	EndpointIssuer string `json:"endpointIssuer,omitempty"`

	// tokenEndpoint is the authorization server's token endpoint: discovered
	// for dynamicRegistration, and for stateless with
	// spec.stateless.authorizationServer.
	// +optional
	TokenEndpoint string `json:"tokenEndpoint,omitempty"`

	// authorizationEndpoint is the authorization server's authorization
	// endpoint, found as tokenEndpoint is.
	// +optional
	AuthorizationEndpoint string `json:"authorizationEndpoint,omitempty"`

	// jwks is the public JWK Set (JSON) that verifies this server's stateless
	// client ids: the active key and every retired key still in use.
	// +optional
	JWKS string `json:"jwks,omitempty"`

	// keys lists the published keys.
	// +optional
	// +listType=map
	// +listMapKey=kid
	// +kubebuilder:validation:MaxItems=64
	Keys []KeyStatus `json:"keys,omitempty"`

	// keySecretRef names the Secret holding the private keys.
	// +optional
	KeySecretRef *SecretReference `json:"keySecretRef,omitempty"`

	// nextKeyRotationTime is when the signing key is next rotated.
	// +optional
	NextKeyRotationTime *metav1.Time `json:"nextKeyRotationTime,omitempty"`
}

// SecretReference names a Secret.
type SecretReference struct {
	// name of the Secret.
	Name string `json:"name"`
	// namespace of the Secret.
	Namespace string `json:"namespace"`
}

// AuthorizationServer issues client ids for OAuthClients in its namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=oas,categories=clientreg
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.status.issuer`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AuthorizationServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says how client ids are obtained.
	// +required
	Spec AuthorizationServerSpec `json:"spec"`
	// status is the observed state.
	// It defaults to {observedGeneration: 0} until the operator first writes
	// it, so kstatus (Flux, kpt) reads a fresh object as InProgress rather
	// than Current.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status AuthorizationServerStatus `json:"status,omitempty"`
}

// AuthorizationServerList is a list of AuthorizationServers.
//
// +kubebuilder:object:root=true
type AuthorizationServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the servers.
	Items []AuthorizationServer `json:"items"`
}

// ClusterAuthorizationServer issues client ids for OAuthClients in every
// namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=coas,categories=clientreg
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Issuer",type=string,JSONPath=`.status.issuer`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterAuthorizationServer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec says how client ids are obtained.
	// +required
	Spec AuthorizationServerSpec `json:"spec"`
	// status is the observed state.
	// It defaults to {observedGeneration: 0} until the operator first writes
	// it, so kstatus (Flux, kpt) reads a fresh object as InProgress rather
	// than Current.
	// +kubebuilder:default={observedGeneration: 0}
	// +optional
	Status AuthorizationServerStatus `json:"status,omitempty"`
}

// ClusterAuthorizationServerList is a list of ClusterAuthorizationServers.
//
// +kubebuilder:object:root=true
type ClusterAuthorizationServerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the servers.
	Items []ClusterAuthorizationServer `json:"items"`
}

// ServerObject is implemented by both server kinds so controllers handle them alike.
// +kubebuilder:object:generate=false
type ServerObject interface {
	// GetSpec returns the server's spec.
	GetSpec() *AuthorizationServerSpec
	// GetStatus returns the server's status.
	GetStatus() *AuthorizationServerStatus
	// Kind returns the server's kind.
	ServerKind() ServerKind
	metav1.Object
}

// ReferencedNamespace returns the namespace a namespace-valued reference of
// server (a Secret reference's namespace, registrationEndpoint.namespace)
// resolves to: a namespaced server's own namespace, whatever ref says (a
// different one is refused by validation); for a ClusterAuthorizationServer,
// ref when set, else clusterResourceNamespace.
func ReferencedNamespace(server ServerObject, ref, clusterResourceNamespace string) string {
	switch {
	case server.ServerKind() != KindClusterAuthorizationServer:
		return server.GetNamespace()
	case ref != "":
		return ref
	default:
		return clusterResourceNamespace
	}
}

// GetSpec returns the spec.
func (s *AuthorizationServer) GetSpec() *AuthorizationServerSpec { return &s.Spec }

// GetStatus returns the status.
func (s *AuthorizationServer) GetStatus() *AuthorizationServerStatus { return &s.Status }

// ServerKind returns KindAuthorizationServer.
func (s *AuthorizationServer) ServerKind() ServerKind { return KindAuthorizationServer }

// GetSpec returns the spec.
func (s *ClusterAuthorizationServer) GetSpec() *AuthorizationServerSpec { return &s.Spec }

// GetStatus returns the status.
func (s *ClusterAuthorizationServer) GetStatus() *AuthorizationServerStatus { return &s.Status }

// ServerKind returns KindClusterAuthorizationServer.
func (s *ClusterAuthorizationServer) ServerKind() ServerKind { return KindClusterAuthorizationServer }

// ServerKindOf is the kind a server reference names: AuthorizationServer
// when the kind is left out.
func ServerKindOf(ref ServerReference) ServerKind {
	if ref.Kind == "" {
		return KindAuthorizationServer
	}
	return ref.Kind
}

// ServerFor returns an empty object of the kind ref names and the key to
// read it with, for a reference made from an object in namespace (an
// AuthorizationServer is in that namespace, a ClusterAuthorizationServer in
// none).
func ServerFor(ref ServerReference, namespace string) (ServerObject, types.NamespacedName) {
	kind := ServerKindOf(ref)
	if kind == KindClusterAuthorizationServer {
		namespace = ""
	}
	return NewServer(kind), types.NamespacedName{Namespace: namespace, Name: ref.Name}
}

// NewServer returns an empty object of kind.
func NewServer(kind ServerKind) ServerObject {
	if kind == KindClusterAuthorizationServer {
		return &ClusterAuthorizationServer{}
	}
	return &AuthorizationServer{}
}
