package controllers_test

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	sci "github.com/clientreg/clientreg/registrar/stateless"
)

func TestStatelessClientIssuedAndVerifies(t *testing.T) {
	for _, alg := range []oauthv1alpha1.SigningAlgorithm{oauthv1alpha1.SigningES256, oauthv1alpha1.SigningEdDSA, oauthv1alpha1.SigningRS256} {
		t.Run(string(alg), func(t *testing.T) {
			ctx := context.Background()
			ns := newNamespace(t)
			srv := statelessServer(ns, "idp", withAlg(alg))
			create(t, srv)
			create(t, oauthClient(ns, "billing", "idp"))
			c := waitClientReady(t, ns, "billing")
			server := waitServerReady(t, srv)

			sec := getSecret(t, ns, "billing-oauth")
			if !metav1.IsControlledBy(sec, c) {
				t.Fatalf("Secret is not controlled by the OAuthClient: %+v", sec.OwnerReferences)
			}
			if sec.Labels[oauthv1alpha1.LabelManagedBy] != oauthv1alpha1.ManagedByValue {
				t.Fatalf("Secret lacks the managed-by label: %v", sec.Labels)
			}
			id, secret := string(sec.Data["client_id"]), string(sec.Data["client_secret"])
			if id == "" || secret == "" || string(sec.Data["issuer"]) != server.GetSpec().Stateless.Issuer {
				t.Fatalf("Secret data incomplete: keys %v", keysOf(sec.Data))
			}
			if c.Status.ClientID != id || c.Status.SecretName != "billing-oauth" || c.Status.ClientIDIssuedAt == nil || c.Status.ClientSecretExpiresAt == nil {
				t.Fatalf("status does not mirror the Secret: %+v", c.Status)
			}
			// The status must never hold the secret.
			raw, _ := json.Marshal(c.Status)
			if strings.Contains(string(raw), secret) {
				t.Fatal("status contains the client secret")
			}

			// A third party verifies the id with nothing but the published JWKS.
			got, err := publicVerifier(t, server).Verify(id)
			if err != nil {
				t.Fatalf("client id does not verify against status.jwks: %v", err)
			}
			if got.Issuer != server.GetSpec().Stateless.Issuer || got.Subject == "" {
				t.Fatalf("unexpected claims: iss=%q sub=%q", got.Issuer, got.Subject)
			}
			var reg map[string]any
			if err := json.Unmarshal(got.Reg, &reg); err != nil {
				t.Fatalf("reg: %v", err)
			}
			if uris, _ := reg["redirect_uris"].([]any); len(uris) != 1 || uris[0] != "https://billing.example.org/callback" {
				t.Fatalf("reg.redirect_uris = %v", reg["redirect_uris"])
			}
			// A signed-only id is readable: it carries neither the secret nor contacts.
			payload := decodeSegment(t, id, 1)
			if strings.Contains(payload, secret) || strings.Contains(payload, "ops@example.org") {
				t.Fatal("signed-only client id carries the secret or contacts")
			}
			// The secret checks with the server's private key set.
			v, err := sci.VerifierFromKeySet(server.GetSpec().Stateless.Issuer, server.GetSpec().Stateless.Issuer, keySet(t, server), fakeClock)
			if err != nil {
				t.Fatal(err)
			}
			full, err := v.Verify(id)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.CheckSecret(full, secret); err != nil {
				t.Fatalf("the stored secret does not check: %v", err)
			}
			if err := v.CheckSecret(full, secret[:len(secret)-1]+flip(secret[len(secret)-1])); err == nil {
				t.Fatal("a changed secret was accepted")
			}
			_ = ctx
		})
	}
}

func TestStatelessClientIDRejectsForgeries(t *testing.T) {
	ns := newNamespace(t)
	srv := statelessServer(ns, "idp")
	create(t, srv)
	create(t, oauthClient(ns, "app", "idp"))
	waitClientReady(t, ns, "app")
	server := waitServerReady(t, srv)
	id := string(getSecret(t, ns, "app-oauth").Data["client_id"])
	v := publicVerifier(t, server)
	if _, err := v.Verify(id); err != nil {
		t.Fatalf("genuine id rejected: %v", err)
	}
	parts := strings.Split(id, ".")
	ks := keySet(t, server)
	active, _ := ks.Active("sig")
	issuer := server.GetSpec().Stateless.Issuer

	// Re-sign the genuine claims with the server's own key but other headers or claims.
	var claims map[string]any
	if err := json.Unmarshal([]byte(decodeSegment(t, id, 1)), &claims); err != nil {
		t.Fatal(err)
	}
	resign := func(typ string, mutate func(map[string]any)) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		if mutate != nil {
			mutate(c)
		}
		opts := (&jose.SignerOptions{}).WithHeader("kid", active.ID)
		if typ != "" {
			opts = opts.WithType(jose.ContentType(typ))
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: active.Private.Key.(*ecdsa.PrivateKey)}, opts)
		if err != nil {
			t.Fatal(err)
		}
		s, err := jwt.Signed(signer).Claims(c).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	// Sanity: resigning unchanged with the right typ verifies, so the cases below fail for their one reason.
	if _, err := v.Verify(resign(sci.TypeClientID, nil)); err != nil {
		t.Fatalf("control re-signed id rejected: %v", err)
	}

	cases := map[string]string{
		"tampered payload":   parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(decodeSegment(t, id, 1), `"sub":"`, `"sub":"x`, 1))) + "." + parts[2],
		"tampered signature": parts[0] + "." + parts[1] + "." + flipChar(parts[2], 10),
		"alg none":           b64json(map[string]any{"alg": "none", "kid": active.ID, "typ": sci.TypeClientID}) + "." + parts[1] + ".",
		"wrong typ (JWT)":    resign("JWT", nil),
		"wrong typ (at+jwt)": resign("at+jwt", nil),
		"missing typ":        resign("", nil),
		"wrong aud":          resign(sci.TypeClientID, func(c map[string]any) { c["aud"] = "https://other.example" }),
		"expired":            resign(sci.TypeClientID, func(c map[string]any) { c["exp"] = fakeClock.Now().Add(-time.Hour).Unix() }),
		"untrusted iss":      resign(sci.TypeClientID, func(c map[string]any) { c["iss"] = "https://attacker.example" }),
	}
	for name, forged := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := v.Verify(forged)
			if err == nil {
				t.Fatal("forged client id accepted")
			}
			if !errors.Is(err, sci.ErrInvalidClientID) {
				t.Fatalf("error %v is not ErrInvalidClientID", err)
			}
		})
	}
	t.Run("wrong audience configured", func(t *testing.T) {
		var set jose.JSONWebKeySet
		_ = json.Unmarshal([]byte(server.GetStatus().JWKS), &set)
		other, err := sci.NewVerifier(sci.VerifierConfig{TrustedIssuers: map[string]jose.JSONWebKeySet{issuer: set}, Audience: "https://elsewhere.example", Clock: fakeClock})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Verify(id); err == nil {
			t.Fatal("id accepted by a verifier for another audience")
		}
	})
	t.Run("expired by the clock", func(t *testing.T) {
		c := &oauthv1alpha1.OAuthClient{}
		if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "app"}, c); err != nil {
			t.Fatal(err)
		}
		var set jose.JSONWebKeySet
		_ = json.Unmarshal([]byte(server.GetStatus().JWKS), &set)
		later := fixedClock(c.Status.ClientSecretExpiresAt.Add(time.Hour))
		ver, err := sci.NewVerifier(sci.VerifierConfig{TrustedIssuers: map[string]jose.JSONWebKeySet{issuer: set}, Audience: issuer, Clock: later})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ver.Verify(id); err == nil {
			t.Fatal("id accepted after its expiry")
		}
	})
}

func TestNestedJWEClientCarriesSecretInside(t *testing.T) {
	ns := newNamespace(t)
	srv := statelessServer(ns, "idp", withEncryption(oauthv1alpha1.EncryptionGenerated))
	create(t, srv)
	create(t, oauthClient(ns, "app", "idp"))
	waitClientReady(t, ns, "app")
	server := waitServerReady(t, srv)
	sec := getSecret(t, ns, "app-oauth")
	id := string(sec.Data["client_id"])
	if n := strings.Count(id, "."); n != 4 {
		t.Fatalf("client id has %d dots, want a 5-segment JWE", n)
	}
	hdr := decodeSegment(t, id, 0)
	if !strings.Contains(hdr, `"cty":"JWT"`) || strings.Contains(hdr, `"zip"`) {
		t.Fatalf("JWE header %s lacks cty JWT or has zip", hdr)
	}
	issuer := server.GetSpec().Stateless.Issuer
	v, err := sci.VerifierFromKeySet(issuer, issuer, keySet(t, server), fakeClock)
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(id)
	if err != nil {
		t.Fatalf("nested id does not verify: %v", err)
	}
	if !c.Encrypted {
		t.Fatal("verifier did not see an encrypted id")
	}
	if err := v.CheckSecret(c, string(sec.Data["client_secret"])); err != nil {
		t.Fatalf("secret carried in the JWE does not check: %v", err)
	}
	// Every decryption failure looks the same.
	var msgs []string
	for _, seg := range []int{0, 2, 4} {
		parts := strings.Split(id, ".")
		parts[seg] = flipChar(parts[seg], 5)
		_, err := v.Verify(strings.Join(parts, "."))
		if err == nil {
			t.Fatalf("tampered segment %d accepted", seg)
		}
		msgs = append(msgs, err.Error())
	}
	if msgs[1] != msgs[2] {
		t.Fatalf("IV and tag tampering give different errors: %q vs %q", msgs[1], msgs[2])
	}
	// Its "Registered" event reaches the API server although the id is over
	// 1000 characters (an event note over 1024 is rejected).
	eventually(t, 30*time.Second, func() error {
		list := &eventsv1.EventList{}
		if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return err
		}
		for _, e := range list.Items {
			if e.Regarding.Name == "app" && e.Reason == "Registered" {
				if strings.Contains(e.Note, id) {
					return errors.New("the event carries the whole client id")
				}
				return nil
			}
		}
		return fmt.Errorf("no Registered event among %d events", len(list.Items))
	})
}

func TestRotationIssuesNewIDAndKeepsOldKeyPublished(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	srv := statelessServer(ns, "idp", withLifetimes(48*time.Hour, 24*time.Hour))
	create(t, srv)
	create(t, oauthClient(ns, "app", "idp"))
	first := waitClientReady(t, ns, "app")
	server := waitServerReady(t, srv)
	oldID := string(getSecret(t, ns, "app-oauth").Data["client_id"])

	// Rotation on request: a new id, the request recorded in status.
	c := first.DeepCopy()
	// rotate asks for a rotation and waits until the status records it.
	rotate := func(request string) {
		t.Helper()
		patch := client.MergeFrom(c.DeepCopy())
		metav1.SetMetaDataAnnotation(&c.ObjectMeta, oauthv1alpha1.AnnotationRotate, request)
		if err := k8s.Patch(ctx, c, patch); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
				return err
			}
			if c.Status.ObservedRotationRequest != request {
				return fmt.Errorf("rotation request %s not observed yet", request)
			}
			return nil
		})
	}
	rotate("r1")
	newID := string(getSecret(t, ns, "app-oauth").Data["client_id"])
	if newID == oldID || c.Status.ClientID != newID {
		t.Fatal("rotation did not issue a new client id")
	}

	// Key rotation: a day later the signing key rotates; the old key stays
	// published until every id it signed has expired.
	oldKeys := server.GetStatus().Keys
	fakeClock.Step(25 * time.Hour)
	poke(t, srv)
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(srv), srv); err != nil {
			return err
		}
		if len(srv.Status.Keys) != 2 {
			return errors.New("key not rotated yet")
		}
		return nil
	})
	var retired *oauthv1alpha1.KeyStatus
	for i := range srv.Status.Keys {
		if srv.Status.Keys[i].KeyID == oldKeys[0].KeyID {
			retired = &srv.Status.Keys[i]
		}
	}
	if retired == nil || retired.RetiredAt == nil || retired.PublishUntil == nil {
		t.Fatalf("old key not kept as retired: %+v", srv.Status.Keys)
	}
	if _, err := publicVerifier(t, srv).Verify(newID); err != nil {
		t.Fatalf("id signed with the retired key no longer verifies: %v", err)
	}
	// A client re-minted now is signed with the new key.
	rotate("r2")
	newest := string(getSecret(t, ns, "app-oauth").Data["client_id"])
	if kid := headerKID(t, newest); kid == retired.KeyID {
		t.Fatal("new id signed with the retired key")
	}

	// Past publishUntil the retired key is pruned and its ids stop verifying.
	fakeClock.SetTime(retired.PublishUntil.Add(time.Minute))
	poke(t, srv)
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(srv), srv); err != nil {
			return err
		}
		for _, k := range srv.Status.Keys {
			if k.KeyID == retired.KeyID {
				return errors.New("retired key still published")
			}
		}
		return nil
	})
	if _, err := publicVerifier(t, srv).Verify(newID); err == nil {
		t.Fatal("id of a pruned key still verifies")
	}
}

func TestDeletionRemovesSecretAndOrphanKeepsIt(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	create(t, statelessServer(ns, "idp"))
	create(t, oauthClient(ns, "gone", "idp"))
	create(t, oauthClient(ns, "kept", "idp", withDeletionPolicy(oauthv1alpha1.DeletionPolicyOrphan)))
	gone := waitClientReady(t, ns, "gone")
	kept := waitClientReady(t, ns, "kept")
	keptData := getSecret(t, ns, "kept-oauth").Data

	for _, c := range []*oauthv1alpha1.OAuthClient{gone, kept} {
		if err := k8s.Delete(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, func() error {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "gone-oauth"}, &corev1.Secret{})
		if !apierrors.IsNotFound(err) {
			return errors.New("Secret of the deleted client still exists")
		}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(kept), &oauthv1alpha1.OAuthClient{}); !apierrors.IsNotFound(err) {
			return errors.New("orphaned client not deleted yet")
		}
		return nil
	})
	sec := getSecret(t, ns, "kept-oauth")
	if len(sec.OwnerReferences) != 0 {
		t.Fatalf("orphaned Secret still has owners: %+v", sec.OwnerReferences)
	}
	if string(sec.Data["client_id"]) != string(keptData["client_id"]) || string(sec.Data["client_secret"]) != string(keptData["client_secret"]) {
		t.Fatal("orphaned Secret lost its credentials")
	}
	if sec.Annotations[oauthv1alpha1.AnnotationOrphanedFrom] != "kept/AuthorizationServer/idp" {
		t.Fatalf("the orphaned Secret does not say who kept it: %v", sec.Annotations)
	}

	// The same name at another server does not take it over: a registration
	// never moves to another server.
	create(t, statelessServer(ns, "idp2"))
	elsewhere := oauthClient(ns, "kept", "idp2", withDeletionPolicy(oauthv1alpha1.DeletionPolicyOrphan))
	create(t, elsewhere)
	waitClientReason(t, ns, "kept", oauthv1alpha1.ReasonSecretConflict)
	if err := k8s.Delete(ctx, elsewhere); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(elsewhere), &oauthv1alpha1.OAuthClient{}); !apierrors.IsNotFound(err) {
			return errors.New("the refused client is not deleted yet")
		}
		return nil
	})
	if sec = getSecret(t, ns, "kept-oauth"); string(sec.Data["client_id"]) != string(keptData["client_id"]) || len(sec.OwnerReferences) != 0 {
		t.Fatal("the client at another server touched the orphaned Secret")
	}

	// The same client created again takes the orphaned Secret over, with its
	// credentials: no SecretConflict, no new client id.
	again := oauthClient(ns, "kept", "idp", withDeletionPolicy(oauthv1alpha1.DeletionPolicyOrphan))
	create(t, again)
	again = waitClientReady(t, ns, "kept")
	sec = getSecret(t, ns, "kept-oauth")
	if !metav1.IsControlledBy(sec, again) || sec.Annotations[oauthv1alpha1.AnnotationOrphanedFrom] != "" {
		t.Fatalf("the Secret was not adopted: owners %+v, annotations %v", sec.OwnerReferences, sec.Annotations)
	}
	if string(sec.Data["client_id"]) != string(keptData["client_id"]) || again.Status.ClientID != string(keptData["client_id"]) {
		t.Fatal("re-creating the client issued a new client id instead of adopting the kept one")
	}

	// A client of another name does not take it over.
	other := oauthClient(ns, "other", "idp", withSecretName("kept-oauth"))
	create(t, other)
	waitClientReason(t, ns, "other", oauthv1alpha1.ReasonSecretConflict)
}

// kubectl get -o wide shows a short client id, not a JWE of thousands of
// characters, with the server, the secret's expiry and the next rotation.
func TestWideTableIsReadable(t *testing.T) {
	ns := newNamespace(t)
	create(t, statelessServer(ns, "idp", withEncryption(oauthv1alpha1.EncryptionGenerated)))
	create(t, oauthClient(ns, "app", "idp"))
	waitClientReady(t, ns, "app")
	id := string(getSecret(t, ns, "app-oauth").Data["client_id"])
	if len(id) < 500 {
		t.Fatalf("want a long encrypted id for this test, got %d characters", len(id))
	}

	hc, err := rest.HTTPClientFor(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(restCfg.Host, "/")+"/apis/oauth.clientreg.dev/v1alpha1/namespaces/"+ns+"/oauthclients", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var table metav1.Table
	if err := json.Unmarshal(body, &table); err != nil || len(table.Rows) != 1 {
		t.Fatalf("table (HTTP %d): %v, %d rows: %.300s", resp.StatusCode, err, len(table.Rows), body)
	}
	cells := map[string]string{}
	width := 0
	for i, col := range table.ColumnDefinitions {
		v := fmt.Sprint(table.Rows[0].Cells[i])
		cells[col.Name] = v
		width += utf8.RuneCountInString(v)
	}
	if want := id[:16] + "…" + id[len(id)-8:]; cells["ClientID"] != want {
		t.Errorf("ClientID column %q, want %q", cells["ClientID"], want)
	}
	if cells["Server"] != "idp" || cells["Expires"] == "" || cells["Expires"] == "<nil>" {
		t.Errorf("wide columns: %v", cells)
	}
	if width > 200 {
		t.Errorf("a wide row is %d characters: %v", width, cells)
	}
}

func TestForeignSecretIsLeftAlone(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	foreign := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "taken"},
		Data:       map[string][]byte{"password": []byte("hunter2")},
	}
	create(t, foreign)
	create(t, statelessServer(ns, "idp"))
	create(t, oauthClient(ns, "app", "idp", withSecretName("taken")))
	c := waitClientReason(t, ns, "app", oauthv1alpha1.ReasonSecretConflict)
	if c.Status.ClientID != "" {
		t.Fatal("client id recorded although no Secret could be written")
	}
	sec := getSecret(t, ns, "taken")
	if len(sec.Data) != 1 || string(sec.Data["password"]) != "hunter2" || len(sec.OwnerReferences) != 0 {
		t.Fatalf("foreign Secret was modified: %v %v", keysOf(sec.Data), sec.OwnerReferences)
	}
	// Deleting the client leaves the foreign Secret alone too.
	if err := k8s.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(c), c); !apierrors.IsNotFound(err) {
			return errors.New("client not deleted yet")
		}
		return nil
	})
	if s := getSecret(t, ns, "taken"); string(s.Data["password"]) != "hunter2" {
		t.Fatal("foreign Secret changed on delete")
	}
}

func TestClientWaitsForServer(t *testing.T) {
	ns := newNamespace(t)
	create(t, oauthClient(ns, "early", "later"))
	waitClientReason(t, ns, "early", oauthv1alpha1.ReasonServerNotFound)
	create(t, statelessServer(ns, "later"))
	waitClientReady(t, ns, "early")
}

func TestClusterServerKeysInClusterResourceNamespace(t *testing.T) {
	ns := newNamespace(t)
	name := "corp-" + ns
	cs := &oauthv1alpha1.ClusterAuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{
			Issuer: "https://corp.example", SigningAlgorithm: oauthv1alpha1.SigningEdDSA,
		}},
	}
	create(t, cs)
	create(t, oauthClient(ns, "app", name, withClusterServer()))
	waitClientReady(t, ns, "app")
	server := waitServerReady(t, cs)
	if ref := server.GetStatus().KeySecretRef; ref == nil || ref.Namespace != clusterNS {
		t.Fatalf("key Secret not in the cluster resource namespace: %+v", ref)
	}
	if _, err := publicVerifier(t, server).Verify(string(getSecret(t, ns, "app-oauth").Data["client_id"])); err != nil {
		t.Fatal(err)
	}
}

func TestSpecChangeReissues(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	srv := statelessServer(ns, "idp")
	create(t, srv)
	create(t, oauthClient(ns, "app", "idp"))
	c := waitClientReady(t, ns, "app")
	oldID := c.Status.ClientID
	patch := client.MergeFrom(c.DeepCopy())
	c.Spec.RedirectURIs = append(c.Spec.RedirectURIs, "https://app.example.org/second")
	if err := k8s.Patch(ctx, c, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		got := waitClientReady(t, ns, "app")
		if got.Status.ClientID == oldID {
			return errors.New("not re-issued yet")
		}
		return nil
	})
	server := waitServerReady(t, srv)
	cl, err := publicVerifier(t, server).Verify(string(getSecret(t, ns, "app-oauth").Data["client_id"]))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cl.Reg), "https://app.example.org/second") {
		t.Fatalf("new id does not carry the changed metadata: %s", cl.Reg)
	}
}

func TestSecretRepairedAfterTampering(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	create(t, statelessServer(ns, "idp"))
	create(t, oauthClient(ns, "app", "idp"))
	waitClientReady(t, ns, "app")
	sec := getSecret(t, ns, "app-oauth")
	sec.Data["client_secret"] = []byte("not-the-secret")
	if err := k8s.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		s := getSecret(t, ns, "app-oauth")
		if string(s.Data["client_secret"]) == "not-the-secret" {
			return errors.New("tampered secret not replaced yet")
		}
		return nil
	})
	waitClientReady(t, ns, "app")
}

// poke makes the server reconcile now (annotations pass the predicates).
func poke(t testing.TB, obj client.Object) {
	t.Helper()
	ctx := context.Background()
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(obj.DeepCopyObject().(client.Object))
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["test.clientreg.dev/poke"] = time.Now().Format(time.RFC3339Nano)
	obj.SetAnnotations(a)
	if err := k8s.Patch(ctx, obj, patch); err != nil {
		t.Fatal(err)
	}
}

type fixedClock time.Time

func (f fixedClock) Now() time.Time                  { return time.Time(f) }
func (f fixedClock) Since(t time.Time) time.Duration { return time.Time(f).Sub(t) }

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func decodeSegment(t testing.TB, token string, i int) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatalf("segment %d: %v", i, err)
	}
	return string(b)
}

func headerKID(t testing.TB, token string) string {
	var h struct {
		KID string `json:"kid"`
	}
	if err := json.Unmarshal([]byte(decodeSegment(t, token, 0)), &h); err != nil {
		t.Fatal(err)
	}
	return h.KID
}

func b64json(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func flipChar(s string, i int) string {
	if i >= len(s) {
		i = len(s) - 1
	}
	return s[:i] + flip(s[i]) + s[i+1:]
}

func TestSecretTemplateShapesTheSecret(t *testing.T) {
	ns := newNamespace(t)
	create(t, statelessServer(ns, "idp"))
	create(t, oauthClient(ns, "app", "idp", func(c *oauthv1alpha1.OAuthClient) {
		c.Spec.SecretTemplate = &oauthv1alpha1.SecretTemplate{
			Labels:      map[string]string{"team": "billing"},
			Annotations: map[string]string{"reloader.example/match": "true"},
			Keys:        &oauthv1alpha1.SecretKeys{ClientID: "CLIENT_ID", ClientSecret: "CLIENT_SECRET"},
		}
	}))
	c := waitClientReady(t, ns, "app")
	s := getSecret(t, ns, "app-oauth")
	if string(s.Data["CLIENT_ID"]) != c.Status.ClientID || len(s.Data["CLIENT_SECRET"]) == 0 {
		t.Fatalf("renamed keys missing: %v", keysOf(s.Data))
	}
	if _, ok := s.Data["client_id"]; ok {
		t.Fatal("default key written besides the renamed one")
	}
	if s.Labels["team"] != "billing" || s.Annotations["reloader.example/match"] != "true" {
		t.Fatalf("template labels/annotations missing: %v %v", s.Labels, s.Annotations)
	}
}
