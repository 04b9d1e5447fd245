package metadatadoc

// Serving the documents, on every replica: the leader reconciles a client and
// projects its document into status.metadataDocument; every replica's cache
// sees the status and indexes the document by its URL. Serving needs no API
// request and no reconcile, and every replica serves the same bytes (the
// same ETag) for one status.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/registrar/cimd"
)

// publisher keeps cimd.Documents in step with the cache.
type publisher struct {
	docs cimd.Documents

	mu sync.Mutex
	// urls are the URLs each OAuthClient asks to publish.
	urls map[types.NamespacedName][]string
	// claims are, for each URL, the clients that ask to publish it and
	// what. A URL claimed by two clients is served by neither: base URLs of
	// two servers can nest (https://h/a and https://h/a/ns), so a client in
	// one namespace could otherwise name another's document or JWK Set.
	claims map[string]map[types.NamespacedName]cimd.Entry
}

// ServerLabel names a server in metrics and the rate limit:
// "<Kind>/<name>" or "<Kind>/<namespace>/<name>".
func ServerLabel(kind oauthv1alpha1.ServerKind, namespace, name string) string {
	if kind == oauthv1alpha1.KindClusterAuthorizationServer || namespace == "" {
		return string(kind) + "/" + name
	}
	return string(kind) + "/" + namespace + "/" + name
}

// Publish follows OAuthClients and both kinds of server in informers.
func (b *Backend) Publish(ctx context.Context, informers cache.Informers) error {
	b.docs.Observer = b.Observer
	if b.Clock != nil {
		b.docs.Now = b.Clock.Now
	}
	for _, h := range []struct {
		obj client.Object
		fn  func(obj any, deleted bool)
	}{
		{&oauthv1alpha1.OAuthClient{}, b.clientEvent},
		{&oauthv1alpha1.AuthorizationServer{}, b.serverEvent},
		{&oauthv1alpha1.ClusterAuthorizationServer{}, b.serverEvent},
	} {
		inf, err := informers.GetInformer(ctx, h.obj)
		if err != nil {
			return fmt.Errorf("watching %T for metadata documents: %w", h.obj, err)
		}
		fn := h.fn
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { fn(obj, false) },
			UpdateFunc: func(_, obj any) { fn(obj, false) },
			DeleteFunc: func(obj any) {
				if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
					obj = d.Obj
				}
				fn(obj, true)
			},
		}); err != nil {
			return fmt.Errorf("watching %T for metadata documents: %w", h.obj, err)
		}
	}
	return nil
}

// Serves claims requests for published documents and for anything under a
// server's base URL.
func (b *Backend) Serves(r *http.Request) bool {
	return (r.Method == http.MethodGet || r.Method == http.MethodHead) && b.docs.Match(r.Host, r.URL.EscapedPath())
}

// ServeHTTP answers document requests (see cimd.Documents).
func (b *Backend) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.docs.ServeHTTP(w, r) }

// Published is the number of documents and JWK Sets this replica serves.
func (b *Backend) Published() int { return b.docs.Len() }

func (b *Backend) serverEvent(obj any, deleted bool) {
	srv, ok := obj.(oauthv1alpha1.ServerObject)
	if !ok {
		return
	}
	label := ServerLabel(srv.ServerKind(), srv.GetNamespace(), srv.GetName())
	s := srv.GetSpec().ClientIDMetadataDocument
	if deleted || s == nil {
		b.docs.SetServer(label, cimd.ServerSettings{})
		return
	}
	rate, burst := s.EffectiveRateLimit()
	b.docs.SetServer(label, cimd.ServerSettings{
		BaseURL: strings.TrimSuffix(s.BaseURL, "/"), MaxAge: s.EffectiveMaxAge(), RatePerSecond: rate, Burst: burst,
	})
}

// clientEvent publishes a client's document while it is Ready and not being
// deleted, and withdraws it otherwise.
func (b *Backend) clientEvent(obj any, deleted bool) {
	c, ok := obj.(*oauthv1alpha1.OAuthClient)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: c.Namespace, Name: c.Name}
	var want map[string][]byte
	if md := c.Status.MetadataDocument; !deleted && c.DeletionTimestamp.IsZero() && md != nil && md.Document != "" && readyTrue(c) {
		want = map[string][]byte{normalURL(md.URL): []byte(md.Document)}
		if md.JWKS != "" {
			want[normalURL(cimd.JWKSURL(md.URL))] = []byte(md.JWKS)
		}
	}
	ref := c.Spec.ServerRef
	kind := oauthv1alpha1.ServerKindOf(ref)
	label := ServerLabel(kind, c.Namespace, ref.Name)

	b.mu.Lock()
	defer b.mu.Unlock()
	touched := b.urls[key]
	for _, u := range touched {
		delete(b.claims[u], key)
	}
	delete(b.urls, key)
	if b.claims == nil {
		b.claims = map[string]map[types.NamespacedName]cimd.Entry{}
		b.urls = map[types.NamespacedName][]string{}
	}
	for u, body := range want {
		if b.claims[u] == nil {
			b.claims[u] = map[types.NamespacedName]cimd.Entry{}
		}
		b.claims[u][key] = cimd.Entry{Server: label, Body: body}
		b.urls[key] = append(b.urls[key], u)
		touched = append(touched, u)
	}
	for _, u := range touched {
		b.publish(u)
	}
}

// publish serves url's document if exactly one client claims it.
func (b *Backend) publish(u string) {
	claims := b.claims[u]
	if len(claims) != 1 {
		b.docs.Delete(u)
		if len(claims) == 0 {
			delete(b.claims, u)
		}
		return
	}
	for _, e := range claims {
		b.docs.Set(u, e)
	}
}

// readyTrue reports whether the client's Ready condition is True (for any
// generation: after a spec change the document published so far is served
// until the reconcile publishes the next one or finds the spec invalid).
func readyTrue(c *oauthv1alpha1.OAuthClient) bool {
	return meta.IsStatusConditionTrue(c.Status.Conditions, oauthv1alpha1.ConditionReady)
}

// normalURL is url as cimd.RequestURL spells a request for it.
func normalURL(u string) string {
	rest, ok := strings.CutPrefix(u, "https://")
	if !ok {
		return u
	}
	host, path, _ := strings.Cut(rest, "/")
	return cimd.RequestURL(host, "/"+path)
}
