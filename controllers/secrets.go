package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

// errSecretConflict means a Secret of the wanted name exists and is controlled
// by someone else (or by no one). It is never overwritten.
var errSecretConflict = errors.New("secret exists and is not controlled by this object")

// secretWriter writes Secrets the operator owns, cert-manager style: create, or
// update in place when controlled by the owner; never adopt a foreign Secret;
// write nothing when nothing changed.
type secretWriter struct {
	client client.Client
	// apiReader reads uncached, for Secrets outside the label-selected cache.
	apiReader client.Reader
	scheme    *runtime.Scheme
}

// managedLabels are put on every Secret the operator writes; the manager's
// Secret cache selects on LabelManagedBy.
func managedLabels(ownerKind, ownerName string) map[string]string {
	return map[string]string{
		oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue,
		oauthv1alpha1.LabelOwnerKind: ownerKind,
		oauthv1alpha1.LabelOwnerName: truncateLabel(ownerName),
	}
}

func truncateLabel(v string) string {
	if len(v) > 63 {
		return v[:63]
	}
	return v
}

// get returns the Secret from the cache, or nil, nil when the cache does not
// have it. The cache holds only Secrets with the managed-by label, so a
// foreign Secret is invisible here: write finds it when its create fails.
func (w *secretWriter) get(ctx context.Context, key client.ObjectKey) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := w.client.Get(ctx, key, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	return s, nil
}

// getFresh is get with a fallback to an uncached read when the cache does not
// have the Secret (an unlabelled or foreign Secret, or a cache behind).
func (w *secretWriter) getFresh(ctx context.Context, key client.ObjectKey) (*corev1.Secret, error) {
	s, err := w.get(ctx, key)
	if err != nil || s != nil {
		return s, err
	}
	s = &corev1.Secret{}
	if err := w.apiReader.Get(ctx, key, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Secret %s: %w", key, err)
	}
	return s, nil
}

// write makes the Secret named by desired hold desired's data, labels and
// annotations, controlled by owner. Data is replaced whole (the operator owns
// it); labels and annotations are merged so others' additions survive.
// It returns whether anything was written and the resourceVersion stored.
func (w *secretWriter) write(ctx context.Context, owner client.Object, desired *corev1.Secret) (bool, string, error) {
	key := client.ObjectKeyFromObject(desired)
	existing, err := w.get(ctx, key)
	if err != nil {
		return false, "", err
	}
	if existing == nil {
		s := desired.DeepCopy()
		if err := controllerutil.SetControllerReference(owner, s, w.scheme); err != nil {
			return false, "", fmt.Errorf("setting owner of Secret %s: %w", key, err)
		}
		err := w.client.Create(ctx, s)
		if err == nil {
			return true, s.ResourceVersion, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return false, "", fmt.Errorf("creating Secret %s: %w", key, err)
		}
		// It exists but the cache does not have it: a foreign Secret, one of
		// ours whose label was removed, or a cache that is behind. Look.
		if existing, err = w.getFresh(ctx, key); err != nil {
			return false, "", err
		}
		if existing == nil {
			return false, "", fmt.Errorf("creating Secret %s: it exists but cannot be read", key)
		}
	}
	if !ours(existing, owner) {
		return false, "", errSecretConflict
	}
	updated := existing.DeepCopy()
	updated.Data = desired.Data
	updated.StringData = nil
	updated.Type = desired.Type
	if updated.Labels == nil {
		updated.Labels = map[string]string{}
	}
	maps.Copy(updated.Labels, desired.Labels)
	if len(desired.Annotations) > 0 {
		if updated.Annotations == nil {
			updated.Annotations = map[string]string{}
		}
		maps.Copy(updated.Annotations, desired.Annotations)
	}
	if secretEqual(existing, updated) {
		return false, existing.ResourceVersion, nil
	}
	if err := w.client.Update(ctx, updated); err != nil {
		return false, "", fmt.Errorf("updating Secret %s: %w", key, err)
	}
	return true, updated.ResourceVersion, nil
}

// ours reports whether s is a Secret the operator may write for owner:
// controlled by owner, and Opaque. A typed Secret (a service account token,
// say) is never ours, whoever made it point at owner: its type cannot change,
// and the Secret-write policy refuses every type but Opaque.
func ours(s *corev1.Secret, owner client.Object) bool {
	return metav1.IsControlledBy(s, owner) && (s.Type == "" || s.Type == corev1.SecretTypeOpaque)
}

func secretEqual(a, b *corev1.Secret) bool {
	if len(a.Data) != len(b.Data) || !maps.Equal(a.Labels, b.Labels) || !maps.Equal(a.Annotations, b.Annotations) {
		return false
	}
	for k, v := range a.Data {
		if w, ok := b.Data[k]; !ok || string(v) != string(w) {
			return false
		}
	}
	return true
}

// getOurs reads the Secret key fresh and returns it when owner controls it;
// nil when it does not exist or is someone else's.
func (w *secretWriter) getOurs(ctx context.Context, owner client.Object, key client.ObjectKey) (*corev1.Secret, error) {
	s, err := w.getFresh(ctx, key)
	if err != nil || s == nil || !ours(s, owner) {
		return nil, err
	}
	return s, nil
}

// deleteIfControlled deletes the Secret if owner controls it; a foreign
// Secret is left alone. The UID precondition makes sure a Secret recreated by
// someone else in the meantime is not deleted.
func (w *secretWriter) deleteIfControlled(ctx context.Context, owner client.Object, key client.ObjectKey) error {
	s, err := w.getOurs(ctx, owner, key)
	if err != nil || s == nil {
		return err
	}
	if err := w.client.Delete(ctx, s, client.Preconditions{UID: &s.UID}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Secret %s: %w", key, err)
	}
	return nil
}

// orphan removes owner's owner reference from the Secret so it survives the
// owner's deletion.
func (w *secretWriter) orphan(ctx context.Context, owner client.Object, key client.ObjectKey) error {
	s, err := w.getOurs(ctx, owner, key)
	if err != nil || s == nil {
		return err
	}
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	refs := s.OwnerReferences[:0]
	for _, r := range s.OwnerReferences {
		if r.UID != owner.GetUID() {
			refs = append(refs, r)
		}
	}
	s.OwnerReferences = refs
	if oc, ok := owner.(*oauthv1alpha1.OAuthClient); ok {
		// Said so that an OAuthClient of the same name and server may adopt
		// it later.
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		s.Annotations[oauthv1alpha1.AnnotationOrphanedFrom] = orphanedFromValue(oc)
	}
	if err := w.client.Patch(ctx, s, patch); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("orphaning Secret %s: %w", key, err)
	}
	return nil
}

// orphanedFromValue is the orphaned-from annotation of a Secret kept by c:
// its name and its server ("<name>/<server kind>/<server name>").
func orphanedFromValue(c *oauthv1alpha1.OAuthClient) string {
	return c.Name + "/" + string(oauthv1alpha1.ServerKindOf(c.Spec.ServerRef)) + "/" + c.Spec.ServerRef.Name
}

// orphanedFor reports whether s is a credentials Secret that an earlier
// OAuthClient of obj's name and server kept with deletionPolicy Orphan, and
// that obj can take over as it is: Opaque, managed by clientreg, controlled by
// nobody, its orphaned-from annotation naming obj's name and server (a
// registration is never moved to another server), and holding credentials
// under obj's Secret keys (a registration_client_uri with its token), so
// adopting never ends in a new registration that overwrites the kept one.
func orphanedFor(s *corev1.Secret, obj *oauthv1alpha1.OAuthClient) bool {
	if metav1.GetControllerOf(s) != nil || (s.Type != "" && s.Type != corev1.SecretTypeOpaque) ||
		s.Labels[oauthv1alpha1.LabelManagedBy] != oauthv1alpha1.ManagedByValue ||
		s.Annotations[oauthv1alpha1.AnnotationOrphanedFrom] != orphanedFromValue(obj) {
		return false
	}
	c := credentialsFromSecret(s, obj.SecretKeyNames(), "")
	return c.ClientID != "" && (c.RegistrationClientURI == "") == (c.RegistrationAccessToken == "")
}

// adopt makes owner the controller of the orphaned Secret s (optimistic lock:
// a Secret changed meanwhile is looked at again) and returns it.
func (w *secretWriter) adopt(ctx context.Context, owner client.Object, s *corev1.Secret) (*corev1.Secret, error) {
	s = s.DeepCopy()
	patch := client.MergeFromWithOptions(s.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if err := controllerutil.SetControllerReference(owner, s, w.scheme); err != nil {
		return nil, fmt.Errorf("adopting Secret %s: %w", client.ObjectKeyFromObject(s), err)
	}
	delete(s.Annotations, oauthv1alpha1.AnnotationOrphanedFrom)
	if err := w.client.Patch(ctx, s, patch); err != nil {
		return nil, fmt.Errorf("adopting Secret %s: %w", client.ObjectKeyFromObject(s), err)
	}
	return s, nil
}

// serverSecrets is the backend.SecretStore of the server reconcilers: the
// secretWriter's rules (Opaque, controlled by the owner, a foreign Secret
// refused) and the managed-by labels that put the Secret in the cache.
type serverSecrets struct{ w *secretWriter }

var _ backend.SecretStore = serverSecrets{}

// Get reads the Secret, past the cache when the cache lacks it.
func (s serverSecrets) Get(ctx context.Context, key types.NamespacedName) (*corev1.Secret, error) {
	return s.w.getFresh(ctx, key)
}

// Owns reports whether sec is the owner's to write.
func (s serverSecrets) Owns(sec *corev1.Secret, owner client.Object) bool { return ours(sec, owner) }

// Write stores desired as an Opaque Secret controlled by owner, a server.
func (s serverSecrets) Write(ctx context.Context, owner client.Object, desired *corev1.Secret) error {
	d := desired.DeepCopy()
	d.Type = corev1.SecretTypeOpaque
	if srv, ok := owner.(oauthv1alpha1.ServerObject); ok {
		if d.Labels == nil {
			d.Labels = map[string]string{}
		}
		maps.Copy(d.Labels, managedLabels(string(srv.ServerKind()), owner.GetName()))
	}
	_, _, err := s.w.write(ctx, owner, d)
	return err
}
