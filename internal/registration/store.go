package registration

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
	"github.com/clientreg/clientreg/internal/clientmeta"
	"github.com/clientreg/clientreg/registrar/endpoint"
	"github.com/clientreg/clientreg/registrar/metadata"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// The endpoint creates and deletes the OAuthClients of Stateful registrations.
// (An RBAC marker is a package-level marker: in a type's doc comment
// controller-gen ignores it.)
// +kubebuilder:rbac:groups=oauth.clientreg.dev,resources=oauthclients,verbs=get;list;watch;create;update;patch;delete

// Store keeps Stateful registrations as OAuthClient objects and their Secrets.
type Store struct {
	// Client reads through the manager's cache and writes to the API server.
	Client client.Client
	// APIReader reads uncached. Management requests (GET/PUT/DELETE) use it
	// so that a deleted or edited registration is seen at once on every
	// replica: a token must stop working the moment its client is deleted.
	APIReader client.Reader
	// Resolver finds the server objects.
	Resolver *Resolver
	// WaitTimeout bounds how long a registration waits for its credentials
	// (default 30s; a dynamic server registers upstream first).
	WaitTimeout time.Duration
	// PollInterval is how often the wait looks (default 50ms; 1s once
	// WatchCache wakes the wait on every change).
	PollInterval time.Duration

	notifier notifier
	notified bool // WatchCache was called

}

var (
	_ endpoint.Store          = (*Store)(nil)
	_ endpoint.SoftwareFinder = (*Store)(nil)
)

// where returns the server object and the namespace registrations go to.
func (s *Store) where(ctx context.Context, srv *endpoint.Server) (oauthv1alpha1.ServerObject, string, error) {
	kind, ns, name, ok := parsePath(srv.Path)
	if !ok {
		return nil, "", endpoint.ErrNoServer
	}
	obj, err := s.Resolver.object(ctx, kind, ns, name)
	if err != nil {
		return nil, "", err
	}
	return obj, oauthv1alpha1.ReferencedNamespace(obj, obj.GetSpec().RegistrationEndpoint.Namespace, s.Resolver.ClusterResourceNamespace), nil
}

func serverLabels(obj oauthv1alpha1.ServerObject) map[string]string {
	name := obj.GetName()
	if len(name) > 63 {
		name = name[:63]
	}
	return map[string]string{oauthv1alpha1.LabelRegisteredVia: oauthv1alpha1.RegisteredViaEndpoint, oauthv1alpha1.LabelServerKind: string(obj.ServerKind()), oauthv1alpha1.LabelServerName: name}
}

// Create stores a registration as an OAuthClient, waits for its credentials
// and returns them. A registration that does not get credentials in time is
// deleted again (its caller never learns its token, so nobody could use it).
func (s *Store) Create(ctx context.Context, srv *endpoint.Server, md *metadata.Metadata, softwareStatement string, ratHash [32]byte) (*endpoint.Registration, error) {
	obj, ns, err := s.where(ctx, srv)
	if err != nil {
		return nil, err
	}
	name, err := newName()
	if err != nil {
		return nil, err
	}
	oc := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   ns,
			Name:        name,
			Labels:      serverLabels(obj),
			Annotations: map[string]string{oauthv1alpha1.AnnotationRATHash: hex.EncodeToString(ratHash[:])},
			// Set at creation: saves the reconciler a patch per registration.
			Finalizers: []string{oauthv1alpha1.FinalizerOAuthClient},
		},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:      oauthv1alpha1.ServerReference{Kind: obj.ServerKind(), Name: obj.GetName()},
			SecretName:     name,
			DeletionPolicy: oauthv1alpha1.DeletionPolicyDelete,
		},
	}
	if softwareStatement != "" {
		oc.Annotations[oauthv1alpha1.AnnotationSoftwareStatement] = softwareStatement
	}
	clientmeta.ApplyToSpec(md, &oc.Spec)
	if err := s.checkMint(ctx, obj, &oc.Spec); err != nil {
		return nil, err
	}
	if err := s.Client.Create(ctx, oc); err != nil {
		if apierrors.IsInvalid(err) {
			return nil, invalidMetadata(err)
		}
		return nil, fmt.Errorf("storing the registration: %w", err)
	}
	reg, err := s.wait(ctx, srv, oc, 0)
	if err != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_ = s.Client.Delete(dctx, oc)
		return nil, err
	}
	return reg, nil
}

// checkMint refuses, before anything is stored, a registration of a
// stateless server whose client id the reconciler could not mint: metadata
// too large for sci.MaxClientIDLength, or keys that cannot become its cnf
// claim. It mints the id the reconciler would mint (same metadata, read back
// from spec as the reconciler reads it, same keys and settings) and discards
// it; the answers are the Stateless storage mode's. Otherwise the
// OAuthClient would be created, fail with InvalidMetadata (a Warning Event
// and an error in the log) and be deleted again.
func (s *Store) checkMint(ctx context.Context, obj oauthv1alpha1.ServerObject, spec *oauthv1alpha1.OAuthClientSpec) error {
	be, err := s.Resolver.Backends.For(obj)
	if err != nil {
		return nil // the reconciler reports the server's backend
	}
	md, errs := clientmeta.FromSpec(spec)
	if len(errs) > 0 {
		return nil // the API server refuses the object with these errors
	}
	err = be.CheckIssue(ctx, obj, md)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sci.ErrTooLarge):
		return endpoint.ClientIDTooLarge()
	case errors.Is(err, backend.ErrUnusableClientKeys):
		return endpoint.UnusableClientKeys()
	}
	// The reconciler could not mint either (no keys yet, an invalid
	// spec): nothing is stored, and the client may retry.
	return fmt.Errorf("%w: the server cannot mint client ids: %v", endpoint.ErrUnavailable, err)
}

// invalidMetadata turns the API server's refusal into a registration error.
func invalidMetadata(err error) error {
	msg := "the metadata is refused"
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Details != nil {
		var parts []string
		for _, c := range se.Status().Details.Causes {
			parts = append(parts, c.Field+": "+c.Message)
		}
		if len(parts) > 0 {
			msg = strings.Join(parts, "; ")
		}
	}
	return metadata.ErrorList{{Member: "", Index: -1, Code: metadata.CodeInvalidClientMetadata, Detail: asciiOnly(msg)}}
}

func asciiOnly(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < 300; i++ {
		if c := s[i]; c >= 0x20 && c <= 0x7e && c != '"' && c != '\\' {
			b = append(b, c)
		}
	}
	return string(b)
}

// wait polls until the OAuthClient is Ready at a generation >= minGen and
// its Secret holds a client id.
func (s *Store) wait(ctx context.Context, srv *endpoint.Server, oc *oauthv1alpha1.OAuthClient, minGen int64) (*endpoint.Registration, error) {
	timeout := s.WaitTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	poll := s.PollInterval
	if poll <= 0 {
		poll = 50 * time.Millisecond
		if s.notified {
			poll = time.Second
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	key := client.ObjectKeyFromObject(oc)
	// Subscribed before the first look, so no change between them is missed.
	changed, unsubscribe := s.notifier.subscribe(key)
	defer unsubscribe()
	for {
		cur := &oauthv1alpha1.OAuthClient{}
		if err := s.Client.Get(ctx, key, cur); err == nil {
			cond := meta.FindStatusCondition(cur.Status.Conditions, oauthv1alpha1.ConditionReady)
			if cond != nil && cond.Status == metav1.ConditionTrue && cur.Status.ObservedGeneration >= minGen && cur.Status.ObservedGeneration == cur.Generation {
				if reg, err := s.registration(ctx, srv, cur); err == nil {
					return reg, nil
				}
			}
			if cond != nil && cond.Status == metav1.ConditionFalse && permanent(cond.Reason) && cur.Status.ObservedGeneration == cur.Generation {
				return nil, metadata.ErrorList{{Index: -1, Code: metadata.CodeInvalidClientMetadata, Detail: asciiOnly(cond.Message)}}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: no credentials within %s", endpoint.ErrUnavailable, timeout)
		case <-changed:
		case <-time.After(poll):
		}
	}
}

// permanent reasons end a wait: the registration will not get credentials.
func permanent(reason string) bool {
	switch reason {
	case oauthv1alpha1.ReasonInvalidMetadata, oauthv1alpha1.ReasonRegistrationRejected, oauthv1alpha1.ReasonInvalidSpec:
		return true
	}
	return false
}

// registration reads an OAuthClient of srv and its Secret; the metadata
// gets the defaults of srv's registration policy, as at registration.
func (s *Store) registration(ctx context.Context, srv *endpoint.Server, oc *oauthv1alpha1.OAuthClient) (*endpoint.Registration, error) {
	sec := &corev1.Secret{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: oc.Namespace, Name: oc.Spec.SecretName}, sec); err != nil {
		return nil, fmt.Errorf("reading the credentials: %w", err)
	}
	k := oc.SecretKeyNames()
	if len(sec.Data[k.ClientID]) == 0 {
		return nil, errors.New("no client id yet")
	}
	md, errs := clientmeta.FromSpec(&oc.Spec)
	if len(errs) > 0 {
		return nil, fmt.Errorf("reading the registration: %v", errs.ToAggregate())
	}
	reg := &endpoint.Registration{
		Handle:            oc.Name,
		ClientID:          string(sec.Data[k.ClientID]),
		ClientSecret:      string(sec.Data[k.ClientSecret]),
		Metadata:          metadata.WithDefaults(md, srv.MetadataPolicy()),
		SoftwareStatement: oc.Annotations[oauthv1alpha1.AnnotationSoftwareStatement],
	}
	if t := oc.Status.ClientIDIssuedAt; t != nil {
		reg.ClientIDIssuedAt = t.Time
	}
	if t := oc.Status.ClientSecretExpiresAt; t != nil {
		reg.ClientSecretExpiresAt = t.Time
	}
	if h, err := hex.DecodeString(oc.Annotations[oauthv1alpha1.AnnotationRATHash]); err == nil && len(h) == 32 {
		copy(reg.RATHash[:], h)
	}
	return reg, nil
}

// get reads the OAuthClient of a handle, if it belongs to srv and is not being deleted.
func (s *Store) get(ctx context.Context, srv *endpoint.Server, handle string) (*oauthv1alpha1.OAuthClient, error) {
	obj, ns, err := s.where(ctx, srv)
	if err != nil {
		return nil, err
	}
	oc := &oauthv1alpha1.OAuthClient{}
	if err := s.reader().Get(ctx, client.ObjectKey{Namespace: ns, Name: handle}, oc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, endpoint.ErrNotFound
		}
		return nil, fmt.Errorf("reading the registration: %w", err)
	}
	want := serverLabels(obj)
	if !oc.DeletionTimestamp.IsZero() || oc.Labels[oauthv1alpha1.LabelRegisteredVia] != oauthv1alpha1.RegisteredViaEndpoint ||
		oc.Spec.ServerRef.Name != obj.GetName() || oc.Labels[oauthv1alpha1.LabelServerKind] != want[oauthv1alpha1.LabelServerKind] {
		return nil, endpoint.ErrNotFound
	}
	return oc, nil
}

func (s *Store) reader() client.Reader {
	if s.APIReader != nil {
		return s.APIReader
	}
	return s.Client
}

// Get returns a registration; deleted and foreign ones are not found.
func (s *Store) Get(ctx context.Context, srv *endpoint.Server, handle string) (*endpoint.Registration, error) {
	oc, err := s.get(ctx, srv, handle)
	if err != nil {
		return nil, err
	}
	reg, err := s.registration(ctx, srv, oc)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", endpoint.ErrUnavailable, err)
	}
	return reg, nil
}

// Update replaces the registration's metadata and, optionally, its token hash.
func (s *Store) Update(ctx context.Context, srv *endpoint.Server, handle string, md *metadata.Metadata, newRATHash *[32]byte) (*endpoint.Registration, error) {
	oc, err := s.get(ctx, srv, handle)
	if err != nil {
		return nil, err
	}
	patch := client.MergeFromWithOptions(oc.DeepCopy(), client.MergeFromWithOptimisticLock{})
	if md != nil {
		before := oc.Spec.DeepCopy()
		clientmeta.ApplyToSpec(md, &oc.Spec)
		changed := len(clientmeta.ChangedMembers(before, &oc.Spec)) > 0
		switch {
		case srv.Keys != nil && oc.Status.ClientID != "" && changed:
			// A stateless server signs the registration into the client
			// id, so a change would need a new client id, which RFC 7592
			// §2.2 forbids (and the stateless-id draft says such servers
			// should not offer updates): refused, nothing changes.
			return nil, endpoint.StatelessUpdateForbidden()
		case srv.Keys != nil && oc.Status.ClientID != "":
			// Nothing changes: answered as a read, no mint needed.
		default:
			obj, _, err := s.where(ctx, srv)
			if err != nil {
				return nil, err
			}
			if err := s.checkMint(ctx, obj, &oc.Spec); err != nil {
				return nil, err
			}
		}
	}
	if newRATHash != nil {
		oc.Annotations[oauthv1alpha1.AnnotationRATHash] = hex.EncodeToString(newRATHash[:])
	}
	if err := s.Client.Patch(ctx, oc, patch); err != nil {
		if apierrors.IsInvalid(err) {
			return nil, invalidMetadata(err)
		}
		return nil, fmt.Errorf("updating the registration: %w", err)
	}
	return s.wait(ctx, srv, oc, oc.Generation)
}

// Delete deletes the registration's OAuthClient; its finalizer deletes the
// Secret (and, for a dynamic server, the client upstream).
func (s *Store) Delete(ctx context.Context, srv *endpoint.Server, handle string) error {
	oc, err := s.get(ctx, srv, handle)
	if err != nil {
		return err
	}
	if err := s.Client.Delete(ctx, oc, client.Preconditions{UID: &oc.UID}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting the registration: %w", err)
	}
	return nil
}

// Count counts the server's registrations.
func (s *Store) Count(ctx context.Context, srv *endpoint.Server) (int, error) {
	_, list, err := s.cachedRegistrations(ctx, srv)
	if err != nil {
		return 0, err
	}
	return len(list.Items), nil
}

// FindSoftware returns the names of the server's registrations (not being
// deleted) with this software_id and software_version: candidates from the
// cache, each confirmed with an uncached read. The endpoint calls it under a
// per-server lock, and a registration is answered only once the cache shows
// it Ready, so on one replica the cache is never behind an earlier
// registration of the same software; a deletion or edit the cache does not
// show yet is caught by the confirmation.
func (s *Store) FindSoftware(ctx context.Context, srv *endpoint.Server, softwareID, softwareVersion string) ([]string, error) {
	obj, list, err := s.cachedRegistrations(ctx, srv)
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range list.Items {
		oc := &list.Items[i]
		if !oc.DeletionTimestamp.IsZero() || oc.Spec.ServerRef.Name != obj.GetName() ||
			oc.Spec.SoftwareID != softwareID || oc.Spec.SoftwareVersion != softwareVersion {
			continue
		}
		// A match (rare: only duplicates) is confirmed uncached: one deleted
		// or edited a moment ago does not count.
		fresh := &oauthv1alpha1.OAuthClient{}
		if err := s.reader().Get(ctx, client.ObjectKeyFromObject(oc), fresh); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("reading registration %s: %w", oc.Name, err)
		}
		if fresh.DeletionTimestamp.IsZero() && fresh.Spec.SoftwareID == softwareID && fresh.Spec.SoftwareVersion == softwareVersion {
			out = append(out, oc.Name)
		}
	}
	return out, nil
}

// newName returns "reg-" and 16 random base32 characters (80 bits).
func newName() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a name: %w", err)
	}
	return "reg-" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// LookupClientID finds a registration by client id, for the older OpenID
// Connect drafts' client_update, which names the client by id and secret.
// It scans the server's registrations in the cache and confirms the match
// with an uncached read.
func (s *Store) LookupClientID(ctx context.Context, srv *endpoint.Server, clientID string) (*endpoint.Registration, error) {
	_, list, err := s.cachedRegistrations(ctx, srv)
	if err != nil {
		return nil, err
	}
	for i := range list.Items {
		if list.Items[i].Status.ClientID == clientID {
			return s.Get(ctx, srv, list.Items[i].Name)
		}
	}
	return nil, endpoint.ErrNotFound
}

// cachedRegistrations returns the server object and its registrations,
// listed from the cache.
func (s *Store) cachedRegistrations(ctx context.Context, srv *endpoint.Server) (oauthv1alpha1.ServerObject, *oauthv1alpha1.OAuthClientList, error) {
	obj, ns, err := s.where(ctx, srv)
	if err != nil {
		return nil, nil, err
	}
	list := &oauthv1alpha1.OAuthClientList{}
	if err := s.Client.List(ctx, list, client.InNamespace(ns), client.MatchingLabels(serverLabels(obj))); err != nil {
		return nil, nil, fmt.Errorf("listing registrations: %w", err)
	}
	return obj, list, nil
}
