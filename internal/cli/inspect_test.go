package cli_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/cli/clientid"
	"github.com/clientreg/clientreg/internal/josetest"
)

// statelessMode is one way a stateless server mints ids.
type statelessMode struct {
	name      string
	kind      oauthv1alpha1.ServerKind
	alg       oauthv1alpha1.SigningAlgorithm
	enc       oauthv1alpha1.EncryptionMode
	encrypted bool
}

// TestInspectStatelessModes runs the real reconcilers with a server in each
// stateless mode (signed-only ES256, EdDSA and RS256, nested with a
// generated key and with a recipient key), then inspects each client's
// Secret: the decoded header and claims, verification against status.jwks
// (or, for nested ids, the outer JWE header and why they are not
// verified), and that no secret value is printed. A tampered id must fail
// with exit status 1.
func TestInspectStatelessModes(t *testing.T) {
	needEnvtest(t)
	ctx := context.Background()
	ns := newNamespace(t)
	stop := startManager(t)

	recipient := josetest.P256Key(t)
	recipientJWK, err := json.Marshal(jose.JSONWebKey{Key: &recipient.PublicKey, KeyID: "rp-enc-1", Use: "enc"})
	if err != nil {
		t.Fatal(err)
	}

	modes := []statelessMode{
		{name: "es256", kind: oauthv1alpha1.KindAuthorizationServer, alg: oauthv1alpha1.SigningES256, enc: oauthv1alpha1.EncryptionNone},
		{name: "eddsa", kind: oauthv1alpha1.KindClusterAuthorizationServer, alg: oauthv1alpha1.SigningEdDSA, enc: oauthv1alpha1.EncryptionNone},
		{name: "rs256", kind: oauthv1alpha1.KindAuthorizationServer, alg: oauthv1alpha1.SigningRS256, enc: oauthv1alpha1.EncryptionNone},
		{name: "generated", kind: oauthv1alpha1.KindAuthorizationServer, alg: oauthv1alpha1.SigningES256, enc: oauthv1alpha1.EncryptionGenerated, encrypted: true},
		{name: "recipient", kind: oauthv1alpha1.KindClusterAuthorizationServer, alg: oauthv1alpha1.SigningES256, enc: oauthv1alpha1.EncryptionRecipientKey, encrypted: true},
	}
	servers := map[string]oauthv1alpha1.ServerObject{}
	for _, m := range modes {
		spec := oauthv1alpha1.AuthorizationServerSpec{Stateless: &oauthv1alpha1.StatelessServer{
			Issuer:           "https://" + m.name + ".idp.example.com",
			SigningAlgorithm: m.alg,
			Encryption:       &oauthv1alpha1.StatelessEncryption{Mode: m.enc},
		}}
		if m.enc == oauthv1alpha1.EncryptionRecipientKey {
			spec.Stateless.Encryption.RecipientKey = &apiextensionsv1.JSON{Raw: recipientJWK}
		}
		var server oauthv1alpha1.ServerObject
		if m.kind == oauthv1alpha1.KindClusterAuthorizationServer {
			s := &oauthv1alpha1.ClusterAuthorizationServer{ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + m.name}, Spec: spec}
			t.Cleanup(func() { _ = k8s.Delete(context.Background(), s) })
			server = s
		} else {
			server = &oauthv1alpha1.AuthorizationServer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: m.name}, Spec: spec}
		}
		mustCreate(t, server.(client.Object))
		mustCreate(t, oauthClient(ns, m.name, oauthv1alpha1.ServerReference{Kind: m.kind, Name: server.GetName()}))
		servers[m.name] = server
	}

	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			obj := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: m.name}}
			waitReady(t, obj, func() []metav1.Condition { return obj.Status.Conditions })
			sec := &corev1.Secret{}
			if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: m.name + "-oauth"}, sec); err != nil {
				t.Fatal(err)
			}
			id, secret := string(sec.Data["client_id"]), string(sec.Data["client_secret"])
			if id == "" || secret == "" {
				t.Fatalf("the Secret holds no client id or secret: keys %v", keys(sec.Data))
			}
			secrets := []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))}
			if form, _ := clientid.Split(id); (form == clientid.Encrypted) != m.encrypted {
				t.Fatalf("client id form %s, want encrypted=%t", form, m.encrypted)
			}

			for _, args := range [][]string{
				{"inspect", "oauthclient", m.name, "-n", ns},
				{"inspect", "secret", m.name + "-oauth", "-n", ns},
			} {
				r := runCLI(t, args...)
				if r.code != 0 {
					t.Fatalf("exit %d: %s", r.code, r.stderr)
				}
				mustNotContain(t, "inspect output", r.all(), secrets...)
				server := servers[m.name]
				mustContain(t, "inspect output", r.stdout,
					"OAuthClient:", m.name,
					"client_secret", clientid.Fingerprint(secret),
					string(m.kind)+" "+server.GetName(),
				)
				if !m.encrypted {
					segs := strings.Split(id, ".")
					var claims struct {
						Sub string `json:"sub"`
					}
					payload, _ := base64.RawURLEncoding.DecodeString(segs[1])
					if err := json.Unmarshal(payload, &claims); err != nil || claims.Sub == "" {
						t.Fatalf("the id has no sub: %v", err)
					}
					mustContain(t, "inspect output", r.stdout,
						`"typ": "client-id+jwt"`,
						`"alg": "`+string(m.alg)+`"`,
						`"iss": "https://`+m.name+`.idp.example.com"`,
						`"sub": "`+claims.Sub+`"`,
						`"aud":`, `"iat":`, `"exp":`, `"reg":`, `"client_name": "Test `+m.name+`"`,
						"Verification against status.jwks of "+string(m.kind)+" "+qualifiedName(server)+": OK",
					)
				} else {
					mustContain(t, "inspect output", r.stdout,
						"encrypted (nested JWE)", "JWE header", `"cty": "JWT"`, `"enc": "A256GCM"`,
						"cannot be verified without decrypting",
					)
					if strings.Contains(r.stdout, `"sub"`) || strings.Contains(r.stdout, `"reg"`) {
						t.Error("claims of an encrypted id printed: they cannot have been decrypted")
					}
					if m.enc == oauthv1alpha1.EncryptionRecipientKey {
						mustContain(t, "inspect output", r.stdout, "kid rp-enc-1", "RecipientKey mode")
					} else {
						mustContain(t, "inspect output", r.stdout, "the server's encryption key (Generated mode")
					}
				}
			}

			// status of the server shows its keys and next key rotation.
			server := servers[m.name]
			args := []string{"status", "clusterauthorizationserver", server.GetName()}
			if m.kind == oauthv1alpha1.KindAuthorizationServer {
				args = []string{"status", "authorizationserver", server.GetName(), "-n", ns}
			}
			r := runCLI(t, args...)
			if r.code != 0 {
				t.Fatalf("status: exit %d: %s", r.code, r.stderr)
			}
			cur := servers[m.name].(client.Object)
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(cur), cur); err != nil {
				t.Fatal(err)
			}
			st := cur.(oauthv1alpha1.ServerObject).GetStatus()
			if len(st.Keys) == 0 || st.NextKeyRotationTime == nil {
				t.Fatalf("server status has no keys or next key rotation: %+v", st)
			}
			mustContain(t, "server status", r.stdout, "Ready:", "True", "Keys:", st.Keys[0].KeyID, string(m.alg),
				"Next key rotation:", st.NextKeyRotationTime.UTC().Format("2006-01-02T15:04:05Z"), "Encryption:", string(m.enc))
			mustNotContain(t, "server status", r.all(), secrets...)
		})
	}

	// A tampered signature: the id no longer verifies (exit 1). The
	// manager is stopped first so it does not repair the Secret.
	stop()
	sec := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "es256-oauth"}, sec); err != nil {
		t.Fatal(err)
	}
	segs := strings.Split(string(sec.Data["client_id"]), ".")
	sig, _ := base64.RawURLEncoding.DecodeString(segs[2])
	sig[0] ^= 0xff
	segs[2] = base64.RawURLEncoding.EncodeToString(sig)
	sec.Data["client_id"] = []byte(strings.Join(segs, "."))
	if err := k8s.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "inspect", "secret", "es256-oauth", "-n", ns)
	if r.code != 1 {
		t.Fatalf("a tampered id: exit %d, want 1", r.code)
	}
	mustContain(t, "stdout", r.stdout, "FAILED", "bad signature")
	mustContain(t, "stderr", r.stderr, "Error: the client id does not verify against status.jwks")
	mustNotContain(t, "tampered inspect", r.all(), string(sec.Data["client_secret"]))
}

// TestInspectDynamicSecret inspects the Secret of a dynamically registered
// client (no reconciler: the Secret is written as the operator writes one,
// with a rotation overlap): client_id, registration_client_uri and the
// expiry are shown, every secret only as a fingerprint.
func TestInspectDynamicSecret(t *testing.T) {
	needEnvtest(t)
	ctx := context.Background()
	ns := newNamespace(t)
	mustCreate(t, &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "remote"},
		Spec: oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: &oauthv1alpha1.DynamicRegistration{
			IssuerURL: "https://127.0.0.1:1", ResyncInterval: &metav1.Duration{Duration: 600e9},
		}},
	})
	obj := oauthClient(ns, "dyn", oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindAuthorizationServer, Name: "remote"})
	mustCreate(t, obj)
	expires := metav1.NewTime(metav1.Now().Add(48 * 3600e9).Truncate(1e9))
	obj.Status.ClientID = "dyn-client-4711"
	obj.Status.ClientSecretExpiresAt = &expires
	obj.Status.SecretName = "dyn-oauth"
	if err := k8s.Status().Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
	secretValues := map[string]string{
		"client_secret":                      "cs-Zq8Xw1-very-secret-value-0001",
		"registration_access_token":          "rat-Jk2Lm3-very-secret-value-0002",
		"previous_client_secret":             "pcs-Pp9Oo8-very-secret-value-0003",
		"previous_registration_access_token": "prat-Ii7Uu6-very-secret-value-0004",
	}
	data := map[string][]byte{
		"client_id":                        []byte("dyn-client-4711"),
		"registration_client_uri":          []byte("https://as.example.com/register/dyn-client-4711"),
		"issuer":                           []byte("https://as.example.com"),
		"previous_client_id":               []byte("dyn-client-0815"),
		"previous_registration_client_uri": []byte("https://as.example.com/register/dyn-client-0815"),
	}
	var secrets []string
	for k, v := range secretValues {
		data[k] = []byte(v)
		secrets = append(secrets, v, base64.StdEncoding.EncodeToString([]byte(v)))
	}
	mustCreate(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: "dyn-oauth",
			Labels:      map[string]string{oauthv1alpha1.LabelOwnerKind: "OAuthClient", oauthv1alpha1.LabelOwnerName: "dyn"},
			Annotations: map[string]string{oauthv1alpha1.AnnotationExpiresAt: expires.UTC().Format("2006-01-02T15:04:05Z07:00")},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient", Name: "dyn", UID: obj.UID, Controller: ptr.To(true),
			}},
		},
		Data: data,
	})

	r := runCLI(t, "inspect", "secret", "dyn-oauth", "-n", ns)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	mustNotContain(t, "inspect output", r.all(), secrets...)
	mustContain(t, "inspect output", r.stdout,
		"OAuthClient:", "dyn",
		"AuthorizationServer remote (dynamicRegistration)",
		"client_id:", "dyn-client-4711",
		"registration_client_uri:", "https://as.example.com/register/dyn-client-4711",
		"previous_registration_client_uri:", "https://as.example.com/register/dyn-client-0815",
		"client_secret_expires_at:", expires.UTC().Format("2006-01-02T15:04:05Z"),
		"Expires:",
		"previous client_id:", "dyn-client-0815",
	)
	for k, v := range secretValues {
		mustContain(t, "inspect output", r.stdout, k+":", clientid.Fingerprint(v)+" (masked)")
	}

	// The same through the OAuthClient.
	r2 := runCLI(t, "inspect", "oauthclient", "dyn", "-n", ns)
	if r2.code != 0 {
		t.Fatalf("exit %d", r2.code)
	}
	mustNotContain(t, "inspect oauthclient output", r2.all(), secrets...)
	mustContain(t, "inspect oauthclient output", r2.stdout, "dyn-client-4711", clientid.Fingerprint(secretValues["client_secret"]))

	// A Secret nobody owns is decoded, not verified, and still masked.
	mustCreate(t, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "stray"},
		Data:       map[string][]byte{"client_id": []byte("stray-id"), "client_secret": []byte(secretValues["client_secret"])},
	})
	r3 := runCLI(t, "inspect", "secret", "stray", "-n", ns)
	if r3.code != 0 {
		t.Fatalf("exit %d", r3.code)
	}
	mustNotContain(t, "stray inspect output", r3.all(), secrets...)
	mustContain(t, "stray inspect output", r3.stdout, "none owns this Secret", "stray-id")

	// A missing Secret is an error, on stderr, exit 1.
	r4 := runCLI(t, "inspect", "secret", "missing", "-n", ns)
	if r4.code != 1 || !strings.Contains(r4.stderr, "not found") || r4.stdout != "" {
		t.Fatalf("missing Secret: %s", r4)
	}
}

func keys(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func qualifiedName(s oauthv1alpha1.ServerObject) string {
	if s.GetNamespace() == "" {
		return s.GetName()
	}
	return s.GetNamespace() + "/" + s.GetName()
}
