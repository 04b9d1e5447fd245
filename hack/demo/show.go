package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	statelessbackend "github.com/clientreg/clientreg/controllers/backend/stateless"
	"github.com/clientreg/clientreg/internal/cli"
	"github.com/clientreg/clientreg/internal/cli/clientid"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

// tracked returns the samples of the clientreg API group: the objects that
// carry a Ready condition.
func tracked(samples []sample) []sample {
	var out []sample
	for _, s := range samples {
		if s.obj.GroupVersionKind().Group == oauthv1alpha1.GroupVersion.Group {
			out = append(out, s)
		}
	}
	return out
}

// observed is the live state of one clientreg object, read generically.
type observed struct {
	obj        *unstructured.Unstructured
	conditions []metav1.Condition
}

func (o *observed) ready() *metav1.Condition {
	return meta.FindStatusCondition(o.conditions, oauthv1alpha1.ConditionReady)
}

// isReady reports Ready=True for the current generation.
func (o *observed) isReady() bool {
	c := o.ready()
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.obj.GetGeneration()
}

func observe(ctx context.Context, k8s client.Client, s sample) (*observed, error) {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(s.obj.GroupVersionKind())
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(s.obj), u); err != nil {
		return nil, fmt.Errorf("reading %s: %w", s, err)
	}
	o := &observed{obj: u}
	raw, _, err := unstructured.NestedSlice(u.Object, "status", "conditions")
	if err != nil {
		return nil, fmt.Errorf("%s: status.conditions: %w", s, err)
	}
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		var c metav1.Condition
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &c); err != nil {
			return nil, fmt.Errorf("%s: decoding a condition: %w", s, err)
		}
		o.conditions = append(o.conditions, c)
	}
	return o, nil
}

// waitReady polls until every clientreg sample is Ready, the timeout passes
// (then it prints the conditions of those that are not), the manager stops,
// or ctx is cancelled.
func waitReady(ctx context.Context, k8s client.Client, samples []sample, timeout time.Duration, mgrDone <-chan error, out io.Writer) error {
	objs := tracked(samples)
	if len(objs) == 0 {
		return errors.New("the samples hold no clientreg objects")
	}
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var pending []sample
		var lastErr error
		for _, s := range objs {
			o, err := observe(ctx, k8s, s)
			if err != nil {
				lastErr = err
				pending = append(pending, s)
				continue
			}
			if !o.isReady() {
				pending = append(pending, s)
			}
		}
		if len(pending) == 0 {
			fmt.Fprintf(out, "All %d clientreg objects are Ready after %s.\n", len(objs), time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-mgrDone:
			return fmt.Errorf("manager stopped while waiting: %w", err)
		case <-deadline.C:
			fmt.Fprintf(out, "\n%d of %d clientreg objects are not Ready after %s:\n", len(pending), len(objs), timeout)
			for _, s := range pending {
				fmt.Fprintf(out, "\n  %s (from %s):\n", s, s.source)
				o, err := observe(ctx, k8s, s)
				if err != nil {
					fmt.Fprintf(out, "    %v\n", err)
					continue
				}
				printConditions(out, "    ", o)
			}
			if lastErr != nil {
				fmt.Fprintf(out, "\n  last read error: %v\n", lastErr)
			}
			return fmt.Errorf("%d sample(s) not Ready within %s", len(pending), timeout)
		case <-tick.C:
		}
	}
}

func printConditions(out io.Writer, indent string, o *observed) {
	if len(o.conditions) == 0 {
		fmt.Fprintf(out, "%sno conditions yet (generation %d)\n", indent, o.obj.GetGeneration())
		return
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "%sTYPE\tSTATUS\tREASON\tGEN\tMESSAGE\n", indent)
	for _, c := range o.conditions {
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%d/%d\t%s\n", indent, c.Type, c.Status, c.Reason, c.ObservedGeneration, o.obj.GetGeneration(), c.Message)
	}
	_ = tw.Flush()
}

// show prints the status table, the servers, and every OAuthClient with its
// Secret and decoded, verified client id. It returns an error when a client
// id does not verify.
func show(ctx context.Context, k8s client.Client, samples []sample, out io.Writer) error {
	objs := tracked(samples)
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAMESPACE\tNAME\tREADY\tREASON\tSECRET")
	for _, s := range objs {
		o, err := observe(ctx, k8s, s)
		if err != nil {
			return err
		}
		ready, reason := "Unknown", ""
		if c := o.ready(); c != nil {
			ready, reason = string(c.Status), c.Reason
		}
		secret, _, _ := unstructured.NestedString(o.obj.Object, "status", "secretName")
		if ref, ok, _ := unstructured.NestedStringMap(o.obj.Object, "status", "keySecretRef"); ok {
			secret = ref["namespace"] + "/" + ref["name"] + " (keys)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.obj.GetKind(), orDash(s.obj.GetNamespace()), s.obj.GetName(), ready, reason, orDash(secret))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("printing the status table: %w", err)
	}

	var problems []error
	for _, s := range objs {
		switch s.obj.GetKind() {
		case string(oauthv1alpha1.KindAuthorizationServer), string(oauthv1alpha1.KindClusterAuthorizationServer):
			if err := showServer(ctx, k8s, s, out); err != nil {
				return err
			}
		}
	}
	for _, s := range objs {
		if s.obj.GetKind() != "OAuthClient" {
			continue
		}
		if err := showClient(ctx, k8s, client.ObjectKeyFromObject(s.obj), out); err != nil {
			problems = append(problems, fmt.Errorf("OAuthClient %s/%s: %w", s.obj.GetNamespace(), s.obj.GetName(), err))
		}
	}
	if len(problems) > 0 {
		return errors.Join(problems...)
	}
	fmt.Fprintln(out, "\nEvery client id verified.")
	return nil
}

func showServer(ctx context.Context, k8s client.Client, s sample, out io.Writer) error {
	ref := oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.ServerKind(s.obj.GetKind()), Name: s.obj.GetName()}
	server, err := cli.GetServer(ctx, k8s, s.obj.GetNamespace(), ref)
	if err != nil {
		return err
	}
	st := server.GetStatus()
	fmt.Fprintf(out, "\n== %s %s\n", ref.Kind, qualified(server.GetNamespace(), server.GetName()))
	spec := server.GetSpec().Stateless
	if spec == nil {
		fmt.Fprintln(out, "   not a stateless server")
		return nil
	}
	fmt.Fprintf(out, "   issuer %s, audience %s, signing %s, encryption %s, id lifetime %s\n",
		spec.Issuer, spec.EffectiveAudience(), spec.EffectiveSigningAlgorithm(),
		spec.EffectiveEncryptionMode(), spec.EffectiveLifetime())
	for _, k := range st.Keys {
		fmt.Fprintf(out, "   key %-3s %-14s kid %s\n", k.Use, k.Algorithm, k.KeyID)
	}
	if st.KeySecretRef != nil {
		fmt.Fprintf(out, "   private keys in Secret %s/%s; status.jwks publishes %d bytes of public keys\n", st.KeySecretRef.Namespace, st.KeySecretRef.Name, len(st.JWKS))
	}
	return nil
}

// showClient prints one OAuthClient: status, Secret (masked) and client id,
// decoded and verified. The returned error is a verification failure.
func showClient(ctx context.Context, k8s client.Client, key client.ObjectKey, out io.Writer) error {
	c := &oauthv1alpha1.OAuthClient{}
	if err := k8s.Get(ctx, key, c); err != nil {
		return fmt.Errorf("reading: %w", err)
	}
	server, err := cli.GetServer(ctx, k8s, c.Namespace, c.Spec.ServerRef)
	if err != nil {
		return err
	}
	st := c.Status
	fmt.Fprintf(out, "\n== OAuthClient %s/%s (server: %s %s)\n", c.Namespace, c.Name, server.ServerKind(), server.GetName())
	fmt.Fprintf(out, "   issued %s, expires %s, next rotation %s\n", fmtTime(st.ClientIDIssuedAt), fmtTime(st.ClientSecretExpiresAt), fmtTime(st.NextRotationTime))

	sec := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: st.SecretName}, sec); err != nil {
		return fmt.Errorf("reading the credentials Secret: %w", err)
	}
	names := c.SecretKeyNames()
	fmt.Fprintf(out, "   Secret %s/%s, labels: %s\n", sec.Namespace, sec.Name, formatLabels(sec.Labels))
	for _, k := range slices.Sorted(maps.Keys(sec.Data)) {
		v := string(sec.Data[k])
		switch k {
		case names.ClientID:
			v = fmt.Sprintf("%d bytes (the client id, below)", len(v))
		case names.Issuer, names.RegistrationClientURI:
		case oauthv1alpha1.KeyRegistrationCABundle:
			// Public: the CA the server's certificate chains to.
			v = describeCABundle(sec.Data[k])
		default:
			v = mask(v)
		}
		fmt.Fprintf(out, "     %-26s %s\n", k+":", v)
	}

	clientID := string(sec.Data[names.ClientID])
	clientSecret := string(sec.Data[names.ClientSecret])
	if clientID == "" {
		return errors.New("the Secret holds no client id")
	}
	if clientID != st.ClientID {
		return errors.New("status.clientID differs from the client id in the Secret")
	}
	fmt.Fprintf(out, "   client_id:\n     %s\n", clientID)

	spec := server.GetSpec().Stateless
	if spec == nil {
		fmt.Fprintln(out, "   (not minted by a stateless server: nothing to decode)")
		return nil
	}
	segs := strings.Split(clientID, ".")
	switch len(segs) {
	case 3:
		fmt.Fprintln(out, "   decoded: a signed JWT (JWS), readable by anyone; it carries no secret")
		if err := clientid.PrintSegment(out, "   ", "JWS header", segs[0], mask); err != nil {
			return err
		}
		if err := clientid.PrintSegment(out, "   ", "JWS payload", segs[1], mask); err != nil {
			return err
		}
	case 5:
		fmt.Fprintln(out, "   decoded: an encrypted JWT (JWE wrapping a JWS); only the server's encryption key can read the payload")
		if err := clientid.PrintSegment(out, "   ", "JWE protected header", segs[0], mask); err != nil {
			return err
		}
	default:
		return fmt.Errorf("the client id has %d segments, not 3 (JWS) or 5 (JWE)", len(segs))
	}

	ks, err := serverKeySet(ctx, k8s, server)
	if err != nil {
		return err
	}
	encrypted := len(segs) == 5
	if encrypted && !hasKey(ks, sci.UseEncryption) {
		fmt.Fprintln(out, "   encrypted to spec.stateless.encryption.recipientKey: the operator holds no key to decrypt it")
		return nil
	}

	aud := spec.EffectiveAudience()
	own, err := sci.VerifierFromKeySet(spec.Issuer, aud, ks, nil)
	if err != nil {
		return fmt.Errorf("building a verifier from the key Secret: %w", err)
	}
	verified, err := own.Verify(clientID)
	if err != nil {
		return fmt.Errorf("verifying with the key Secret: %w", err)
	}
	how := "verified"
	if encrypted {
		how = "decrypted and verified"
	}
	fmt.Fprintf(out, "   %s with the key Secret: OK (signed by kid %s)\n", how, verified.KeyID)
	if encrypted {
		claims, err := json.Marshal(clientid.ClaimsOf(verified))
		if err != nil {
			return fmt.Errorf("encoding the verified claims: %w", err)
		}
		fmt.Fprintln(out, "   verified claims (client_secret claim not shown):")
		if err := clientid.PrintJSON(out, "     ", claims); err != nil {
			return err
		}
	}
	if clientSecret != "" {
		if err := own.CheckSecret(verified, clientSecret); err != nil {
			return fmt.Errorf("the Secret's client_secret does not match the client id: %w", err)
		}
		if encrypted {
			fmt.Fprintln(out, "   client_secret in the Secret equals the one inside the client id: OK")
		} else {
			fmt.Fprintln(out, "   client_secret in the Secret is the one derived for this client id: OK")
		}
	}

	pub, err := publicVerifier(server, ks, encrypted)
	if err != nil {
		return err
	}
	if _, err := pub.Verify(clientID); err != nil {
		return fmt.Errorf("verifying against status.jwks: %w", err)
	}
	if encrypted {
		fmt.Fprintln(out, "   verified against status.jwks: OK (signature checked with the published keys; decrypted with the key Secret)")
	} else {
		fmt.Fprintln(out, "   verified against status.jwks: OK")
	}
	return nil
}

// serverKeySet reads the server's private key set from its key Secret.
func serverKeySet(ctx context.Context, k8s client.Client, server oauthv1alpha1.ServerObject) (*sci.KeySet, error) {
	ref := server.GetStatus().KeySecretRef
	if ref == nil {
		return nil, fmt.Errorf("%s %s has no status.keySecretRef", server.ServerKind(), server.GetName())
	}
	sec := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, sec); err != nil {
		return nil, fmt.Errorf("reading the key Secret: %w", err)
	}
	ks, err := sci.ParseKeySet(sec.Data[statelessbackend.KeySetDataKey])
	if err != nil {
		return nil, fmt.Errorf("parsing the key Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	return ks, nil
}

func hasKey(ks *sci.KeySet, use sci.KeyUse) bool {
	return slices.ContainsFunc(ks.Keys, func(k sci.Key) bool { return k.Use == use })
}

// publicVerifier trusts only what the server publishes: its issuer and the
// JWK Set in status.jwks, as a third-party authorization server would. An
// encrypted id also needs the decryption keys, which are never published, so
// those come from the key Secret; the signature is still checked with the
// published keys only.
func publicVerifier(server oauthv1alpha1.ServerObject, ks *sci.KeySet, encrypted bool) (*sci.Verifier, error) {
	var decryptionKeys []jose.JSONWebKey
	if encrypted {
		for _, k := range ks.Keys {
			if k.Use == sci.UseEncryption {
				decryptionKeys = append(decryptionKeys, k.Private)
			}
		}
	}
	spec := server.GetSpec().Stateless
	return clientid.PublicVerifier(spec.Issuer, spec.EffectiveAudience(), server.GetStatus().JWKS, decryptionKeys)
}

// mask shows a secret's length and at most its first 4 characters, and only
// when it is long enough for that to give nothing useful away.
func mask(v string) string {
	if len(v) < 16 {
		return fmt.Sprintf("%d chars, masked", len(v))
	}
	return fmt.Sprintf("%d chars, %s…", len(v), v[:4])
}

func formatLabels(l map[string]string) string {
	if len(l) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(l))
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

func fmtTime(t *metav1.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// describeCABundle names the certificates of a PEM bundle (public data).
func describeCABundle(b []byte) string {
	var names []string
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
			names = append(names, "CN="+c.Subject.CommonName)
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("%d bytes, no certificate", len(b))
	}
	return fmt.Sprintf("PEM, %d certificate(s): %s", len(names), strings.Join(names, ", "))
}
