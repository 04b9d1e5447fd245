package v1alpha1

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/internal/clientmeta"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// +kubebuilder:webhook:path=/validate-oauth-clientreg-dev-v1alpha1-oauthclient,mutating=false,failurePolicy=fail,sideEffects=None,groups=oauth.clientreg.dev,resources=oauthclients,verbs=create;update,versions=v1alpha1,name=voauthclient-v1alpha1.oauth.clientreg.dev,admissionReviewVersions=v1,serviceName=clientreg-webhook-service,serviceNamespace=clientreg-system

// OAuthClientValidator validates OAuthClients with the rules the reconciler
// and the registration endpoint apply (internal/clientmeta over
// registrar/metadata), and refuses updates the backend cannot honour.
type OAuthClientValidator struct {
	// Reader reads the referenced server object, uncached, for the
	// backend's rules and the missing-server warning; nil skips them.
	Reader client.Reader
	// Policy is the metadata validation policy; the reconciler's must match.
	Policy metadata.Policy
	// Backends apply the rules of the client's backend when its server
	// exists: its metadata policy (backend.ClientPolicy), its rules for
	// clients (backend.ClientValidator) and for changing a registration that
	// has credentials (backend.RegistrationChangeValidator, such as the
	// stateless backend's: a minted registration is fixed). Nil skips them;
	// SetupWithManager requires it.
	Backends *backend.Registry
}

var _ admission.Validator[*oauthv1alpha1.OAuthClient] = (*OAuthClientValidator)(nil)

var oauthClientGK = schema.GroupKind{Group: oauthv1alpha1.GroupVersion.Group, Kind: "OAuthClient"}

// ValidateCreate checks the spec with the shared RFC 7591 rules.
func (v *OAuthClientValidator) ValidateCreate(ctx context.Context, obj *oauthv1alpha1.OAuthClient) (admission.Warnings, error) {
	srv := v.serverOf(obj)
	errs := v.validate(ctx, srv, nil, obj)
	return v.serverWarnings(ctx, srv, obj), invalid(oauthClientGK, obj.Name, errs)
}

// serverRead is the server of one admitted object, read at most once per
// admission however many rules ask for it.
type serverRead struct {
	v    *OAuthClientValidator
	obj  *oauthv1alpha1.OAuthClient
	done bool
	srv  oauthv1alpha1.ServerObject
	err  error
}

func (v *OAuthClientValidator) serverOf(obj *oauthv1alpha1.OAuthClient) *serverRead {
	return &serverRead{v: v, obj: obj}
}

// get reads the server object the client refers to: nil when it does not
// exist or there is no Reader.
func (r *serverRead) get(ctx context.Context) (oauthv1alpha1.ServerObject, error) {
	if !r.done && r.v.Reader != nil {
		r.srv, r.err = r.v.server(ctx, r.obj)
	}
	r.done = true
	return r.srv, r.err
}

// validate applies the shared rules with the policy of the client's backend
// (when its server exists), then the backend's own rules. A server that
// cannot be read leaves the shared rules with the manager's policy (the
// reconciler applies the backend's).
func (v *OAuthClientValidator) validate(ctx context.Context, sr *serverRead, oldObj, obj *oauthv1alpha1.OAuthClient) field.ErrorList {
	var b backend.Backend
	srv, err := sr.get(ctx)
	if err != nil {
		logf.FromContext(ctx).V(1).Info("cannot read the server of an OAuthClient", "error", err.Error())
	}
	if srv != nil && v.Backends != nil {
		b, _ = v.Backends.Lookup(srv.GetSpec().BackendMember())
	}
	policy := v.Policy
	if b != nil {
		policy = backend.ClientPolicy(b, policy)
	}
	md, errs := clientmeta.Validate(&obj.Spec, policy)
	if cv, ok := b.(backend.ClientValidator); ok && len(errs) == 0 {
		errs = cv.ValidateClient(srv, oldObj, obj, md)
	}
	return errs
}

// ValidateUpdate checks a changed spec with the shared rules and the rules
// of the client's backend on changing a registration that has credentials
// (the stateless backend refuses a change of a minted registration unless
// the same update asks for rotation). An update that leaves the spec alone
// (labels, annotations, finalizers) is never refused, so objects stored
// before a rule existed can still be deleted and rotated.
func (v *OAuthClientValidator) ValidateUpdate(ctx context.Context, oldObj, newObj *oauthv1alpha1.OAuthClient) (admission.Warnings, error) {
	if newObj.DeletionTimestamp != nil || equality.Semantic.DeepEqual(oldObj.Spec, newObj.Spec) {
		return nil, nil
	}
	srv := v.serverOf(newObj)
	errs := v.validate(ctx, srv, oldObj, newObj)
	warnings, immut, err := v.registrationChange(ctx, srv, oldObj, newObj)
	if err != nil {
		return nil, err
	}
	errs = append(errs, immut...)
	return warnings, invalid(oauthClientGK, newObj.Name, errs)
}

// ValidateDelete allows every deletion: deletionPolicy decides what happens.
func (v *OAuthClientValidator) ValidateDelete(context.Context, *oauthv1alpha1.OAuthClient) (admission.Warnings, error) {
	return nil, nil
}

// server reads the server object obj refers to; nil when it does not exist.
func (v *OAuthClientValidator) server(ctx context.Context, obj *oauthv1alpha1.OAuthClient) (oauthv1alpha1.ServerObject, error) {
	ref := obj.Spec.ServerRef
	srv, key := oauthv1alpha1.ServerFor(ref, obj.Namespace)
	if err := v.Reader.Get(ctx, key, srv.(client.Object)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s %s: %w", ref.Kind, key, err)
	}
	return srv, nil
}

// serverWarnings tells the user that the server does not exist (yet): the
// client waits for it, which is allowed so that manifests apply in any order.
func (v *OAuthClientValidator) serverWarnings(ctx context.Context, sr *serverRead, obj *oauthv1alpha1.OAuthClient) admission.Warnings {
	if v.Reader == nil {
		return nil
	}
	srv, err := sr.get(ctx)
	if err != nil {
		// validate has logged it.
		return nil
	}
	if srv == nil {
		return admission.Warnings{fmt.Sprintf("%s %q does not exist (yet); the client waits for it", oauthv1alpha1.ServerKindOf(obj.Spec.ServerRef), obj.Spec.ServerRef.Name)}
	}
	return nil
}

// registrationChange applies the rules of the client's backend on how a
// registration with credentials may change (backend.RegistrationChangeValidator),
// to an update that changes registered members. A server that cannot be read
// fails the update, since its rules cannot be checked; a missing server has
// nothing issued to protect.
func (v *OAuthClientValidator) registrationChange(ctx context.Context, sr *serverRead, oldObj, newObj *oauthv1alpha1.OAuthClient) (admission.Warnings, field.ErrorList, error) {
	if v.Reader == nil || v.Backends == nil || oldObj.Status.ClientID == "" {
		return nil, nil, nil
	}
	changed := clientmeta.ChangedMembers(&oldObj.Spec, &newObj.Spec)
	if len(changed) == 0 {
		return nil, nil, nil
	}
	srv, err := sr.get(ctx)
	if err != nil {
		return nil, nil, apierrors.NewInternalError(err)
	}
	if srv == nil {
		return nil, nil, nil
	}
	b, _ := v.Backends.Lookup(srv.GetSpec().BackendMember())
	rv, ok := b.(backend.RegistrationChangeValidator)
	if !ok {
		return nil, nil, nil
	}
	warnings, errs := rv.ValidateRegistrationChange(srv, oldObj, newObj, changed)
	return warnings, errs, nil
}

// invalid turns a field.ErrorList into the one Invalid error the API server
// shows (every error, with its field path), or nil.
func invalid(gk schema.GroupKind, name string, errs field.ErrorList) error {
	if len(errs) == 0 {
		return nil
	}
	return apierrors.NewInvalid(gk, name, errs)
}
