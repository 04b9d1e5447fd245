package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
	"github.com/clientreg/clientreg/controllers"
	"github.com/clientreg/clientreg/hack/inprocess"
	"github.com/clientreg/clientreg/hack/interop/testcerts"
	"github.com/clientreg/clientreg/internal/clientmeta"
	"github.com/clientreg/clientreg/registrar/metadata"
)

// clusterResourceNamespace is the manager's --cluster-resource-namespace.
const clusterResourceNamespace = "clientreg-system"

// absentServer is the server the raw OAuthClients point at; it never exists.
const absentServer = "absent"

// harness is the control plane, the manager with its endpoint, and the
// clients the load is generated with.
type harness struct {
	opts    *options
	log     logr.Logger
	testEnv *envtest.Environment
	cfg     *rest.Config
	scheme  *kruntime.Scheme
	k8s     client.Client // the load generator's own client (same limits as the manager's)
	http    *http.Client
	tmpDir  string
	api     apiCounter
	baseURL string
	// mgr is the manager, prepared by newHarness and started by run.
	mgr *inprocess.Manager
	// rawIdle and pairIdle are the raw create rates measured before the manager started.
	rawIdle, pairIdle, storedIdle *rawResult
	// costs are single-request costs measured before the manager started.
	costs   []requestCost
	cleanup []func()
}

// newHarness starts the control plane and prepares (but does not start) the
// manager. The returned harness must be closed even when err is not nil.
func newHarness(ctx context.Context, opts *options, log logr.Logger, assets string) (*harness, error) {
	ctrl.SetLogger(log)
	h := &harness{opts: opts, log: log.WithName("load")}
	dir, err := os.MkdirTemp("", "clientreg-load-")
	if err != nil {
		return nil, fmt.Errorf("creating a temporary directory: %w", err)
	}
	h.tmpDir = dir
	h.cleanup = append(h.cleanup, func() { _ = os.RemoveAll(dir) })
	certFile, keyFile, caPEM, err := testcerts.Write(dir)
	if err != nil {
		return h, err
	}

	h.log.Info("starting the control plane", "assets", assets)
	h.testEnv = &envtest.Environment{CRDDirectoryPaths: []string{opts.crdDir}, ErrorIfCRDPathMissing: true}
	h.cleanup = append(h.cleanup, func() {
		if err := h.testEnv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "load: stopping the control plane:", err)
		}
	})
	if h.cfg, err = h.testEnv.Start(); err != nil {
		return h, fmt.Errorf("starting the control plane: %w", err)
	}
	h.scheme = kruntime.NewScheme()
	if err := clientgoscheme.AddToScheme(h.scheme); err != nil {
		return h, fmt.Errorf("registering client-go types: %w", err)
	}
	if err := oauthv1alpha1.AddToScheme(h.scheme); err != nil {
		return h, fmt.Errorf("registering clientreg types: %w", err)
	}
	if h.k8s, err = client.New(rest.CopyConfig(h.cfg), client.Options{Scheme: h.scheme}); err != nil {
		return h, fmt.Errorf("creating a client: %w", err)
	}
	if err := h.ensureNamespace(ctx, clusterResourceNamespace); err != nil {
		return h, err
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return h, fmt.Errorf("listening for the registration endpoint: %w", err)
	}
	h.baseURL = "https://" + l.Addr().String()
	mgrCfg := rest.CopyConfig(h.cfg)
	mgrCfg.Wrap(h.api.wrap)
	h.mgr, err = inprocess.New(ctx, mgrCfg, h.scheme, controllers.Options{
		ClusterResourceNamespace: clusterResourceNamespace,
		Endpoint:                 &controllers.EndpointOptions{BaseURL: h.baseURL, CertFile: certFile, KeyFile: keyFile, Listener: l},
	})
	if err != nil {
		_ = l.Close()
		return h, err
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return h, errors.New("the generated CA certificate does not parse")
	}
	// One client, one connection per worker, kept alive (the default of two
	// idle connections per host would make most requests dial a new TLS
	// connection).
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		MaxIdleConns:        opts.concurrency,
		MaxIdleConnsPerHost: opts.concurrency,
		IdleConnTimeout:     90 * time.Second,
	}
	h.cleanup = append(h.cleanup, tr.CloseIdleConnections)
	h.http = &http.Client{Timeout: 60 * time.Second, Transport: tr}
	return h, nil
}

// close stops the manager and the control plane and removes temporary files.
func (h *harness) close() {
	if h.mgr != nil {
		h.mgr.Stop(30 * time.Second)
	}
	for i := len(h.cleanup) - 1; i >= 0; i-- {
		h.cleanup[i]()
	}
}

// runEnv describes the run.
type runEnv struct {
	GOMAXPROCS  int    `json:"gomaxprocs"`
	NumCPU      int    `json:"numCPU"`
	Concurrency int    `json:"concurrency"`
	Endpoint    string `json:"endpoint"`
}

func (h *harness) env() runEnv {
	return runEnv{GOMAXPROCS: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(), Concurrency: h.opts.concurrency, Endpoint: h.baseURL}
}

// modeResult is the outcome of one mode.
type modeResult struct {
	Mode             string   `json:"mode"`
	Registrations    int      `json:"registrations"`
	Errors           int      `json:"errors"`
	ErrorSamples     []string `json:"errorSamples,omitempty"`
	Seconds          float64  `json:"seconds"`
	PerSecond        float64  `json:"registrationsPerSecond"`
	P50Ms            float64  `json:"p50Ms"`
	P99Ms            float64  `json:"p99Ms"`
	MaxMs            float64  `json:"maxMs"`
	Memory           memory   `json:"memory"`
	ManagerReads     int64    `json:"managerAPIReads"`
	ManagerWrites    int64    `json:"managerAPIWrites"`
	WritesPerRequest float64  `json:"managerWritesPerRegistration"`
	// CPUSeconds is the CPU time each process used during the registrations.
	CPUSeconds map[string]float64 `json:"cpuSeconds"`
	// ManagerRequests counts the manager's API requests by method and resource.
	ManagerRequests map[string]int64 `json:"managerRequests"`
	// RequestsPerRegistration is every manager API request (reads included)
	// divided by the registrations.
	RequestsPerRegistration float64 `json:"managerRequestsPerRegistration"`
	// RawIdle and RawLive are the raw OAuthClient-only create rates
	// (stateful mode only): before the manager started, and with it running.
	RawIdle *rawResult `json:"rawCreatesManagerStopped,omitempty"`
	RawLive *rawResult `json:"rawCreatesManagerRunning,omitempty"`
	// PairIdle and PairLive are the raw OAuthClient + Secret pair rates
	// (the same objects a registration stores), measured the same two ways.
	PairIdle *rawResult `json:"rawPairsManagerStopped,omitempty"`
	PairLive *rawResult `json:"rawPairsManagerRunning,omitempty"`
	// StoredIdle is the raw rate of the whole stored state of a
	// registration (OAuthClient create, its status write, its Secret),
	// manager stopped; RatioStoredState is PerSecond ÷ it.
	StoredIdle       *rawResult `json:"rawStoredStateManagerStopped,omitempty"`
	RatioStoredState float64    `json:"ratioStoredState,omitempty"`
	// CPURatio is the CPU (all processes) per raw pair of the idle batch ÷
	// the CPU per registration: what the ratio is when the CPUs are the
	// limit, independent of what else the machine runs at the time.
	CPURatio float64 `json:"cpuRatio,omitempty"`
	// Ratio is PerSecond ÷ the higher raw pair rate (the stated baseline:
	// the same objects); RatioOAuthClientOnly is PerSecond ÷ the higher
	// OAuthClient-only rate.
	Ratio                float64 `json:"ratio,omitempty"`
	RatioOAuthClientOnly float64 `json:"ratioOAuthClientOnly,omitempty"`
	// SecretBytes compares the JSON size of one Secret the manager stored
	// with the raw pairs' Secret.
	SecretBytes    int `json:"secretBytes,omitempty"`
	RawSecretBytes int `json:"rawSecretBytes,omitempty"`
}

// rawResult is a timed batch of plain creates: OAuthClients only, or
// OAuthClient + Secret pairs (the objects one registration stores).
type rawResult struct {
	// Kind says what one item is: an OAuthClient create, a pair (the
	// OAuthClient, then its Secret), or the stored state (the OAuthClient,
	// its status write as the reconciler sends it, then its Secret).
	Kind         rawKind  `json:"kind"`
	Creates      int      `json:"creates"`
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"errorSamples,omitempty"`
	Seconds      float64  `json:"seconds"`
	// PerSecond is items (OAuthClients, or OAuthClient + Secret pairs) per second.
	PerSecond float64 `json:"createsPerSecond"`
	P50Ms     float64 `json:"p50Ms"`
	P99Ms     float64 `json:"p99Ms"`
	MaxMs     float64 `json:"maxMs"`
	// CPUSeconds is the CPU time each process used during the batch.
	CPUSeconds map[string]float64 `json:"cpuSeconds"`
}

// runAll measures the raw create rate with the manager stopped (when the
// stateful mode is selected), starts the manager and runs every mode.
func (h *harness) runAll(ctx context.Context) ([]*modeResult, error) {
	var rawIdleNS string
	if contains(h.opts.modes, modeStateful) {
		rawIdleNS = "load-raw-idle"
		if err := h.ensureNamespace(ctx, rawIdleNS); err != nil {
			return nil, err
		}
		// Warm the API server's OAuthClient path up (first-use costs) outside the timing.
		warm := min(h.opts.concurrency, h.opts.nStateful)
		if _, failed, samples, _ := parallel(ctx, warm, h.opts.concurrency, func(ctx context.Context, i int) error {
			return h.k8s.Create(ctx, rawObject(rawIdleNS, "warm", i))
		}); failed > 0 {
			return nil, fmt.Errorf("warm-up creates failed: %v", samples)
		}
		raw, err := h.rawCreates(ctx, rawIdleNS, h.opts.nStateful, rawOAuthClient)
		if err != nil {
			return nil, err
		}
		h.rawIdle = raw
		pairs, err := h.rawCreates(ctx, rawIdleNS, h.opts.nStateful, rawPair)
		if err != nil {
			return nil, err
		}
		h.pairIdle = pairs
		stopAPIProfile := h.startAPIServerProfile(ctx, "raw-stored")
		h.storedIdle, err = h.rawCreates(ctx, rawIdleNS, h.opts.nStateful, rawStored)
		stopAPIProfile()
		if err != nil {
			return nil, err
		}
		if h.costs, err = h.measureCosts(ctx, rawIdleNS, h.opts.nStateful); err != nil {
			return nil, err
		}
	}

	h.mgr.Start()
	if rawIdleNS != "" {
		// The manager reconciles those objects first (ServerNotFound);
		// let it finish so it does not overlap the first mode.
		if err := h.waitSettled(ctx, rawIdleNS, 3*h.opts.nStateful+min(h.opts.concurrency, h.opts.nStateful)); err != nil {
			return nil, err
		}
	}
	var results []*modeResult
	for _, mode := range h.opts.modes {
		r, err := h.runMode(ctx, mode)
		if err != nil {
			return results, fmt.Errorf("%s mode: %w", mode, err)
		}
		results = append(results, r)
	}
	return results, nil
}

// runMode creates the mode's server, waits for its endpoint, sends the
// registrations and, for stateful, measures the raw creates with the manager running.
func (h *harness) runMode(ctx context.Context, mode string) (*modeResult, error) {
	ns := "load-" + mode
	if err := h.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	storage, n := oauthv1alpha1.StorageStateless, h.opts.n
	if mode == modeStateful {
		storage, n = oauthv1alpha1.StorageStateful, h.opts.nStateful
	}
	srv := &oauthv1alpha1.AuthorizationServer{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "idp"},
		Spec: oauthv1alpha1.AuthorizationServerSpec{
			Stateless:            &oauthv1alpha1.StatelessServer{Issuer: "https://idp.example"},
			RegistrationEndpoint: &oauthv1alpha1.RegistrationEndpoint{Open: true, Storage: storage},
		},
	}
	if err := h.k8s.Create(ctx, srv); err != nil {
		return nil, fmt.Errorf("creating AuthorizationServer %s/%s: %w", ns, srv.Name, err)
	}
	issuer, err := h.waitIssuer(ctx, srv)
	if err != nil {
		return nil, err
	}
	h.log.Info("endpoint ready", "mode", mode, "issuer", issuer)

	stopProfile, err := h.startProfile(mode)
	if err != nil {
		return nil, err
	}
	stopAPIProfile := h.startAPIServerProfile(ctx, mode)
	mem := watchMemory()
	cpu0 := cpuTimes()
	reads0, writes0, kinds0 := h.api.snapshot()
	lat, failed, samples, wall := parallel(ctx, n, h.opts.concurrency, func(ctx context.Context, i int) error {
		return h.register(ctx, issuer, i)
	})
	reads1, writes1, kinds1 := h.api.snapshot()
	cpu := cpuSeconds(cpu0, cpuTimes())
	stopProfile()
	stopAPIProfile()
	m, err := mem.finish()
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	s := summarize(lat)
	r := &modeResult{
		Mode: mode, Registrations: n, Errors: failed, ErrorSamples: samples,
		Seconds: wall.Seconds(), PerSecond: float64(n-failed) / wall.Seconds(),
		P50Ms: ms(s.P50), P99Ms: ms(s.P99), MaxMs: ms(s.Max), Memory: m,
		ManagerReads: reads1 - reads0, ManagerWrites: writes1 - writes0,
		WritesPerRequest: float64(writes1-writes0) / float64(n),
		ManagerRequests:  diff(kinds0, kinds1), CPUSeconds: cpu,
		RequestsPerRegistration: float64(reads1-reads0+writes1-writes0) / float64(n),
	}
	if mode != modeStateful {
		return r, nil
	}
	// The last answers came when the last clients were Ready; let the
	// manager's trailing events drain before the raw batch.
	time.Sleep(2 * time.Second)
	liveNS := "load-raw-live"
	if err := h.ensureNamespace(ctx, liveNS); err != nil {
		return nil, err
	}
	if r.RawLive, err = h.rawCreates(ctx, liveNS, n, rawOAuthClient); err != nil {
		return nil, err
	}
	if r.PairLive, err = h.rawCreates(ctx, liveNS, n, rawPair); err != nil {
		return nil, err
	}
	if err := h.waitSettled(ctx, liveNS, 2*n); err != nil {
		return nil, err
	}
	r.RawIdle, r.PairIdle, r.StoredIdle = h.rawIdle, h.pairIdle, h.storedIdle
	if h.storedIdle != nil && h.storedIdle.PerSecond > 0 {
		r.RatioStoredState = r.PerSecond / h.storedIdle.PerSecond
	}
	if best := bestOf(r.PairIdle, r.PairLive); best > 0 {
		r.Ratio = r.PerSecond / best
	}
	if best := bestOf(r.RawIdle, r.RawLive); best > 0 {
		r.RatioOAuthClientOnly = r.PerSecond / best
	}
	if h.pairIdle != nil {
		if reg, pair := totalCPU(r.CPUSeconds)/float64(r.Registrations), totalCPU(h.pairIdle.CPUSeconds)/float64(h.pairIdle.Creates); reg > 0 {
			r.CPURatio = pair / reg
		}
	}
	r.SecretBytes, r.RawSecretBytes = h.secretSizes(ctx, ns)
	return r, nil
}

// totalCPU adds the CPU seconds of every process.
func totalCPU(cpu map[string]float64) float64 {
	t := 0.0
	for _, v := range cpu {
		t += v
	}
	return t
}

// bestOf returns the higher rate of the batches measured.
func bestOf(rs ...*rawResult) float64 {
	best := 0.0
	for _, x := range rs {
		if x != nil {
			best = max(best, x.PerSecond)
		}
	}
	return best
}

// secretSizes returns the JSON size of one Secret the manager stored in ns
// and of the raw pairs' Secret, so the baseline can be seen to be the same object.
func (h *harness) secretSizes(ctx context.Context, ns string) (stored, raw int) {
	list := &corev1.SecretList{}
	if err := h.k8s.List(ctx, list, client.InNamespace(ns), client.Limit(1)); err == nil && len(list.Items) > 0 {
		s := list.Items[0]
		s.ManagedFields, s.ResourceVersion, s.UID, s.CreationTimestamp = nil, "", "", metav1.Time{}
		b, _ := json.Marshal(&s)
		stored = len(b)
	}
	oc := rawObject("ns", "raw", 0)
	oc.UID = "00000000-0000-0000-0000-000000000000"
	b, _ := json.Marshal(rawSecret(oc))
	return stored, len(b)
}

// register sends registration i and checks the answer.
func (h *harness) register(ctx context.Context, issuer string, i int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, issuer+"/register", bytes.NewReader(registrationBody(i)))
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.http.Do(req)
	if err != nil {
		return fmt.Errorf("sending: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("status %d: %.200s", resp.StatusCode, raw)
	}
	var info struct {
		ClientID string `json:"client_id"`
	}
	if err := json.Unmarshal(raw, &info); err != nil {
		return fmt.Errorf("decoding the answer: %w", err)
	}
	if info.ClientID == "" {
		return fmt.Errorf("201 without a client_id: %.200s", raw)
	}
	return nil
}

func registrationBody(i int) []byte {
	return fmt.Appendf(nil, `{"redirect_uris":["https://app%d.example/cb"],"client_name":"load-%d"}`, i, i)
}

// rawObject is the OAuthClient the endpoint's store would create for
// registration i (same metadata after the endpoint's defaults, labels,
// token-hash annotation, secret name and deletion policy), except that it
// points at a server that does not exist and has a deterministic name of the
// same length as the store's random ones.
func rawObject(ns, prefix string, i int) *oauthv1alpha1.OAuthClient {
	name := fmt.Sprintf("reg-%s%0*d", prefix, 16-len(prefix), i)
	var rat [32]byte
	_, _ = rand.Read(rat[:])
	hash := sha256.Sum256(rat[:])
	oc := &oauthv1alpha1.OAuthClient{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name,
			Labels: map[string]string{
				oauthv1alpha1.LabelRegisteredVia: oauthv1alpha1.RegisteredViaEndpoint,
				oauthv1alpha1.LabelServerKind:    string(oauthv1alpha1.KindAuthorizationServer),
				oauthv1alpha1.LabelServerName:    absentServer,
			},
			Annotations: map[string]string{oauthv1alpha1.AnnotationRATHash: hex.EncodeToString(hash[:])},
		},
		Spec: oauthv1alpha1.OAuthClientSpec{
			ServerRef:      oauthv1alpha1.ServerReference{Kind: oauthv1alpha1.KindAuthorizationServer, Name: absentServer},
			SecretName:     name,
			DeletionPolicy: oauthv1alpha1.DeletionPolicyDelete,
		},
	}
	md, err := metadata.Decode(registrationBody(i), false)
	if err == nil {
		md = metadata.WithDefaults(md, metadata.Policy{OIDC: true, SupportedAuthMethods: metadata.DefaultAuthMethods()})
		clientmeta.ApplyToSpec(md, &oc.Spec)
	}
	return oc
}

// rawSecret is the Secret the reconciler writes for a stateless client of
// oc: the same keys, labels, annotations and owner reference, with values of
// the same sizes (an ES256 client id of about 330 characters).
func rawSecret(oc *oauthv1alpha1.OAuthClient) *corev1.Secret {
	rnd := func(n int) []byte {
		b := make([]byte, n*3/4)
		_, _ = rand.Read(b)
		return []byte(base64.RawURLEncoding.EncodeToString(b))
	}
	digest := sha256.Sum256(rnd(32))
	yes := true
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: oc.Namespace, Name: oc.Spec.SecretName,
			Labels: map[string]string{
				oauthv1alpha1.LabelManagedBy: oauthv1alpha1.ManagedByValue,
				oauthv1alpha1.LabelOwnerKind: "OAuthClient",
				oauthv1alpha1.LabelOwnerName: oc.Name,
			},
			Annotations: map[string]string{
				oauthv1alpha1.AnnotationRegistrationDigest: hex.EncodeToString(digest[:]),
				oauthv1alpha1.AnnotationIssuedAt:           time.Now().UTC().Format(time.RFC3339),
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient", Name: oc.Name, UID: oc.UID,
				Controller: &yes, BlockOwnerDeletion: &yes,
			}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"client_id":     rnd(330),
			"client_secret": rnd(43),
			"issuer":        []byte("https://idp.example"),
		},
	}
}

// rawKind is what one raw item is.
type rawKind string

const (
	rawOAuthClient rawKind = "oauthclient"
	rawPair        rawKind = "oauthclient+secret"
	rawStored      rawKind = "oauthclient+status+secret"
)

// rawCreates times n raw items of kind by the plain client with the load's
// concurrency: OAuthClient creates; pairs (each OAuthClient create followed
// by its Secret's create: the objects one registration stores); or the
// stored state (create, the status write the reconciler sends as a JSON
// merge patch, the Secret). The objects are built before the timing starts.
func (h *harness) rawCreates(ctx context.Context, ns string, n int, kind rawKind) (*rawResult, error) {
	prefix := map[rawKind]string{rawOAuthClient: "raw", rawPair: "pair", rawStored: "full"}[kind]
	objs := make([]*oauthv1alpha1.OAuthClient, n)
	for i := range objs {
		objs[i] = rawObject(ns, prefix, i)
	}
	cpu0 := cpuTimes()
	lat, failed, samples, wall := parallel(ctx, n, h.opts.concurrency, func(ctx context.Context, i int) error {
		if err := h.k8s.Create(ctx, objs[i]); err != nil {
			return err
		}
		switch kind {
		case rawOAuthClient:
			return nil
		case rawStored:
			orig := objs[i].DeepCopy()
			setProbeStatus(objs[i], 1)
			if err := h.k8s.Status().Patch(ctx, objs[i], client.MergeFrom(orig)); err != nil {
				return err
			}
		}
		return h.k8s.Create(ctx, rawSecret(objs[i]))
	})
	cpu := cpuSeconds(cpu0, cpuTimes())
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if failed > 0 {
		return nil, fmt.Errorf("%d of %d raw creates in %s failed: %v", failed, n, ns, samples)
	}
	s := summarize(lat)
	return &rawResult{
		Kind: kind, Creates: n, Errors: failed, ErrorSamples: samples, Seconds: wall.Seconds(), PerSecond: float64(n) / wall.Seconds(),
		P50Ms: ms(s.P50), P99Ms: ms(s.P99), MaxMs: ms(s.Max), CPUSeconds: cpu,
	}, nil
}

// waitIssuer waits until the server is Ready and publishes its endpoint issuer.
func (h *harness) waitIssuer(ctx context.Context, srv *oauthv1alpha1.AuthorizationServer) (string, error) {
	var last string
	err := h.poll(ctx, 60*time.Second, func() (bool, error) {
		if err := h.k8s.Get(ctx, client.ObjectKeyFromObject(srv), srv); err != nil {
			return false, fmt.Errorf("reading AuthorizationServer %s/%s: %w", srv.Namespace, srv.Name, err)
		}
		last = fmt.Sprintf("conditions %v, endpointIssuer %q", srv.Status.Conditions, srv.Status.EndpointIssuer)
		return srv.Status.EndpointIssuer != "" && meta.IsStatusConditionTrue(srv.Status.Conditions, oauthv1alpha1.ConditionReady), nil
	})
	if err != nil {
		return "", fmt.Errorf("AuthorizationServer %s/%s not Ready with an endpoint issuer (%s): %w", srv.Namespace, srv.Name, last, err)
	}
	return srv.Status.EndpointIssuer, nil
}

// waitSettled waits until the manager has reconciled the n OAuthClients of
// ns once (each has a Ready condition for its generation).
func (h *harness) waitSettled(ctx context.Context, ns string, n int) error {
	settled := 0
	err := h.poll(ctx, 5*time.Minute, func() (bool, error) {
		list := &oauthv1alpha1.OAuthClientList{}
		if err := h.k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
			return false, fmt.Errorf("listing OAuthClients in %s: %w", ns, err)
		}
		settled = 0
		for i := range list.Items {
			c := &list.Items[i]
			// The cost probe's faked status ("Probe") is not the manager's.
			if cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady); cond != nil && cond.Reason != probeReason && c.Status.ObservedGeneration == c.Generation {
				settled++
			}
		}
		return settled >= n, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the manager to reconcile the OAuthClients in %s (%d of %d done): %w", ns, settled, n, err)
	}
	return nil
}

// poll calls f every 100ms until it reports done, fails, the timeout passes
// or the manager stops.
func (h *harness) poll(ctx context.Context, timeout time.Duration, f func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		done, err := f()
		if err != nil && ctx.Err() == nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s: %w", timeout, ctx.Err())
		case err := <-h.mgr.Done():
			return fmt.Errorf("the manager stopped: %w", err)
		case <-t.C:
		}
	}
}

// startProfile starts a CPU profile of one mode's registrations, in
// --cpuprofile with the mode before the extension (cpu.pprof ->
// cpu.stateful.pprof); the returned function stops it.
func (h *harness) startProfile(mode string) (func(), error) {
	if h.opts.cpuProfile == "" {
		return func() {}, nil
	}
	ext := filepath.Ext(h.opts.cpuProfile)
	path := strings.TrimSuffix(h.opts.cpuProfile, ext) + "." + mode + ext
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating the CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("starting the CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "load: writing the CPU profile:", err)
		}
		h.log.Info("wrote CPU profile", "path", path)
	}, nil
}

// startAPIServerProfile fetches a CPU profile of kube-apiserver
// (/debug/pprof/profile, on by default) while a mode registers; the returned
// function waits for it and writes it to --apiserver-cpuprofile.
func (h *harness) startAPIServerProfile(ctx context.Context, mode string) func() {
	if h.opts.apiProfile == "" {
		return func() {}
	}
	ext := filepath.Ext(h.opts.apiProfile)
	path := strings.TrimSuffix(h.opts.apiProfile, ext) + "." + mode + ext
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.fetchAPIServerProfile(ctx, path); err != nil {
			fmt.Fprintln(os.Stderr, "load: kube-apiserver profile:", err)
			return
		}
		h.log.Info("wrote kube-apiserver CPU profile", "path", path)
	}()
	return func() { <-done }
}

func (h *harness) fetchAPIServerProfile(ctx context.Context, path string) error {
	hc, err := rest.HTTPClientFor(h.cfg)
	if err != nil {
		return fmt.Errorf("building an HTTP client: %w", err)
	}
	url := fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", strings.TrimSuffix(h.cfg.Host, "/"), h.opts.apiProfileSeconds)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("fetching: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching: status %d", resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// ensureNamespace creates the namespace unless it exists.
func (h *harness) ensureNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := h.k8s.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}
