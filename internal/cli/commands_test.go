package cli_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/internal/cli"
)

// noServer is a server reference nothing answers to: no reconciler runs in
// these tests, the status is written by the test.
var noServer = oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindAuthorizationServer, Name: "remote"}

// longID is a client id long enough to be shortened.
const longID = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.ZZZZZZZZtail1234"

func cond(typ string, status metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(time.Now().Add(-5 * time.Minute))}
}

// incomplete creates an OAuthClient in RegistrationIncomplete with
// status.pendingRegistration (when attempt is set), as the reconciler
// leaves it after a lost registration answer.
func incomplete(t *testing.T, ns, name, attempt, msg string) *oauthv1alpha1.OAuthClient {
	t.Helper()
	obj := oauthClient(ns, name, noServer)
	mustCreate(t, obj)
	if attempt != "" {
		obj.Status.PendingRegistration = &oauthv1alpha1.PendingRegistration{
			ID: attempt, Endpoint: "https://as.example.com/register", StartedAt: metav1.NewTime(time.Now().Add(-7 * time.Minute).Truncate(time.Second)),
		}
	}
	obj.Status.ObservedGeneration = obj.Generation
	obj.Status.Conditions = []metav1.Condition{
		cond(oauthv1alpha1.ConditionReady, metav1.ConditionFalse, oauthv1alpha1.ReasonRegistrationIncomplete, msg, obj.Generation),
		cond(oauthv1alpha1.ConditionRegistered, metav1.ConditionFalse, oauthv1alpha1.ReasonRegistrationIncomplete, msg, obj.Generation),
		cond(oauthv1alpha1.ConditionStalled, metav1.ConditionTrue, oauthv1alpha1.ReasonRegistrationIncomplete, msg, obj.Generation),
	}
	if err := k8s.Status().Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

func annotation(t *testing.T, ns, name, key string) (string, bool) {
	t.Helper()
	obj := &oauthv1alpha1.OAuthClient{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	v, ok := obj.Annotations[key]
	return v, ok
}

// TestStatusOAuthClient shows, in one screen, why a client is not Ready:
// the Ready reason and message, the registration in flight, rotation,
// deletion progress, the shortened client id, the Secret, the conditions
// and the events regarding this object (and not those of another).
func TestStatusOAuthClient(t *testing.T) {
	needEnvtest(t)
	ctx := context.Background()
	ns := newNamespace(t)
	msg := "a registration request sent to https://as.example.com/register (attempt att-7f3a) has no stored result"
	obj := incomplete(t, ns, "billing", "att-7f3a", msg)
	next := metav1.NewTime(time.Now().Add(72 * time.Hour).Truncate(time.Second))
	deadline := metav1.NewTime(time.Now().Add(40 * time.Minute).Truncate(time.Second))
	obj.Status.ClientID = longID
	obj.Status.SecretName = "billing-oauth"
	obj.Status.NextRotationTime = &next
	obj.Status.DeletionAttempts = 3
	obj.Status.DeletionDeadline = &deadline
	if err := k8s.Status().Update(ctx, obj); err != nil {
		t.Fatal(err)
	}
	other := oauthClient(ns, "other", noServer)
	mustCreate(t, other)
	for _, e := range []struct {
		regarding *oauthv1alpha1.OAuthClient
		reason    string
		note      string
	}{
		{obj, "RegistrationIncomplete", "the answer of attempt att-7f3a was lost"},
		{other, "SomethingElse", "an event of another client"},
	} {
		mustCreate(t, &eventsv1.Event{
			ObjectMeta:          metav1.ObjectMeta{Namespace: ns, GenerateName: "ev-"},
			EventTime:           metav1.NewMicroTime(time.Now().Add(-time.Minute)),
			ReportingController: "clientreg", ReportingInstance: "clientreg-test",
			Action: "Register", Reason: e.reason, Note: e.note, Type: corev1.EventTypeWarning,
			Regarding: corev1.ObjectReference{
				APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient",
				Namespace: ns, Name: e.regarding.Name, UID: e.regarding.UID,
			},
		})
	}

	r := runCLI(t, "status", "oauthclient", "billing", "-n", ns)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	mustContain(t, "status", r.stdout,
		"OAuthClient "+ns+"/billing",
		"Ready:", "False, RegistrationIncomplete", "Why:", msg,
		"Server:", "AuthorizationServer remote: not found",
		"Client ID:", longID[:16]+"…"+longID[len(longID)-8:], fmt.Sprintf("(%d chars)", len(longID)),
		"Secret:", "billing-oauth",
		"Next rotation:", next.UTC().Format(time.RFC3339), "(in 2d",
		"Registration in flight", "Attempt ID:", "att-7f3a", "Endpoint:", "https://as.example.com/register", "Started:", "(7m",
		"recover oauthclient billing -n "+ns,
		"Deletion:", "Failed attempts:", "3", "Gives up:", deadline.UTC().Format(time.RFC3339),
		"Conditions:", "Registered", "Stalled",
		"Events:", "RegistrationIncomplete", "the answer of attempt att-7f3a was lost",
	)
	if strings.Contains(r.stdout, longID) {
		t.Error("the full client id is printed; status shows it shortened")
	}
	if strings.Contains(r.stdout, "an event of another client") {
		t.Error("an event regarding another object is shown")
	}

	// The same client through the plugin name, the short kind, and a
	// kubeconfig from KUBECONFIG whose context names the namespace.
	cfg, err := clientcmd.Load(kubeconfigBytes)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Contexts[cfg.CurrentContext].Namespace = ns
	other2 := cfg.Contexts[cfg.CurrentContext].DeepCopy()
	other2.Namespace = "default"
	cfg.Contexts["elsewhere"] = other2
	path := filepath.Join(t.TempDir(), "config")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KUBECONFIG", path)
	r = runCLIRaw(t, "status", "oac", "billing")
	if r.code != 0 || !strings.Contains(r.stdout, "OAuthClient "+ns+"/billing") {
		t.Fatalf("KUBECONFIG and the context's namespace were not used: %s", r)
	}
	r = runCLIRaw(t, "--context", "elsewhere", "status", "oac", "billing")
	if r.code != 1 || !strings.Contains(r.stderr, `"billing" not found`) || !strings.Contains(r.stderr, "default/billing") {
		t.Fatalf("--context was not honoured: %s", r)
	}

	// A missing object: exit 1, the error on stderr, nothing on stdout.
	r = runCLI(t, "status", "oauthclient", "nope", "-n", ns)
	if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "Error: reading OAuthClient "+ns+"/nope") {
		t.Fatalf("missing object: %s", r)
	}
}

// TestRotate sets the rotate annotation to a fresh RFC 3339 timestamp, a
// new one each time.
func TestRotate(t *testing.T) {
	needEnvtest(t)
	ns := newNamespace(t)
	mustCreate(t, oauthClient(ns, "app", noServer))
	before := time.Now().Add(-time.Second)
	r := runCLI(t, "rotate", "oauthclient", "app", "-n", ns)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	v1, ok := annotation(t, ns, "app", oauthv1alpha1.AnnotationRotate)
	if !ok {
		t.Fatal("the rotate annotation is not set")
	}
	at, err := time.Parse(time.RFC3339Nano, v1)
	if err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Fatalf("rotate annotation %q is not the current time: %v", v1, err)
	}
	mustContain(t, "rotate", r.stdout, "OAuthClient "+ns+"/app: rotation requested", oauthv1alpha1.AnnotationRotate+"="+v1)

	time.Sleep(10 * time.Millisecond)
	if r := runCLI(t, "rotate", "oac", "app", "-n", ns); r.code != 0 {
		t.Fatalf("second rotate: exit %d", r.code)
	}
	if v2, _ := annotation(t, ns, "app", oauthv1alpha1.AnnotationRotate); v2 == v1 {
		t.Fatalf("a second rotate kept the value %q: the operator would not act on it", v1)
	}

	if r := runCLI(t, "rotate", "oauthclient", "missing", "-n", ns); r.code != 1 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("rotating a missing client: %s", r)
	}
}

// TestRecover sets the recover annotation to the attempt id in
// status.pendingRegistration (or, without it, the one the condition
// names), and refuses a client that is not in RegistrationIncomplete.
func TestRecover(t *testing.T) {
	needEnvtest(t)
	ns := newNamespace(t)
	incomplete(t, ns, "lost", "att-1b2c3d", "a registration request sent to https://as.example.com/register (attempt att-1b2c3d) has no stored result")
	r := runCLI(t, "recover", "oauthclient", "lost", "-n", ns)
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if v, _ := annotation(t, ns, "lost", oauthv1alpha1.AnnotationRecoverRegistration); v != "att-1b2c3d" {
		t.Fatalf("recover annotation = %q, want the attempt id att-1b2c3d", v)
	}
	mustContain(t, "recover", r.stdout, oauthv1alpha1.AnnotationRecoverRegistration+"=att-1b2c3d set", "https://as.example.com/register")

	// Only the condition names the attempt.
	incomplete(t, ns, "lost2", "", "the registration request sent to https://as.example.com/register (attempt att-9z8y) got no answer")
	if r := runCLI(t, "recover", "oauthclient", "lost2", "-n", ns); r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if v, _ := annotation(t, ns, "lost2", oauthv1alpha1.AnnotationRecoverRegistration); v != "att-9z8y" {
		t.Fatalf("recover annotation = %q, want att-9z8y from the condition", v)
	}

	// A Ready client: refused, nothing set.
	ok := oauthClient(ns, "fine", noServer)
	mustCreate(t, ok)
	ok.Status.PendingRegistration = &oauthv1alpha1.PendingRegistration{ID: "att-inflight", StartedAt: metav1.Now()}
	ok.Status.Conditions = []metav1.Condition{cond(oauthv1alpha1.ConditionReady, metav1.ConditionTrue, oauthv1alpha1.ReasonReady, "ready", ok.Generation)}
	if err := k8s.Status().Update(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "recover", "oauthclient", "fine", "-n", ns)
	if r.code != 1 || r.stdout != "" {
		t.Fatalf("recover of a Ready client: %s", r)
	}
	mustContain(t, "stderr", r.stderr, "is not in RegistrationIncomplete", "Ready=True, Ready", "nothing changed")
	if v, set := annotation(t, ns, "fine", oauthv1alpha1.AnnotationRecoverRegistration); set {
		t.Fatalf("recover annotation set to %q on a client not in RegistrationIncomplete", v)
	}
}

// TestAbandon needs --yes, then sets abandon-registration=true and says
// that the registration stays at the server; a client with deletionPolicy
// Orphan is refused.
func TestAbandon(t *testing.T) {
	needEnvtest(t)
	ctx := context.Background()
	ns := newNamespace(t)
	obj := oauthClient(ns, "gone", noServer)
	obj.Finalizers = []string{"test.clientreg.dev/hold"} // keeps it while "being deleted"
	mustCreate(t, obj)
	if err := k8s.Delete(ctx, obj); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		o := &oauthv1alpha1.OAuthClient{}
		if k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), o) == nil {
			o.Finalizers = nil
			_ = k8s.Update(context.Background(), o)
		}
	})

	r := runCLI(t, "abandon", "oauthclient", "gone", "-n", ns)
	if r.code != 1 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("abandon without --yes: %s", r)
	}
	if _, set := annotation(t, ns, "gone", oauthv1alpha1.AnnotationAbandonRegistration); set {
		t.Fatal("abandon without --yes set the annotation")
	}

	r = runCLI(t, "abandon", "oauthclient", "gone", "-n", ns, "--yes")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	if v, _ := annotation(t, ns, "gone", oauthv1alpha1.AnnotationAbandonRegistration); v != "true" {
		t.Fatalf("abandon annotation = %q, want true", v)
	}
	mustContain(t, "abandon", r.stdout, oauthv1alpha1.AnnotationAbandonRegistration+"=true set",
		"now removes the object and Secret gone-oauth", "stays at the server")

	orphan := oauthClient(ns, "kept", noServer)
	orphan.Spec.DeletionPolicy = oauthv1alpha1.DeletionPolicyOrphan
	mustCreate(t, orphan)
	r = runCLI(t, "abandon", "oauthclient", "kept", "-n", ns, "--yes")
	if r.code != 1 || !strings.Contains(r.stderr, "deletionPolicy Orphan") {
		t.Fatalf("abandon of an Orphan client: %s", r)
	}
	if _, set := annotation(t, ns, "kept", oauthv1alpha1.AnnotationAbandonRegistration); set {
		t.Fatal("abandon set the annotation on an Orphan client")
	}
}

// TestHelpAndPluginName checks --help of every command, usage errors
// (exit 1, on stderr) and the name shown when run as kubectl-clientreg.
func TestHelpAndPluginName(t *testing.T) {
	for _, tc := range []struct{ argv0, want string }{
		{"/usr/local/bin/kubectl-clientreg", "kubectl clientreg"},
		{"clientregctl", "clientregctl"},
		{"/home/me/go/bin/clientregctl", "clientregctl"},
	} {
		if got := cli.CommandName(tc.argv0); got != tc.want {
			t.Errorf("CommandName(%q) = %q, want %q", tc.argv0, got, tc.want)
		}
	}
	for _, args := range [][]string{
		{"--help"},
		{"status", "--help"}, {"status", "oauthclient", "--help"}, {"status", "authorizationserver", "--help"}, {"status", "clusterauthorizationserver", "--help"},
		{"inspect", "--help"}, {"inspect", "secret", "--help"}, {"inspect", "oauthclient", "--help"},
		{"rotate", "oauthclient", "--help"}, {"recover", "oauthclient", "--help"}, {"abandon", "oauthclient", "--help"},
	} {
		r := runCLIRaw(t, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") || r.stderr != "" {
			t.Errorf("%v: %s", args, r)
		}
	}
	if r := runCLIRaw(t, "abandon", "oauthclient", "--help"); !strings.Contains(r.stdout, "--yes") {
		t.Error("abandon --help does not show --yes")
	}
	for _, args := range [][]string{
		{"status"}, {"status", "certificate", "x"}, {"inspect", "secret"}, {"rotate", "oauthclient", "a", "b"}, {"--no-such-flag"},
	} {
		r := runCLIRaw(t, args...)
		if r.code != 1 || !strings.HasPrefix(r.stderr, "Error: ") || r.stdout != "" {
			t.Errorf("%v: want exit 1 and an error on stderr only: %s", args, r)
		}
	}

	var out strings.Builder
	var errOut strings.Builder
	root := cli.NewCommand("kubectl clientreg", ioStreams(&out, &errOut))
	root.SetArgs([]string{"status", "--help"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "kubectl clientreg status [command]") {
		t.Errorf("the plugin's help does not say kubectl clientreg:\n%s", out.String())
	}
}

func ioStreams(out, errOut io.Writer) genericiooptions.IOStreams {
	return genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut}
}
