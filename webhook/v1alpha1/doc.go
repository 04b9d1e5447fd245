// Package v1alpha1 will hold the admission webhook (defaulting and
// validation) for the oauth.clientreg.dev/v1alpha1 kinds. It is not built
// yet: today the API server enforces the CRD schema and CEL rules, and the
// reconciler applies the shared RFC 7591 rules (controllers/clientmeta)
// and reports violations as an InvalidMetadata condition.
package v1alpha1
