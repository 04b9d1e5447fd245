package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/cli/clientid"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

func newInspectCommand(o *Options) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Decode and verify the client id in a credentials Secret (secrets masked)",
		Long: `Decode the client id held in a credentials Secret and verify it.

A stateless client id signed by the operator (JWS, typ client-id+jwt) is
decoded (header and claims: iss, sub, aud, iat, exp, reg, cnf) and verified
against the JWK Set the server publishes in status.jwks, as any
authorization server would. An encrypted (nested JWE) id cannot be read
without the authorization server's decryption key: its outer header is shown.
A dynamic registration shows client_id, registration_client_uri and expiry.

Every secret (client_secret, registration_access_token, previous_*, any key
not known to be public) is shown only as its length and a short SHA-256
fingerprint, never its value. Exit status 1 when the id does not verify.`,
		Args: cobra.ArbitraryArgs,
		RunE: needsKind("secret or oauthclient"),
	}
	cmd.AddCommand(&cobra.Command{
		Use:     "secret NAME",
		Aliases: []string{"secrets"},
		Short:   "Inspect a credentials Secret written for an OAuthClient",
		Example: fmt.Sprintf("  %s inspect secret billing-oauth -n apps", o.commandName),
		Args:    exactlyOneName("Secret"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.inspect(cmd.Context(), "", args[0])
		},
	}, o.oauthClientCommand("inspect", "Inspect the credentials Secret of an OAuthClient", func(ctx context.Context, name string) error {
		return o.inspect(ctx, name, "")
	}))
	return cmd
}

// inspect shows the Secret of the OAuthClient clientName, or the Secret
// secretName and the OAuthClient that owns it.
func (o *Options) inspect(ctx context.Context, clientName, secretName string) error {
	c, ns, err := o.target()
	if err != nil {
		return err
	}
	var owner *oauthv1alpha1.OAuthClient
	if clientName != "" {
		owner = &oauthv1alpha1.OAuthClient{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: clientName}, owner); err != nil {
			return fmt.Errorf("reading OAuthClient %s/%s: %w", ns, clientName, err)
		}
		secretName = firstNonEmpty(owner.Status.SecretName, owner.Spec.SecretName)
	}
	sec := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: secretName}, sec); err != nil {
		return fmt.Errorf("reading Secret %s/%s: %w", ns, secretName, err)
	}
	p := newPrinter(o.Streams.Out, o.now())
	var note string
	if owner == nil {
		owner, note = findOwner(ctx, c, sec)
	}
	p.line("Secret %s/%s", sec.Namespace, sec.Name)
	if owner != nil {
		p.kv("  ", "OAuthClient", "%s", owner.Name)
	} else {
		p.kv("  ", "OAuthClient", "%s", note)
	}
	var server oauthv1alpha1.ServerObject
	var serverErr error
	if owner != nil {
		ref := owner.Spec.ServerRef
		if ref.Kind == "" {
			ref.Kind = oauthv1alpha1.KindAuthorizationServer
		}
		server, serverErr = GetServer(ctx, c, owner.Namespace, ref)
		if serverErr != nil {
			p.kv("  ", "Server", "%s %s: %v", ref.Kind, ref.Name, serverErr)
		} else {
			p.kv("  ", "Server", "%s %s (%s)", ref.Kind, ref.Name, backendName(server.GetSpec()))
		}
	}
	for _, a := range []struct{ key, label string }{
		{oauthv1alpha1.AnnotationIssuedAt, "Issued"},
		{oauthv1alpha1.AnnotationExpiresAt, "Expires"},
		{oauthv1alpha1.AnnotationRetireAt, "Previous retired at"},
	} {
		if v := sec.Annotations[a.key]; v != "" {
			p.kv("  ", a.label, "%s", o.annotationTime(p, v))
		}
	}
	if v := sec.Annotations[oauthv1alpha1.AnnotationAttemptID]; v != "" {
		p.kv("  ", "Registration attempt", "%s", v)
	}

	names := oauthv1alpha1.SecretKeys{
		ClientID: oauthv1alpha1.DefaultKeyClientID, ClientSecret: oauthv1alpha1.DefaultKeyClientSecret,
		RegistrationAccessToken: oauthv1alpha1.DefaultKeyRegistrationAccessToken,
		RegistrationClientURI:   oauthv1alpha1.DefaultKeyRegistrationClientURI, Issuer: oauthv1alpha1.DefaultKeyIssuer,
	}
	if owner != nil {
		names = owner.SecretKeyNames()
	}
	public := map[string]bool{names.ClientID: true, names.Issuer: true, names.RegistrationClientURI: true}
	p.line("Data:")
	for _, k := range slices.Sorted(maps.Keys(sec.Data)) {
		v := string(sec.Data[k])
		base := strings.TrimPrefix(k, oauthv1alpha1.PreviousKeyPrefix)
		switch {
		case k == names.ClientID:
			p.kv("  ", k, "%d chars, below", len(v))
		case k == oauthv1alpha1.KeyRegistrationCABundle:
			p.kv("  ", k, "PEM CA bundle, %d certificates, %d bytes", strings.Count(v, "BEGIN CERTIFICATE"), len(v))
		case public[k] || (k != base && public[base]):
			p.kv("  ", k, "%s", v)
		default:
			p.kv("  ", k, "%s (masked)", clientid.Fingerprint(v))
		}
	}
	p.flush()

	id := string(sec.Data[names.ClientID])
	if id == "" {
		return fmt.Errorf("the Secret %s/%s holds no client id under %q", sec.Namespace, sec.Name, names.ClientID)
	}
	if owner != nil && owner.Status.ClientID != "" && owner.Status.ClientID != id {
		p.line("Warning: the OAuthClient's status.clientID differs from the client id in the Secret (a write in progress?)")
	}
	if server != nil && server.GetSpec().Stateless == nil {
		return o.inspectDynamic(p, owner, sec, names, id)
	}
	return o.inspectStateless(p, server, serverErr, id)
}

// findOwner finds the OAuthClient that controls sec; when there is none it
// says why in note.
func findOwner(ctx context.Context, c client.Client, sec *corev1.Secret) (*oauthv1alpha1.OAuthClient, string) {
	name := ""
	for _, ref := range sec.OwnerReferences {
		if ref.Kind == "OAuthClient" && strings.HasPrefix(ref.APIVersion, oauthv1alpha1.GroupVersion.Group+"/") {
			name = ref.Name
		}
	}
	if name == "" && sec.Labels[oauthv1alpha1.LabelOwnerKind] == "OAuthClient" {
		name = sec.Labels[oauthv1alpha1.LabelOwnerName]
	}
	if name == "" {
		return nil, "none owns this Secret: the id is decoded, not verified"
	}
	owner := &oauthv1alpha1.OAuthClient{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: sec.Namespace, Name: name}, owner); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Sprintf("%s (gone): the id is decoded, not verified", name)
		}
		return nil, fmt.Sprintf("%s: %v", name, err)
	}
	if owner.Spec.SecretName != sec.Name && owner.Status.SecretName != sec.Name {
		return nil, fmt.Sprintf("%s names another Secret now: the id is decoded, not verified", name)
	}
	return owner, ""
}

func (o *Options) annotationTime(p *printer, v string) string {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return v
	}
	return p.whenTime(t)
}

// inspectDynamic shows the registration of a dynamic (RFC 7591) client.
func (o *Options) inspectDynamic(p *printer, owner *oauthv1alpha1.OAuthClient, sec *corev1.Secret, names oauthv1alpha1.SecretKeys, id string) error {
	p.line("Registration (RFC 7591 dynamic registration, an opaque id issued by the server):")
	p.kv("  ", "client_id", "%s", id)
	p.kv("  ", "registration_client_uri", "%s", orDash(string(sec.Data[names.RegistrationClientURI])))
	st := owner.Status
	if st.ClientIDIssuedAt != nil {
		p.kv("  ", "client_id_issued_at", "%s", p.when(st.ClientIDIssuedAt))
	}
	if st.ClientSecretExpiresAt != nil {
		p.kv("  ", "client_secret_expires_at", "%s", p.when(st.ClientSecretExpiresAt))
	} else {
		p.kv("  ", "client_secret_expires_at", "never (0)")
	}
	if _, ok := sec.Data[names.ClientSecret]; !ok {
		p.kv("  ", "client_secret", "none (a public client, or another authentication method)")
	}
	if prev := string(sec.Data[oauthv1alpha1.PreviousKeyPrefix+names.ClientID]); prev != "" {
		retire := p.when(st.RetireAt)
		if v := sec.Annotations[oauthv1alpha1.AnnotationRetireAt]; st.RetireAt == nil && v != "" {
			retire = o.annotationTime(p, v)
		}
		p.kv("  ", "previous client_id", "%s, deleted at the server at %s", prev, retire)
	}
	p.flush()
	return nil
}

// inspectStateless decodes a stateless client id and verifies it against
// the server's status.jwks.
func (o *Options) inspectStateless(p *printer, server oauthv1alpha1.ServerObject, serverErr error, id string) error {
	form, segs := clientid.Split(id)
	mask := func(v string) string { return clientid.Fingerprint(v) + " (masked)" }
	switch form {
	case clientid.Opaque:
		if server == nil {
			p.line("Client ID: %s (not a JWS or JWE: an opaque id, nothing to decode)", id)
			return nil
		}
		return fmt.Errorf("the server is stateless but %w", clientid.SegmentsError(len(segs)))
	case clientid.Signed:
		p.line("Client ID: %s, readable by anyone, it carries no secret", form)
		if err := clientid.PrintSegment(p.out, "  ", "Header", segs[0], mask); err != nil {
			return err
		}
		if err := clientid.PrintSegment(p.out, "  ", "Claims", segs[1], mask); err != nil {
			return err
		}
		o.claimTimes(p, segs[1])
	case clientid.Encrypted:
		p.line("Client ID: %s: the signed id and its client secret are inside, readable only with the authorization server's decryption key (not published; this command does not read key Secrets)", form)
		if err := clientid.PrintSegment(p.out, "  ", "JWE header", segs[0], mask); err != nil {
			return err
		}
	}

	if server == nil {
		if serverErr != nil {
			p.line("Verification: not done: %v", serverErr)
		} else {
			p.line("Verification: not done: no OAuthClient names the server")
		}
		return nil
	}
	spec, st := server.GetSpec().Stateless, server.GetStatus()
	what := fmt.Sprintf("status.jwks of %s %s", server.ServerKind(), qualified(server.GetNamespace(), server.GetName()))
	if form == clientid.Encrypted {
		hdr, err := clientid.DecodeSegment("JWE header", segs[0])
		if err != nil {
			return err
		}
		var kid string
		_ = json.Unmarshal(hdr["kid"], &kid)
		published := "not a key listed in the server's status.keys (RecipientKey mode: the authorization server holds it)"
		for _, k := range st.Keys {
			if k.KeyID == kid && k.Use == string(sci.UseEncryption) {
				published = "the server's encryption key (Generated mode: the private key is in its key Secret)"
			}
		}
		p.line("Encrypted to: kid %s, %s", orDash(kid), published)
		p.line("Verification: cannot be verified without decrypting; the signature inside is checked by the authorization server with the keys in %s", what)
		return nil
	}
	if st.JWKS == "" {
		return fmt.Errorf("cannot verify: %s is empty (is the server Ready?)", what)
	}
	v, err := clientid.PublicVerifier(spec.Issuer, spec.EffectiveAudience(), st.JWKS, nil)
	if err != nil {
		return err
	}
	verified, err := v.Verify(id)
	if err != nil {
		p.line("Verification against %s: FAILED: %v", what, err)
		return fmt.Errorf("the client id does not verify against %s: %w", what, err)
	}
	p.line("Verification against %s: OK (kid %s, issuer %s, audience %s)", what, verified.KeyID, verified.Issuer, verified.Audience)
	return nil
}

// claimTimes prints iat and exp of a signed id's claims as dates.
func (o *Options) claimTimes(p *printer, payload string) {
	members, err := clientid.DecodeSegment("claims", payload)
	if err != nil {
		return
	}
	for _, c := range []struct{ name, label string }{{"iat", "Issued (iat)"}, {"exp", "Expires (exp)"}, {"nbf", "Not before (nbf)"}} {
		var n json.Number
		if raw, ok := members[c.name]; ok && json.Unmarshal(raw, &n) == nil {
			if secs, err := n.Int64(); err == nil {
				t := metav1.NewTime(time.Unix(secs, 0))
				p.kv("  ", c.label, "%s", p.when(&t))
			}
		}
	}
	if _, ok := members["exp"]; !ok {
		p.kv("  ", "Expires (exp)", "never")
	}
	p.flush()
}
