package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/hack/interop/oidcprovider"
	"github.com/clientreg/clientreg/internal/testutil"
	"github.com/clientreg/clientreg/test/managerproc"
)

const (
	serverName = "op"
	// clientNamePrefix + the object's name is each OAuthClient's
	// client_name: unique, so that the provider's clients can be
	// attributed to objects.
	clientNamePrefix = "chaos "
	// rotationOverlap keeps a rotated-away client only briefly, so that
	// retirements (an RFC 7592 DELETE, then a Secret write) happen, and are
	// killed, during the run.
	rotationOverlap = 2 * time.Second
	// triggerTimeout bounds the wait for a kill's trigger; the kill then
	// happens anyway.
	triggerTimeout = 20 * time.Second
	// maxViolations bounds how many violations of one check are printed.
	maxViolations = 25
)

// managerArgs run the manager without leader election: a SIGKILLed leader
// keeps its Lease until the Lease's duration has passed (nobody releases
// it), and the restarted process is a new identity that would wait that
// long (15 s) before it reconciled anything, after every kill. One process
// runs at a time, so there is nothing to elect. No metrics, probes,
// webhooks or registration endpoint: nothing to listen on.
var managerArgs = []string{
	"--leader-elect=false",
	"--metrics-bind-address=0",
	"--health-probe-bind-address=0",
	"--enable-webhooks=false",
	"--registration-base-url=",
	"--cluster-resource-namespace=" + clusterNS,
}

// trigger is what sets off a kill.
type trigger int

const (
	// afterRegistrations kills once the provider has received k more
	// registration requests in this manager's life, after a jitter: the kill
	// lands while registrations, Secret writes and status writes are in
	// flight.
	afterRegistrations trigger = iota
	// afterDelay kills a random time after the process started: during
	// start-up, cache sync, the first reads, deletions or retirements.
	afterDelay
)

func (tr trigger) String() string {
	return [...]string{"after-registrations", "after-delay"}[tr]
}

// epoch is the plan of one manager process's life, ended by a kill.
type epoch struct {
	// newClients are the indexes of the OAuthClients created at its start.
	newClients []int
	// rotations and deletions are how many Ready objects get the rotate
	// annotation and are deleted.
	rotations, deletions int
	trigger              trigger
	// k is the number of registrations of afterRegistrations.
	k int
	// delay is the jitter after k registrations, or the delay of afterDelay.
	delay time.Duration
	// fallback is the delay of an afterRegistrations kill in a life that
	// was given no registration to do (no new client, and no Ready object
	// to rotate).
	fallback time.Duration
	// restartAPIServer restarts the API server after the trigger, with the
	// manager running: down for apiDown, then the manager lives afterRestart
	// more.
	restartAPIServer      bool
	apiDown, afterRestart time.Duration
}

// makePlan derives the whole schedule from the seed.
func makePlan(cfg config) []epoch {
	rng := rand.New(rand.NewPCG(uint64(cfg.seed), 0x6b696c6c))
	plan := make([]epoch, cfg.kills)
	for i := range cfg.clients {
		e := rng.IntN(cfg.kills)
		plan[e].newClients = append(plan[e].newClients, i)
	}
	for _, e := range rng.Perm(cfg.kills)[:cfg.apiServerRestarts] {
		plan[e].restartAPIServer = true
	}
	for e := range plan {
		ep := &plan[e]
		ep.rotations, ep.deletions = rng.IntN(3), rng.IntN(2)
		if rng.IntN(10) < 7 {
			ep.trigger = afterRegistrations
			ep.k = 1 + rng.IntN(max(1, len(ep.newClients)+ep.rotations))
			ep.delay = time.Duration(rng.IntN(40)) * time.Millisecond
		} else {
			ep.trigger = afterDelay
			ep.delay = time.Duration(rng.IntN(1500)) * time.Millisecond
		}
		ep.apiDown = time.Duration(rng.IntN(1000)) * time.Millisecond
		ep.afterRestart = time.Duration(rng.IntN(1500)) * time.Millisecond
		ep.fallback = time.Duration(rng.IntN(1500)) * time.Millisecond
	}
	return plan
}

// matrix is one run.
type matrix struct {
	t          *testing.T
	cfg        config
	p          *oidcprovider.Provider
	ns         string
	bin        string
	kubeconfig string
	// pick makes the choices that depend on the cluster's state (which
	// Ready objects are rotated or deleted).
	pick *rand.Rand
	// deleted holds the names of the deleted objects.
	deleted map[string]bool
	// rotations counts the rotate annotations set.
	rotations int

	kills, triggerTimeouts int
	// answerLostKills counts kills after which the provider held a client
	// that no Secret held (and had not before the kill); unstored holds
	// those clients.
	answerLostKills int
	unstored        map[string]bool
	byTrigger       map[trigger]int
	apiRestarts     []time.Duration
}

// TestKillMatrix: kills of the manager process at random moments while
// OAuthClients are created, rotated and deleted at node-oidc-provider, and
// API server restarts, lose no credential and leave nothing at the provider
// that the operator does not name.
func TestKillMatrix(t *testing.T) {
	cfg := loadConfig(t)
	begin := time.Now()
	t.Logf("kill matrix: seed %d, %d kills, %d clients, %d API server restarts; replay with CLIENTREG_CHAOS_SEED=%d CLIENTREG_CHAOS_KILLS=%d CLIENTREG_CHAOS_CLIENTS=%d CLIENTREG_CHAOS_APISERVER_RESTARTS=%d",
		cfg.seed, cfg.kills, cfg.clients, cfg.apiServerRestarts, cfg.seed, cfg.kills, cfg.clients, cfg.apiServerRestarts)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kill matrix FAILED with seed %d (CLIENTREG_CHAOS_SEED=%d); manager logs: %s", cfg.seed, cfg.seed, cfg.logDirOr("the test's temporary directory (set CLIENTREG_CHAOS_LOGDIR to keep them)"))
		}
	})
	p := oidcprovider.Start(t, oidcprovider.Options{})
	m := &matrix{
		t: t, cfg: cfg, p: p, bin: managerproc.Build(t),
		ns:        testutil.NewNamespace(t, k8s),
		pick:      rand.New(rand.NewPCG(uint64(cfg.seed), 0x7069636b)),
		deleted:   map[string]bool{},
		byTrigger: map[trigger]int{},
		unstored:  map[string]bool{},
	}
	m.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := managerproc.WriteKubeconfig(restCfg, m.kubeconfig); err != nil {
		t.Fatal(err)
	}
	plan := makePlan(cfg)

	for e, ep := range plan {
		m.runEpoch(e, ep)
		if step := cfg.kills / 10; cfg.kills >= 20 && (e+1)%step == 0 {
			t.Logf("%d/%d kills, %s", e+1, cfg.kills, time.Since(begin).Round(time.Second))
		}
	}
	chaosDone := time.Now()

	// One manager, left alone: every object ends Ready or
	// RegistrationIncomplete, every deleted object goes.
	final := m.startManager("manager-final")
	snap := m.settle(final, false)
	orphans := m.check("after the kills", snap, false)
	incomplete := 0
	for _, o := range snap.objects {
		if isIncomplete(o) {
			incomplete++
		}
	}
	nOrphans := 0
	for _, ids := range orphans {
		nOrphans += len(ids)
	}
	t.Logf("after %d kills: %d objects, %d RegistrationIncomplete, %d orphaned clients at the provider", m.kills, len(snap.objects), incomplete, nOrphans)

	// The documented recovery: check the server, delete the orphan there,
	// then set the recover annotation to the attempt id in the condition.
	m.recover(snap, orphans)
	snap = m.settle(final, true)
	m.check("after the recovery", snap, true)
	if err := final.Stop(time.Minute); err != nil {
		t.Errorf("stopping the last manager with SIGTERM: %v\n%s", err, final.Tail(4000))
	}

	st := p.Stats(t)
	t.Logf("kill matrix (seed %d): %d kills (%d %s, %d %s; %d triggers timed out), %d between a registration's answer and its Secret write (%d clients unstored); "+
		"API server restarts %v; %d clients created, %d rotations, %d deleted; %d RegistrationIncomplete, %d orphans deleted at the provider; "+
		"provider saw %d registrations, %d RFC 7592 reads, %d updates, %d deletes, %d token requests; chaos %s, settle+checks+recovery %s, total %s",
		cfg.seed, m.kills, m.byTrigger[afterRegistrations], afterRegistrations, m.byTrigger[afterDelay], afterDelay, m.triggerTimeouts,
		m.answerLostKills, len(m.unstored), m.apiRestarts, cfg.clients, m.rotations, len(m.deleted), incomplete, nOrphans,
		st.Register, st.Read, st.Update, st.Delete, st.Token,
		chaosDone.Sub(begin).Round(time.Millisecond), time.Since(chaosDone).Round(time.Millisecond), time.Since(begin).Round(time.Millisecond))
}

func (c config) logDirOr(def string) string {
	if c.logDir != "" {
		return c.logDir
	}
	return def
}

// runEpoch starts a manager, gives it work, and kills it as planned.
func (m *matrix) runEpoch(e int, ep epoch) {
	t := m.t
	t.Helper()
	mgr := m.startManager(fmt.Sprintf("manager-%03d", e))
	started := time.Now()
	regs0 := m.p.Stats(t).Register
	if e == 0 {
		m.createServer(mgr)
	}
	m.createClients(ep.newClients)
	rotated := m.rotateAndDelete(e, ep.rotations, ep.deletions)

	// k is at most the registrations this life was given, so that it is
	// reached; the timeout only guards against a manager that stopped
	// registering.
	tr, k, delay := ep.trigger, min(ep.k, len(ep.newClients)+rotated), ep.delay
	if tr == afterRegistrations && k == 0 {
		tr, delay = afterDelay, ep.fallback
	}
	switch tr {
	case afterRegistrations:
		deadline := time.Now().Add(triggerTimeout)
		for m.p.Stats(t).Register-regs0 < k {
			m.requireAlive(mgr)
			if time.Now().After(deadline) {
				m.triggerTimeouts++
				t.Logf("epoch %d: the provider did not receive %d registrations within %s; killing anyway", e, k, triggerTimeout)
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(delay)
	case afterDelay:
		time.Sleep(time.Until(started.Add(delay)))
	}
	if ep.restartAPIServer {
		m.restartAPIServer(ep.apiDown)
		time.Sleep(ep.afterRestart)
	}
	m.requireAlive(mgr)
	if err := mgr.Kill(); err != nil {
		t.Fatal(err)
	}
	m.kills++
	m.byTrigger[tr]++

	// What the kill interrupted, seen from the provider: clients it
	// registered that no Secret holds, new since the last kill. The kill
	// landed between the provider's answer and the Secret write; no later
	// manager can store them. (A kill between the in-flight mark and the
	// request leaves nothing at the provider; both end RegistrationIncomplete.
	// A Secret write the API server was still serving may land after this
	// list: the figure is for the log, the checks do not depend on it.)
	var secrets corev1.SecretList
	m.retry("listing the Secrets after a kill", func() error { return k8s.List(context.Background(), &secrets, client.InNamespace(m.ns)) })
	held := map[string]bool{}
	for _, s := range secrets.Items {
		held[string(s.Data[oauthv1alpha1.DefaultKeyClientID])] = true
		held[string(s.Data["previous_client_id"])] = true
	}
	n := 0
	for _, c := range m.p.ClientsInfo(t) {
		if !held[c.ClientID] && !m.unstored[c.ClientID] {
			m.unstored[c.ClientID] = true
			n++
		}
	}
	if n > 0 {
		m.answerLostKills++
	}
}

func (m *matrix) startManager(name string) *managerproc.Proc {
	opts := managerproc.Options{Binary: m.bin, Kubeconfig: m.kubeconfig, Args: managerArgs, Name: name}
	if m.cfg.logDir != "" {
		opts.LogFile = filepath.Join(m.cfg.logDir, name+".log")
	}
	return managerproc.Start(m.t, opts)
}

// requireAlive fails the test if the manager exited on its own.
func (m *matrix) requireAlive(mgr *managerproc.Proc) {
	m.t.Helper()
	if mgr.Exited() {
		m.t.Fatalf("the manager exited on its own (%v); output, last 8 KiB:\n%s", mgr.Wait(), mgr.Tail(8<<10))
	}
}

// retry runs f until it succeeds, for up to a minute (the API server may be
// coming back from a restart).
func (m *matrix) retry(what string, f func() error) {
	m.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// createServer creates the AuthorizationServer at node-oidc-provider and
// waits until the first manager calls it Ready.
func (m *matrix) createServer(mgr *managerproc.Proc) {
	t := m.t
	t.Helper()
	s := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: serverName},
		Spec: oauthv1alpha1.AuthorizationServerSpec{DynamicRegistration: &oauthv1alpha1.DynamicRegistration{
			IssuerURL:      oauthv1alpha1.HTTPSURL(m.p.URL),
			CABundle:       m.p.CAPEM,
			ResyncInterval: &metav1.Duration{Duration: time.Minute},
			Timeout:        &metav1.Duration{Duration: 5 * time.Second},
		}},
	}
	if err := k8s.Create(context.Background(), s); err != nil {
		t.Fatalf("creating the AuthorizationServer: %v", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		m.requireAlive(mgr)
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(s), s); err != nil {
			t.Fatal(err)
		}
		if meta.IsStatusConditionTrue(s.Status.Conditions, oauthv1alpha1.ConditionReady) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the AuthorizationServer is not Ready within a minute: %+v", s.Status.Conditions)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func objectName(i int) string { return fmt.Sprintf("c-%04d", i) }

func (m *matrix) createClients(idx []int) {
	for _, i := range idx {
		name := objectName(i)
		c := &oauthv1alpha1.OAuthClient{
			ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: name},
			Spec: oauthv1alpha1.OAuthClientSpec{
				ServerRef:               oauthv1alpha1.ServerReference{Name: serverName},
				SecretName:              name + "-oauth",
				ClientName:              clientNamePrefix + name,
				GrantTypes:              []string{"client_credentials"},
				TokenEndpointAuthMethod: "client_secret_basic",
				Rotation:                &oauthv1alpha1.Rotation{Overlap: &metav1.Duration{Duration: rotationOverlap}},
			},
		}
		m.retry("creating OAuthClient "+name, func() error {
			if err := k8s.Create(context.Background(), c.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
				return err
			}
			return nil
		})
	}
}

// rotateAndDelete sets the rotate annotation on some Ready objects and
// deletes others. Only objects that are Ready with every rotation request
// answered are chosen: a deleted object must have had nothing in flight.
// Deleting one whose registration result was lost takes its
// RegistrationIncomplete condition, the only record of its orphan, with it
// (the finalizer deletes what the Secret holds), and the orphan could no
// longer be told from a lost credential.
// It returns the number of objects it rotated.
func (m *matrix) rotateAndDelete(e, rotations, deletions int) int {
	if rotations+deletions == 0 {
		return 0
	}
	ctx := context.Background()
	var list oauthv1alpha1.OAuthClientList
	m.retry("listing the OAuthClients", func() error { return k8s.List(ctx, &list, client.InNamespace(m.ns)) })
	var eligible []string
	for i := range list.Items {
		o := &list.Items[i]
		if o.DeletionTimestamp.IsZero() && settledReady(o) {
			eligible = append(eligible, o.Name)
		}
	}
	sort.Strings(eligible)
	m.pick.Shuffle(len(eligible), func(i, j int) { eligible[i], eligible[j] = eligible[j], eligible[i] })
	rotated := 0
	for j, name := range eligible {
		switch {
		case j < rotations:
			patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
				oauthv1alpha1.AnnotationRotate: fmt.Sprintf("chaos-%d-%d", e, j),
			}}})
			m.retry("rotating "+name, func() error {
				return k8s.Patch(ctx, &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: name}}, client.RawPatch(types.MergePatchType, patch))
			})
			m.rotations++
			rotated++
		case j < rotations+deletions:
			m.retry("deleting "+name, func() error {
				return client.IgnoreNotFound(k8s.Delete(ctx, &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: name}}))
			})
			m.deleted[name] = true
		}
	}
	return rotated
}

// restartAPIServer stops the API server (etcd stays up), waits down, starts
// it again and checks that it serves on the same address with the same
// certificate: the manager and this test keep their kubeconfig.
func (m *matrix) restartAPIServer(down time.Duration) {
	t := m.t
	t.Helper()
	as := env.ControlPlane.APIServer
	before := as.SecureServing.URL("https", "/").String()
	begin := time.Now()
	if err := as.Stop(); err != nil {
		t.Fatalf("stopping the API server: %v", err)
	}
	time.Sleep(down)
	if err := as.Start(); err != nil {
		t.Fatalf("starting the API server again: %v", err)
	}
	if after := as.SecureServing.URL("https", "/").String(); after != before || after != strings.TrimSuffix(restCfg.Host, "/")+"/" {
		t.Fatalf("the API server came back at %s, was %s (rest config %s)", after, before, restCfg.Host)
	}
	// The client of this test (and so the kubeconfig the managers use)
	// still trusts it and is still known to it.
	m.retry("reading after the API server restart", func() error {
		return k8s.Get(context.Background(), client.ObjectKey{Name: m.ns}, &corev1.Namespace{})
	})
	m.apiRestarts = append(m.apiRestarts, time.Since(begin).Round(time.Millisecond))
}

// settledReady reports whether o is Ready at its generation with every
// rotation request answered.
func settledReady(o *oauthv1alpha1.OAuthClient) bool {
	c := meta.FindStatusCondition(o.Status.Conditions, oauthv1alpha1.ConditionReady)
	if c == nil || c.Status != metav1.ConditionTrue || c.ObservedGeneration != o.Generation || o.Status.ObservedGeneration != o.Generation {
		return false
	}
	rot := o.Annotations[oauthv1alpha1.AnnotationRotate]
	return rot == "" || o.Status.ObservedRotationRequest == rot
}

// isIncomplete reports whether o says RegistrationIncomplete (in Ready or
// Registered).
func isIncomplete(o *oauthv1alpha1.OAuthClient) bool {
	return incompleteCondition(o) != nil
}

func incompleteCondition(o *oauthv1alpha1.OAuthClient) *metav1.Condition {
	for _, typ := range []string{oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ConditionReady} {
		if c := meta.FindStatusCondition(o.Status.Conditions, typ); c != nil && c.Status == metav1.ConditionFalse && c.Reason == oauthv1alpha1.ReasonRegistrationIncomplete {
			return c
		}
	}
	return nil
}

// snapshot is the cluster's and the provider's view at one moment.
type snapshot struct {
	objects map[string]*oauthv1alpha1.OAuthClient
	// secrets are the credentials Secrets by name.
	secrets map[string]*corev1.Secret
	clients []oidcprovider.ClientInfo
}

func (m *matrix) take() (*snapshot, error) {
	ctx := context.Background()
	var objs oauthv1alpha1.OAuthClientList
	if err := k8s.List(ctx, &objs, client.InNamespace(m.ns)); err != nil {
		return nil, fmt.Errorf("listing OAuthClients: %w", err)
	}
	var secrets corev1.SecretList
	if err := k8s.List(ctx, &secrets, client.InNamespace(m.ns)); err != nil {
		return nil, fmt.Errorf("listing Secrets: %w", err)
	}
	s := &snapshot{objects: map[string]*oauthv1alpha1.OAuthClient{}, secrets: map[string]*corev1.Secret{}}
	for i := range objs.Items {
		s.objects[objs.Items[i].Name] = &objs.Items[i]
	}
	for i := range secrets.Items {
		if _, ok := secrets.Items[i].Data[oauthv1alpha1.DefaultKeyClientID]; ok {
			s.secrets[secrets.Items[i].Name] = &secrets.Items[i]
		}
	}
	return s, nil
}

// settle waits (bounded) until every object is settled: Ready with its
// rotation answered and its previous client retired, or (unless allReady)
// RegistrationIncomplete; and every deleted object is gone.
func (m *matrix) settle(mgr *managerproc.Proc, allReady bool) *snapshot {
	t := m.t
	t.Helper()
	timeout := 2*time.Minute + time.Duration(m.cfg.clients)*60*time.Millisecond
	deadline := time.Now().Add(timeout)
	for {
		m.requireAlive(mgr)
		snap, err := m.take()
		if err != nil {
			t.Fatal(err)
		}
		var waiting []string
		states := map[string]int{}
		for _, name := range sortedKeys(snap.objects) {
			o := snap.objects[name]
			state := m.state(o, snap)
			states[state]++
			if state == "Ready" || (!allReady && state == oauthv1alpha1.ReasonRegistrationIncomplete) {
				continue
			}
			waiting = append(waiting, name+": "+state+": "+conditionSummary(o))
		}
		if len(waiting) == 0 {
			snap.clients = m.p.ClientsInfo(t)
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled within %s (states %v); %d objects, first of them:\n%s", timeout, states, len(waiting), strings.Join(waiting[:min(len(waiting), 15)], "\n"))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// state names where o stands: Ready, RegistrationIncomplete or what it
// waits for.
func (m *matrix) state(o *oauthv1alpha1.OAuthClient, snap *snapshot) string {
	switch {
	case !o.DeletionTimestamp.IsZero():
		return "Deleting"
	case m.deleted[o.Name]:
		return "DeletedButBack"
	case isIncomplete(o):
		return oauthv1alpha1.ReasonRegistrationIncomplete
	case !settledReady(o):
		if c := meta.FindStatusCondition(o.Status.Conditions, oauthv1alpha1.ConditionReady); c != nil {
			return "Ready=" + string(c.Status) + "/" + c.Reason
		}
		return "NoReadyCondition"
	}
	if s := snap.secrets[o.Spec.SecretName]; s != nil && len(s.Data["previous_client_id"]) > 0 {
		return "RetiringPrevious"
	}
	return "Ready"
}

func conditionSummary(o *oauthv1alpha1.OAuthClient) string {
	var parts []string
	for _, c := range o.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s/%s (gen %d): %.160s", c.Type, c.Status, c.Reason, c.ObservedGeneration, c.Message))
	}
	return fmt.Sprintf("generation %d, observed %d, rotate %q observed %q; %s", o.Generation, o.Status.ObservedGeneration,
		o.Annotations[oauthv1alpha1.AnnotationRotate], o.Status.ObservedRotationRequest, strings.Join(parts, "; "))
}

// violations collects what a check found, printing a bounded number.
type violations struct {
	t     *testing.T
	phase string
	n     map[string]int
}

func (v *violations) add(kind, format string, args ...any) {
	v.t.Helper()
	v.n[kind]++
	if v.n[kind] <= maxViolations {
		v.t.Errorf("%s: %s: %s", v.phase, kind, fmt.Sprintf(format, args...))
	}
}

func (v *violations) report() {
	v.t.Helper()
	for kind, n := range v.n {
		if n > maxViolations {
			v.t.Errorf("%s: %s: %d violations in all (%d shown)", v.phase, kind, n, maxViolations)
		}
	}
}

// check verifies the invariants on snap and returns the orphans: clients at
// the provider held by no Secret, by object name. With final, every object
// must be Ready and the provider must hold exactly the clients in the
// Secrets.
func (m *matrix) check(phase string, snap *snapshot, final bool) map[string][]string {
	t := m.t
	t.Helper()
	v := &violations{t: t, phase: phase, n: map[string]int{}}
	defer v.report()

	atProvider := map[string]oidcprovider.ClientInfo{}
	for _, c := range snap.clients {
		atProvider[c.ClientID] = c
	}

	// Secrets: each client in one Secret only, each Secret's client at the
	// provider under its object's name, no Secret of a deleted object.
	holder := map[string]string{} // client id -> Secret
	for _, name := range sortedKeys(snap.secrets) {
		s := snap.secrets[name]
		owner := metav1.GetControllerOf(s)
		if owner == nil || owner.Kind != "OAuthClient" {
			v.add("Secret without its OAuthClient", "Secret %s holds a client and is controlled by %v", name, owner)
			continue
		}
		o := snap.objects[owner.Name]
		if o == nil {
			v.add("Secret of a deleted object", "Secret %s of %s (deleted: %v) is still there", name, owner.Name, m.deleted[owner.Name])
			continue
		}
		for _, key := range []string{oauthv1alpha1.DefaultKeyClientID, "previous_client_id"} {
			id := string(s.Data[key])
			if id == "" {
				continue
			}
			if other, dup := holder[id]; dup {
				v.add("client in two Secrets", "client %s is in Secret %s and in Secret %s", id, other, name)
			}
			holder[id] = name
			c, ok := atProvider[id]
			switch {
			case !ok && key == oauthv1alpha1.DefaultKeyClientID:
				v.add("Secret with a client the provider does not hold", "Secret %s (%s) holds client %s, unknown at the provider; object: %s", name, owner.Name, id, conditionSummary(o))
			case ok && c.ClientName != o.Spec.ClientName:
				v.add("Secret with another object's client", "Secret %s of %s holds client %s named %q", name, owner.Name, id, c.ClientName)
			}
		}
		if final {
			if len(s.Data["previous_client_id"]) > 0 {
				v.add("previous client not retired", "Secret %s still holds previous_client_id", name)
			}
			if got := string(s.Data[oauthv1alpha1.DefaultKeyClientID]); got != o.Status.ClientID {
				v.add("status does not mirror the Secret", "%s: status.clientID %q, Secret %q", o.Name, o.Status.ClientID, got)
			}
		}
	}

	// Every client the provider holds is in a Secret, or belongs to an
	// object that says RegistrationIncomplete (at most one per object).
	orphans := map[string][]string{}
	for _, c := range snap.clients {
		if _, ok := holder[c.ClientID]; ok {
			continue
		}
		name, ours := strings.CutPrefix(c.ClientName, clientNamePrefix)
		o := snap.objects[name]
		switch {
		case !ours:
			v.add("foreign client at the provider", "client %s named %q", c.ClientID, c.ClientName)
		case m.deleted[name]:
			v.add("deleted object left a client", "client %s of deleted object %s is still at the provider", c.ClientID, name)
		case o == nil:
			v.add("client of an unknown object", "client %s named %q", c.ClientID, c.ClientName)
		case !isIncomplete(o):
			v.add("lost credential", "client %s of %s is in no Secret and the object does not say RegistrationIncomplete: %s", c.ClientID, name, conditionSummary(o))
		default:
			orphans[name] = append(orphans[name], c.ClientID)
		}
	}
	for name, ids := range orphans {
		if len(ids) > 1 {
			v.add("more than one orphan per object", "%s: clients %v are in no Secret", name, ids)
		}
	}

	// Every object is settled; at the end, Ready, with a Secret.
	for _, name := range sortedKeys(snap.objects) {
		o := snap.objects[name]
		state := m.state(o, snap)
		switch {
		case state == "Ready":
			if s := snap.secrets[o.Spec.SecretName]; s == nil || len(s.Data[oauthv1alpha1.DefaultKeyClientID]) == 0 {
				v.add("Ready without credentials", "%s is Ready and its Secret %s holds no client", name, o.Spec.SecretName)
			}
		case state == oauthv1alpha1.ReasonRegistrationIncomplete && !final:
		default:
			v.add("object not settled", "%s: %s: %s", name, state, conditionSummary(o))
		}
	}
	for name := range m.deleted {
		if _, ok := snap.objects[name]; ok {
			v.add("deleted object still there", "%s", name)
		}
	}
	if final {
		if len(snap.clients) != len(holder) {
			v.add("provider and Secrets differ", "the provider holds %d clients, the Secrets %d", len(snap.clients), len(holder))
		}
		if want := m.cfg.clients - len(m.deleted); len(snap.objects) != want || len(snap.secrets) != want {
			v.add("object count", "%d objects and %d credentials Secrets, want %d (%d created, %d deleted)", len(snap.objects), len(snap.secrets), want, m.cfg.clients, len(m.deleted))
		}
	}

	// Every Secret's credentials work: a client credentials grant.
	m.checkTokens(v, snap)
	return orphans
}

// checkTokens asks the provider for a token with every Secret's current
// client id and secret.
func (m *matrix) checkTokens(v *violations, snap *snapshot) {
	type job struct{ secret, id, pw string }
	jobs := make(chan job)
	type failure struct{ job, msg string }
	var mu sync.Mutex
	var failures []failure
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				status, body, err := m.p.ClientCredentialsToken(ctx, j.id, j.pw)
				cancel()
				if err != nil || status != http.StatusOK {
					mu.Lock()
					failures = append(failures, failure{j.secret, fmt.Sprintf("client %s: status %d, %v: %.200s", j.id, status, err, body)})
					mu.Unlock()
				}
			}
		}()
	}
	for _, name := range sortedKeys(snap.secrets) {
		s := snap.secrets[name]
		jobs <- job{name, string(s.Data[oauthv1alpha1.DefaultKeyClientID]), string(s.Data[oauthv1alpha1.DefaultKeyClientSecret])}
	}
	close(jobs)
	wg.Wait()
	sort.Slice(failures, func(i, j int) bool { return failures[i].job < failures[j].job })
	for _, f := range failures {
		v.add("credentials do not work", "Secret %s: %s", f.job, f.msg)
	}
}

var (
	recoverRe = regexp.MustCompile(regexp.QuoteMeta(oauthv1alpha1.AnnotationRecoverRegistration) + `=([A-Za-z0-9._-]+)`)
	attemptRe = regexp.MustCompile(`attempt ([0-9a-f]+)`)
)

// attemptID reads the attempt id that the RegistrationIncomplete condition
// names.
func attemptID(c *metav1.Condition) string {
	if sm := recoverRe.FindStringSubmatch(c.Message); sm != nil {
		return sm[1]
	}
	if sm := attemptRe.FindStringSubmatch(c.Message); sm != nil {
		return sm[1]
	}
	return ""
}

// recover applies the README's recovery to every RegistrationIncomplete
// object: look at the server for a client the lost attempt created (here:
// by client_name, among the clients no Secret holds), delete it there, then
// set the recover annotation to the attempt id in the condition.
func (m *matrix) recover(snap *snapshot, orphans map[string][]string) {
	t := m.t
	t.Helper()
	ctx := context.Background()
	for _, name := range sortedKeys(snap.objects) {
		o := snap.objects[name]
		c := incompleteCondition(o)
		if c == nil {
			continue
		}
		id := attemptID(c)
		if id == "" {
			t.Errorf("%s: the RegistrationIncomplete condition names no attempt id: %q", name, c.Message)
			continue
		}
		for _, clientID := range orphans[name] {
			if !m.p.DeleteClient(t, clientID) {
				t.Errorf("%s: orphan %s was already gone at the provider", name, clientID)
			}
		}
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
			oauthv1alpha1.AnnotationRecoverRegistration: id,
		}}})
		m.retry("recovering "+name, func() error {
			return k8s.Patch(ctx, &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: m.ns, Name: name}}, client.RawPatch(types.MergePatchType, patch))
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
