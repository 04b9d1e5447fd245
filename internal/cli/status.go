package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers/backend"
)

// maxEvents is how many of the most recent events status shows.
const maxEvents = 10

func newStatusCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Explain why an OAuthClient or a server is (not) Ready",
		Long: `Explain why an OAuthClient, AuthorizationServer or ClusterAuthorizationServer
is (not) Ready, in one screen: its conditions, its recent events, the
registration in flight, deletion progress, the next rotation, and for servers
the published keys. Secrets are never printed.`,
		Args: cobra.ArbitraryArgs,
		RunE: needsKind("oauthclient, authorizationserver or clusterauthorizationserver"),
	}
	cmd.AddCommand(o.oauthClientCommand("status", "Status of an OAuthClient", o.statusClient))
	for _, kind := range []oauthv1alpha1.ServerKind{oauthv1alpha1.KindAuthorizationServer, oauthv1alpha1.KindClusterAuthorizationServer} {
		use, aliases, example := "authorizationserver NAME", []string{"authorizationservers", "oas"}, "idp -n apps"
		if kind == oauthv1alpha1.KindClusterAuthorizationServer {
			use, aliases, example = "clusterauthorizationserver NAME", []string{"clusterauthorizationservers", "coas"}, "corp-idp"
		}
		cmd.AddCommand(&cobra.Command{
			Use:     use,
			Aliases: aliases,
			Short:   "Status of " + article(string(kind)),
			Example: fmt.Sprintf("  %s status %s %s", o.commandName, aliases[1], example),
			Args:    exactlyOneName(string(kind)),
			RunE: func(cmd *cobra.Command, args []string) error {
				return o.statusServer(cmd.Context(), kind, args[0])
			},
		})
	}
	return cmd
}

// GetServer reads the server an OAuthClient in clientNamespace refers to
// (the demo shows servers the same way).
func GetServer(ctx context.Context, c client.Client, clientNamespace string, ref oauthv1alpha1.ServerReference) (oauthv1alpha1.ServerObject, error) {
	server, key := oauthv1alpha1.ServerFor(ref, clientNamespace)
	if err := c.Get(ctx, key, server.(client.Object)); err != nil {
		return nil, fmt.Errorf("reading %s %s: %w", server.ServerKind(), qualified(key.Namespace, key.Name), err)
	}
	return server, nil
}

func (o *Options) statusClient(ctx context.Context, name string) error {
	c, obj, err := o.getOAuthClient(ctx, name)
	if err != nil {
		return err
	}
	p := newPrinter(o.Streams.Out, o.now())
	st := &obj.Status
	p.line("OAuthClient %s/%s", obj.Namespace, obj.Name)
	o.summary(p, st.Conditions, obj.Generation, st.ObservedGeneration)

	serverRef := obj.Spec.ServerRef
	if serverRef.Kind == "" {
		serverRef.Kind = oauthv1alpha1.KindAuthorizationServer
	}
	server, serverErr := GetServer(ctx, c, obj.Namespace, serverRef)
	switch {
	case serverErr == nil:
		ready := "no Ready condition yet"
		if rc := meta.FindStatusCondition(server.GetStatus().Conditions, oauthv1alpha1.ConditionReady); rc != nil {
			ready = fmt.Sprintf("Ready=%s %s", rc.Status, rc.Reason)
		}
		p.kv("  ", "Server", "%s %s (%s, %s)", serverRef.Kind, serverRef.Name, backendName(server.GetSpec()), ready)
	case apierrors.IsNotFound(serverErr):
		p.kv("  ", "Server", "%s %s: not found", serverRef.Kind, serverRef.Name)
	default:
		p.kv("  ", "Server", "%s %s: %v", serverRef.Kind, serverRef.Name, serverErr)
	}
	if st.ClientID != "" {
		p.kv("  ", "Client ID", "%s (%d chars)", (&backend.Credentials{ClientID: st.ClientID}).ClientIDForHumans(), len(st.ClientID))
	} else {
		p.kv("  ", "Client ID", "none issued yet")
	}
	if st.Issuer != "" {
		p.kv("  ", "Issuer", "%s", st.Issuer)
	}
	p.kv("  ", "Secret", "%s", orDash(firstNonEmpty(st.SecretName, obj.Spec.SecretName)))
	p.kv("  ", "Issued", "%s", p.when(st.ClientIDIssuedAt))
	if st.ClientSecretExpiresAt != nil {
		p.kv("  ", "Expires", "%s", p.when(st.ClientSecretExpiresAt))
	} else if st.ClientID != "" {
		p.kv("  ", "Expires", "never")
	}
	p.kv("  ", "Last rotation", "%s", p.when(st.LastRotationTime))
	p.kv("  ", "Next rotation", "%s", p.when(st.NextRotationTime))
	if req := obj.Annotations[oauthv1alpha1.AnnotationRotate]; req != "" {
		state := "acted upon"
		if req != st.ObservedRotationRequest {
			state = "not acted upon yet"
		}
		p.kv("  ", "Rotation request", "%s=%s (%s)", oauthv1alpha1.AnnotationRotate, req, state)
	}
	if serverErr == nil {
		if dr := server.GetSpec().DynamicRegistration; dr != nil {
			p.kv("  ", "Resync", "every %s (the server's resyncInterval): one RFC 7592 read", durationOr(dr.ResyncInterval, "10m0s"))
		}
	}
	if d := st.MetadataDocument; d != nil {
		p.kv("  ", "Metadata document", "%s", d.URL)
		if d.ActiveKeyID != "" {
			p.kv("  ", "Active key", "%s", d.ActiveKeyID)
		}
		if d.NextKeyID != "" {
			p.kv("  ", "Next key", "%s, active %s", d.NextKeyID, p.when(d.NextKeyActiveAt))
		}
		if d.RetiredKeyID != "" {
			p.kv("  ", "Retired key", "%s, withdrawn %s", d.RetiredKeyID, p.when(d.RetiredKeyWithdrawAt))
		}
	}
	if st.RegistrationClientURI != "" {
		p.kv("  ", "Registration URI", "%s", st.RegistrationClientURI)
	}
	if st.RetiringClientID != "" {
		p.kv("  ", "Retiring client", "%s, deleted at the server %s", (&backend.Credentials{ClientID: st.RetiringClientID}).ClientIDForHumans(), p.when(st.RetireAt))
	}
	if pr := obj.UnresolvedRegistration(); pr != nil {
		p.line("Registration in flight (its result is not recorded yet):")
		p.kv("  ", "Attempt ID", "%s", pr.ID)
		p.kv("  ", "Endpoint", "%s", orDash(pr.Endpoint))
		p.kv("  ", "Started", "%s", p.when(&pr.StartedAt))
		if hasReason(st.Conditions, oauthv1alpha1.ReasonRegistrationIncomplete) {
			p.kv("  ", "Next step", "check the server for a client registered at that time, then: %s recover oauthclient %s%s", o.commandName, obj.Name, nsFlag(obj.Namespace))
		}
	}
	if obj.DeletionTimestamp != nil || st.DeletionAttempts > 0 || st.DeletionDeadline != nil {
		p.line("Deletion:")
		if obj.DeletionTimestamp != nil {
			p.kv("  ", "Requested", "%s", p.when(obj.DeletionTimestamp))
		} else {
			p.kv("  ", "Requested", "no (earlier attempts are recorded)")
		}
		p.kv("  ", "Policy", "%s", orDash(string(obj.Spec.DeletionPolicy)))
		p.kv("  ", "Failed attempts", "%d", st.DeletionAttempts)
		if st.DeletionDeadline != nil {
			p.kv("  ", "Gives up", "%s", p.when(st.DeletionDeadline))
		}
		if len(obj.Finalizers) > 0 {
			p.kv("  ", "Finalizers", "%v", obj.Finalizers)
		}
		if obj.Annotations[oauthv1alpha1.AnnotationAbandonRegistration] == "true" {
			p.kv("  ", "Abandoned", "yes: the registration is left at the server")
		} else if hasReason(st.Conditions, oauthv1alpha1.ReasonDeletionBlocked) {
			p.kv("  ", "Next step", "fix the server and change any annotation for one more attempt, or: %s abandon oauthclient %s%s --yes", o.commandName, obj.Name, nsFlag(obj.Namespace))
		}
	}
	p.flush()
	p.conditions(st.Conditions, obj.Generation)
	return o.events(ctx, c, p, obj.Namespace, obj.UID, "OAuthClient", obj.Name)
}

func (o *Options) statusServer(ctx context.Context, kind oauthv1alpha1.ServerKind, name string) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	ns := ""
	if kind == oauthv1alpha1.KindAuthorizationServer {
		if ns, err = o.namespace(); err != nil {
			return err
		}
	}
	server, err := GetServer(ctx, c, ns, oauthv1alpha1.ServerReference{Kind: kind, Name: name})
	if err != nil {
		return err
	}
	p := newPrinter(o.Streams.Out, o.now())
	spec, st := server.GetSpec(), server.GetStatus()
	p.line("%s %s", kind, qualified(server.GetNamespace(), server.GetName()))
	o.summary(p, st.Conditions, server.GetGeneration(), st.ObservedGeneration)
	p.kv("  ", "Backend", "%s", backendName(spec))
	if st.Issuer != "" {
		p.kv("  ", "Issuer", "%s", st.Issuer)
	}
	if s := spec.Stateless; s != nil {
		p.kv("  ", "Audience", "%s", s.EffectiveAudience())
		p.kv("  ", "Signing", "%s", s.EffectiveSigningAlgorithm())
		p.kv("  ", "Encryption", "%s", s.EffectiveEncryptionMode())
		p.kv("  ", "ID lifetime", "%s", s.EffectiveLifetime())
		p.kv("  ", "Key rotation", "every %s", s.EffectiveRotationInterval())
		p.kv("  ", "Next key rotation", "%s", p.when(st.NextKeyRotationTime))
		if ref := st.KeySecretRef; ref != nil {
			p.kv("  ", "Key Secret", "%s/%s (private keys; not read by this command)", ref.Namespace, ref.Name)
		}
		p.kv("  ", "Published JWKS", "%d bytes in status.jwks", len(st.JWKS))
	}
	if d := spec.DynamicRegistration; d != nil {
		p.kv("  ", "Issuer URL", "%s", d.IssuerURL)
		p.kv("  ", "Registration endpoint", "%s", orDash(firstNonEmpty(st.RegistrationEndpoint, string(d.RegistrationEndpoint))))
		if st.TokenEndpoint != "" {
			p.kv("  ", "Token endpoint", "%s", st.TokenEndpoint)
		}
		p.kv("  ", "Resync", "every %s", durationOr(d.ResyncInterval, "10m0s"))
		p.kv("  ", "Timeout", "%s", durationOr(d.Timeout, "30s"))
		p.kv("  ", "On 401", "%s", orDash(string(d.OnUnauthorized)))
		if d.InitialAccessToken != nil {
			p.kv("  ", "Initial access token", "Secret %s, key %s", d.InitialAccessToken.Name, d.InitialAccessToken.Key)
		}
	}
	if d := spec.ClientIDMetadataDocument; d != nil {
		p.kv("  ", "Base URL", "%s", d.BaseURL)
		p.kv("  ", "Cache max-age", "%s", d.EffectiveMaxAge())
		perSecond, burst := d.EffectiveRateLimit()
		p.kv("  ", "Rate limit", "%g requests/s, burst %d", perSecond, burst)
		p.kv("  ", "Client keys", "%s, published as %s; a rotation switches %s after the next key is published, the old key stays published %s",
			d.EffectiveKeyAlgorithm(), d.EffectiveKeyPublication(), d.EffectivePropagationDelay(), d.EffectiveRetiredKeyOverlap())
	}
	if e := spec.RegistrationEndpoint; e != nil {
		p.kv("  ", "Embedded endpoint", "storage %s, open %t, issuer %s", orDash(string(e.Storage)), e.Open, orDash(st.EndpointIssuer))
	}
	p.flush()
	if len(st.Keys) > 0 {
		p.line("Keys:")
		tw := newPrinter(o.Streams.Out, p.now)
		fmt.Fprintln(tw.tw, "  KID\tUSE\tALG\tCREATED\tRETIRED\tPUBLISHED UNTIL")
		for _, k := range st.Keys {
			retired, until := "-", "-"
			if k.RetiredAt != nil {
				retired = tw.age(k.RetiredAt.Time) + " ago"
			}
			if k.PublishUntil != nil {
				until = tw.when(k.PublishUntil)
			}
			fmt.Fprintf(tw.tw, "  %s\t%s\t%s\t%s ago\t%s\t%s\n", k.KeyID, k.Use, k.Algorithm, tw.age(k.CreatedAt.Time), retired, until)
		}
		tw.flush()
	}
	p.conditions(st.Conditions, server.GetGeneration())
	eventsNS := server.GetNamespace()
	if eventsNS == "" {
		// The events of cluster-scoped objects are kept in "default".
		eventsNS = metav1.NamespaceDefault
	}
	return o.events(ctx, c, p, eventsNS, server.GetUID(), string(kind), server.GetName())
}

// summary prints the Ready line and its message: the answer to "why".
func (o *Options) summary(p *printer, conds []metav1.Condition, generation, observed int64) {
	rc := meta.FindStatusCondition(conds, oauthv1alpha1.ConditionReady)
	if rc == nil {
		p.kv("  ", "Ready", "unknown: no Ready condition yet (is the operator running?)")
	} else {
		p.kv("  ", "Ready", "%s, %s", rc.Status, orDash(rc.Reason))
		switch {
		case rc.Message == "":
		case rc.Status == metav1.ConditionTrue:
			p.kv("  ", "Message", "%s", rc.Message)
		default:
			p.kv("  ", "Why", "%s", rc.Message)
		}
	}
	// Blocking conditions other than Ready (Registered, SecretSynced,
	// KeysReady) often say more.
	for _, c := range conds {
		if c.Type == oauthv1alpha1.ConditionReady || c.Type == oauthv1alpha1.ConditionReconciling {
			continue
		}
		bad := c.Status != metav1.ConditionTrue
		if c.Type == oauthv1alpha1.ConditionStalled {
			bad = c.Status == metav1.ConditionTrue
		}
		if bad && (rc == nil || c.Message != rc.Message) {
			p.kv("  ", c.Type, "%s, %s: %s", c.Status, orDash(c.Reason), c.Message)
		}
	}
	if observed != generation {
		p.kv("  ", "Generation", "%d, last reconciled %d: the operator has not caught up with the latest change", generation, observed)
	}
}

// events prints the most recent events regarding the object with uid.
func (o *Options) events(ctx context.Context, c client.Client, p *printer, ns string, uid types.UID, kind, name string) error {
	p.flush()
	list := &eventsv1.EventList{}
	err := c.List(ctx, list, client.InNamespace(ns), client.MatchingFieldsSelector{
		Selector: fields.AndSelectors(fields.OneTermEqualSelector("regarding.kind", kind), fields.OneTermEqualSelector("regarding.name", name)),
	})
	if err != nil {
		// Events are an aid: say why they are missing and go on.
		fmt.Fprintf(p.out, "Events: cannot list events in %s: %v\n", ns, err)
		return nil
	}
	var evs []eventsv1.Event
	for _, e := range list.Items {
		if uid == "" || e.Regarding.UID == "" || e.Regarding.UID == uid {
			evs = append(evs, e)
		}
	}
	if len(evs) == 0 {
		fmt.Fprintln(p.out, "Events: none (events expire after an hour by default)")
		return nil
	}
	sort.SliceStable(evs, func(i, j int) bool { return eventTime(&evs[i]).Before(eventTime(&evs[j])) })
	if len(evs) > maxEvents {
		evs = evs[len(evs)-maxEvents:]
	}
	fmt.Fprintln(p.out, "Events:")
	tw := newPrinter(p.out, p.now)
	fmt.Fprintln(tw.tw, "  TYPE\tREASON\tAGE\tCOUNT\tFROM\tMESSAGE")
	for i := range evs {
		e := &evs[i]
		from := e.ReportingController
		if from == "" {
			from = e.DeprecatedSource.Component
		}
		fmt.Fprintf(tw.tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", e.Type, e.Reason, tw.age(eventTime(e)), eventCount(e), orDash(from), oneLine(e.Note))
	}
	tw.flush()
	return nil
}

// eventTime is when an event was last seen.
func eventTime(e *eventsv1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	case !e.DeprecatedLastTimestamp.IsZero():
		return e.DeprecatedLastTimestamp.Time
	default:
		return e.CreationTimestamp.Time
	}
}

func eventCount(e *eventsv1.Event) int32 {
	switch {
	case e.Series != nil:
		return e.Series.Count
	case e.DeprecatedCount > 0:
		return e.DeprecatedCount
	default:
		return 1
	}
}

func hasReason(conds []metav1.Condition, reason string) bool {
	for _, c := range conds {
		if c.Reason == reason {
			return true
		}
	}
	return false
}

// backendName is the member of the server's backend union that is set.
func backendName(spec *oauthv1alpha1.AuthorizationServerSpec) string {
	if m := spec.BackendMember(); m != "" {
		return m
	}
	return "no backend"
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// article prefixes a kind with "a" or "an".
func article(kind string) string {
	if strings.ContainsRune("AEIOU", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}
