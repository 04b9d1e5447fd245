// Package testutil holds the helpers the test suites share: starting a real
// API server (envtest) with the operator's scheme and CRDs, skipping or
// failing without KUBEBUILDER_ASSETS, the test logger, free ports, running a
// manager for a test, waiting, namespaces per test, bounded parallel work,
// following a watch until a set of OAuthClients reaches a state, fake
// clients whose requests a test counts or fails, and reading Prometheus
// series (from a registry or a scraped endpoint). Test support only.
package testutil

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// Eventually retries f every 50ms until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NewNamespace creates a namespace named after the test.
func NewNamespace(t testing.TB, c client.Client) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = fmt.Sprintf("%s-%d", strings.Trim(name, "-"), time.Now().UnixNano()%100000)
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
	return name
}

// Parallel runs f(0..n-1) on workers goroutines and fails on the first error.
func Parallel(t testing.TB, n, workers int, f func(int) error) {
	t.Helper()
	var wg sync.WaitGroup
	next := make(chan int)
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if err := f(j); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for j := 0; j < n; j++ {
		next <- j
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
}

// Ready reports whether c is Ready (True) at its current generation; a done
// function for WaitAll.
func Ready(c *oauthv1alpha1.OAuthClient) bool {
	cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady)
	return cond != nil && cond.Status == metav1.ConditionTrue && c.Status.ObservedGeneration == c.Generation
}

// ServerNotFound reports whether c waits for its server, which does not
// exist (Ready reason ServerNotFound); a done function for WaitAll.
func ServerNotFound(c *oauthv1alpha1.OAuthClient) bool {
	cond := meta.FindStatusCondition(c.Status.Conditions, oauthv1alpha1.ConditionReady)
	return cond != nil && cond.Reason == oauthv1alpha1.ReasonServerNotFound
}

// WaitAll lists once and then follows a watch until done holds for n
// OAuthClients in ns. A watch costs the API server little, so observing does
// not distort a benchmark the way polling a large list would.
func WaitAll(t testing.TB, wc client.WithWatch, ns string, n int, done func(*oauthv1alpha1.OAuthClient) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	state := map[string]bool{}
	count := func() int {
		c := 0
		for _, ok := range state {
			if ok {
				c++
			}
		}
		return c
	}
	for ctx.Err() == nil {
		list := &oauthv1alpha1.OAuthClientList{}
		if err := wc.List(ctx, list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		for i := range list.Items {
			state[list.Items[i].Name] = done(&list.Items[i])
		}
		if count() == n {
			return
		}
		w, err := wc.Watch(ctx, &oauthv1alpha1.OAuthClientList{}, client.InNamespace(ns), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
		if err != nil {
			t.Fatal(err)
		}
		for ev := range w.ResultChan() {
			c, ok := ev.Object.(*oauthv1alpha1.OAuthClient)
			if !ok {
				break // an error event: list again
			}
			state[c.Name] = done(c)
			if count() == n {
				w.Stop()
				return
			}
		}
		w.Stop()
	}
	t.Fatalf("only %d of %d clients done", count(), n)
}

// DeleteAllAndWait deletes every OAuthClient in ns and waits until they are
// gone (their finalizers released by a running manager). envtest runs no
// namespace controller, so deleting the namespace would not do it.
func DeleteAllAndWait(t testing.TB, c client.Client, ns string) {
	t.Helper()
	ctx := context.Background()
	if err := c.DeleteAllOf(ctx, &oauthv1alpha1.OAuthClient{}, client.InNamespace(ns)); err != nil {
		t.Fatalf("deleting the OAuthClients in %s: %v", ns, err)
	}
	Eventually(t, 5*time.Minute, func() error {
		list := &oauthv1alpha1.OAuthClientList{}
		if err := c.List(ctx, list, client.InNamespace(ns)); err != nil {
			return err
		}
		if len(list.Items) > 0 {
			return fmt.Errorf("%d OAuthClients left in %s", len(list.Items), ns)
		}
		return nil
	})
}

// WatchAll is WaitAll with a new watching client for cfg and scheme.
func WatchAll(t testing.TB, cfg *rest.Config, scheme *kruntime.Scheme, ns string, n int, done func(*oauthv1alpha1.OAuthClient) bool) {
	t.Helper()
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	WaitAll(t, wc, ns, n, done)
}

// GetSecret reads the Secret ns/name; a failure fails t.
func GetSecret(t testing.TB, c client.Client, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		t.Fatalf("reading Secret %s/%s: %v", ns, name, err)
	}
	return s
}

// OAuthClient returns the OAuthClient ns/name with spec, referring to the
// AuthorizationServer server unless spec names one, its Secret name-oauth
// unless spec names one, changed by mods in turn.
func OAuthClient(ns, name, server string, spec oauthv1alpha1.OAuthClientSpec, mods ...func(*oauthv1alpha1.OAuthClient)) *oauthv1alpha1.OAuthClient {
	if spec.ServerRef.Name == "" {
		spec.ServerRef.Name = server
	}
	if spec.SecretName == "" {
		spec.SecretName = name + "-oauth"
	}
	c := &oauthv1alpha1.OAuthClient{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	for _, m := range mods {
		m(c)
	}
	return c
}

// EnvPositive returns the positive integer in the environment variable
// name, or def when it is unset or holds anything else: a benchmark's size.
func EnvPositive(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// EnvInt returns the integer in the environment variable name, or def when
// it is unset; a value that is not an integer fails t.
func EnvInt(t testing.TB, name string, def int) int {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return n
}
