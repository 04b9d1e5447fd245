// Package v1alpha1 is the admission webhook of the oauth.clientreg.dev/v1alpha1
// kinds: validation of OAuthClient, AuthorizationServer and
// ClusterAuthorizationServer for what the CRD schema and CEL rules cannot
// say, and defaulting of the server kinds.
//
// Validation uses the rules the reconciler and the embedded registration
// endpoint use (internal/clientmeta over registrar/metadata for client
// metadata; the stateless and dynamic backends' own checks for servers), and
// returns every violation at once as one Invalid error with field paths.
// Updates are refused when the backend cannot honour them: a stateless
// client's registration is signed into its client id, so once minted it
// changes only together with a rotation request (the annotation
// oauth.clientreg.dev/rotate set to a new value). A namespaced server may not
// reference Secrets or store registrations in another namespace. Updates that
// leave the spec alone are never refused, so objects stored before a rule
// existed can still be annotated, finalized and deleted.
//
// Defaulting never changes what the user wrote. Constant defaults are in the
// CRD schema (the API server applies them on every read and in dry runs, so
// GitOps diffs see them too); RFC 7591 defaults (grant_types and the like) are
// applied when validating and never written into a spec, because they would
// be registered at the server and signed into stateless client ids. The only
// mutation is spec.stateless.keySecretName of a server, filled when empty
// with <name>-stateless-keys: the name the reconciler uses anyway, derived
// from the immutable object name, so it can never drift from Git's intent.
package v1alpha1
