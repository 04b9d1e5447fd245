package controllers

import (
	"context"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

// SecretNamespacesFlag is the manager flag that restricts Secret access to
// some namespaces; it is named in the refusals so an operator knows what to
// change.
const SecretNamespacesFlag = "--secret-namespaces"

// secretScope is the set of namespaces whose Secrets the manager may read
// and write. The zero value allows every namespace.
type secretScope struct {
	// namespaces is nil when every namespace is allowed.
	namespaces map[string]bool
}

// newSecretScope returns the scope of listed plus clusterNS (where the
// Secrets of ClusterAuthorizationServers live); an empty list allows every
// namespace.
func newSecretScope(listed []string, clusterNS string) secretScope {
	if len(listed) == 0 {
		return secretScope{}
	}
	s := secretScope{namespaces: map[string]bool{}}
	for _, ns := range listed {
		if ns = strings.TrimSpace(ns); ns != "" {
			s.namespaces[ns] = true
		}
	}
	if len(s.namespaces) == 0 {
		return secretScope{}
	}
	if clusterNS != "" {
		s.namespaces[clusterNS] = true
	}
	return s
}

// all reports whether every namespace is allowed.
func (s secretScope) all() bool { return s.namespaces == nil }

// allows reports whether Secrets in ns may be read and written. The empty
// namespace (a cluster-wide list) is allowed only when every namespace is.
func (s secretScope) allows(ns string) bool {
	return s.all() || (ns != "" && s.namespaces[ns])
}

// list returns the allowed namespaces, sorted; nil when all are.
func (s secretScope) list() []string {
	if s.all() {
		return nil
	}
	out := make([]string, 0, len(s.namespaces))
	for ns := range s.namespaces {
		out = append(out, ns)
	}
	slices.Sort(out)
	return out
}

// refuse returns the PermanentError (reason SecretNamespaceNotAllowed) for
// an access to what (e.g. "Secret a/b") in ns.
func (s secretScope) refuse(ns, what string) error {
	if ns == "" {
		return backend.Permanent(oauthv1alpha1.ReasonSecretNamespaceNotAllowed,
			"%s: the manager reads Secrets only in the namespaces of its %s flag (%s), not cluster-wide",
			what, SecretNamespacesFlag, strings.Join(s.list(), ","))
	}
	return backend.Permanent(oauthv1alpha1.ReasonSecretNamespaceNotAllowed,
		"%s: namespace %q is not in the manager's %s flag (%s); add it there (and to the chart's rbac.secretNamespaces) to let clientreg use its Secrets",
		what, ns, SecretNamespacesFlag, strings.Join(s.list(), ","))
}

// check returns nil when obj is not a Secret (or Secret list) or when ns is
// allowed, else the refusal.
func (s secretScope) check(obj runtime.Object, ns, name string) error {
	if s.all() || !isSecret(obj) || s.allows(ns) {
		return nil
	}
	what := "Secrets"
	if name != "" {
		what = "Secret " + types.NamespacedName{Namespace: ns, Name: name}.String()
	} else if ns != "" {
		what = "Secrets in " + ns
	}
	return s.refuse(ns, what)
}

// isSecret reports whether obj is a Secret or a list of Secrets, typed or as
// metadata only.
func isSecret(obj runtime.Object) bool {
	switch o := obj.(type) {
	case *corev1.Secret, *corev1.SecretList:
		return true
	case *metav1.PartialObjectMetadata, *metav1.PartialObjectMetadataList:
		gvk := o.GetObjectKind().GroupVersionKind()
		return gvk.Group == "" && (gvk.Kind == "Secret" || gvk.Kind == "SecretList")
	}
	return false
}

// scopedReader refuses reads of Secrets outside its scope before they reach
// the API server (or the cache, which does not hold them).
type scopedReader struct {
	client.Reader
	scope secretScope
}

// Get refuses a Secret outside the scope, else delegates.
func (r scopedReader) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if err := r.scope.check(obj, key.Namespace, key.Name); err != nil {
		return err
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

// List refuses listing Secrets outside the scope (or cluster-wide), else
// delegates.
func (r scopedReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := r.scope.check(list, listNamespace(opts), ""); err != nil {
		return err
	}
	return r.Reader.List(ctx, list, opts...)
}

// scopedClient is scopedReader for a full client: writes of Secrets outside
// the scope are refused too. Everything else is delegated unchanged.
type scopedClient struct {
	client.Client
	scope secretScope
}

// Get refuses a Secret outside the scope, else delegates.
func (c scopedClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return scopedReader{Reader: c.Client, scope: c.scope}.Get(ctx, key, obj, opts...)
}

// List refuses listing Secrets outside the scope, else delegates.
func (c scopedClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return scopedReader{Reader: c.Client, scope: c.scope}.List(ctx, list, opts...)
}

// Create refuses a Secret outside the scope, else delegates.
func (c scopedClient) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	if err := c.scope.check(obj, obj.GetNamespace(), obj.GetName()); err != nil {
		return err
	}
	return c.Client.Create(ctx, obj, opts...)
}

// Update refuses a Secret outside the scope, else delegates.
func (c scopedClient) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if err := c.scope.check(obj, obj.GetNamespace(), obj.GetName()); err != nil {
		return err
	}
	return c.Client.Update(ctx, obj, opts...)
}

// Patch refuses a Secret outside the scope, else delegates.
func (c scopedClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if err := c.scope.check(obj, obj.GetNamespace(), obj.GetName()); err != nil {
		return err
	}
	return c.Client.Patch(ctx, obj, patch, opts...)
}

// Delete refuses a Secret outside the scope, else delegates.
func (c scopedClient) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	if err := c.scope.check(obj, obj.GetNamespace(), obj.GetName()); err != nil {
		return err
	}
	return c.Client.Delete(ctx, obj, opts...)
}

// DeleteAllOf refuses Secrets outside the scope, else delegates.
func (c scopedClient) DeleteAllOf(ctx context.Context, obj client.Object, opts ...client.DeleteAllOfOption) error {
	o := &client.DeleteAllOfOptions{}
	o.ApplyOptions(opts)
	if err := c.scope.check(obj, o.Namespace, ""); err != nil {
		return err
	}
	return c.Client.DeleteAllOf(ctx, obj, opts...)
}

func listNamespace(opts []client.ListOption) string {
	o := &client.ListOptions{}
	o.ApplyOptions(opts)
	return o.Namespace
}

// scopeClient and scopeReader wrap c and r unless every namespace is allowed.
func (s secretScope) scopeClient(c client.Client) client.Client {
	if s.all() {
		return c
	}
	return scopedClient{Client: c, scope: s}
}

func (s secretScope) scopeReader(r client.Reader) client.Reader {
	if s.all() {
		return r
	}
	return scopedReader{Reader: r, scope: s}
}

// serverSecretNamespaces returns, for each Secret (or set of Secrets) the
// server needs, a description and its namespace: those its backend names
// (ServerSecrets), the registration endpoint's initial access tokens and the
// namespace of its Stateful registrations (whose credentials are Secrets).
func serverSecretNamespaces(be backend.Backend, obj oauthv1alpha1.ServerObject, clusterNS string) [][2]string {
	nsOf := func(ref string) string { return oauthv1alpha1.ReferencedNamespace(obj, ref, clusterNS) }
	var out [][2]string
	for _, sec := range be.ServerSecrets(obj, clusterNS) {
		out = append(out, [2]string{sec.Description, sec.Namespace})
	}
	if re := obj.GetSpec().RegistrationEndpoint; re != nil {
		if !re.Open && re.InitialAccessTokens != nil {
			ns := nsOf(re.InitialAccessTokens.Namespace)
			out = append(out, [2]string{"initial access tokens Secret " + ns + "/" + re.InitialAccessTokens.Name, ns})
		}
		if re.Storage != oauthv1alpha1.StorageStateless {
			ns := nsOf(re.Namespace)
			out = append(out, [2]string{"the Secrets of registrations stored in " + ns, ns})
		}
	}
	return out
}

// checkServerSecrets returns the refusal for the first Secret the server
// needs outside the scope, or nil.
func (s secretScope) checkServerSecrets(be backend.Backend, obj oauthv1alpha1.ServerObject, clusterNS string) error {
	if s.all() {
		return nil
	}
	for _, sec := range serverSecretNamespaces(be, obj, clusterNS) {
		if !s.allows(sec[1]) {
			return s.refuse(sec[1], sec[0])
		}
	}
	return nil
}
