package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// probeReason is the Ready reason of the status the cost probe writes.
const probeReason = "Probe"

// requestCost is the measured cost of one kind of API request, sent by the
// plain client with the load's concurrency while the manager is stopped.
type requestCost struct {
	Request   string             `json:"request"`
	N         int                `json:"n"`
	PerSecond float64            `json:"perSecond"`
	CPUms     map[string]float64 `json:"cpuMsPerRequest"`
	TotalCPU  float64            `json:"totalCPUMsPerRequest"`
}

// measureCosts times each write a stateful registration makes, alone, on
// the n OAuthClient + Secret pairs already created in ns: a Secret create is
// measured by the pair batch minus the OAuthClient batch; here the status
// write (as a JSON merge patch, as the reconciler sends it, and as a full
// update) and the Event create. It tells where a registration's API server
// CPU goes.
func (h *harness) measureCosts(ctx context.Context, ns string, n int) ([]requestCost, error) {
	list := &oauthv1alpha1.OAuthClientList{}
	if err := h.k8s.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("listing OAuthClients in %s: %w", ns, err)
	}
	// The pairs' OAuthClients: created, no status yet.
	var items []oauthv1alpha1.OAuthClient
	for _, oc := range list.Items {
		if strings.HasPrefix(oc.Name, "reg-pair") {
			items = append(items, oc)
		}
	}
	if len(items) > n {
		items = items[:n]
	}
	n = len(items)
	var out []requestCost
	measure := func(name string, do func(ctx context.Context, i int) error) error {
		cpu0 := cpuTimes()
		_, failed, samples, wall := parallel(ctx, n, h.opts.concurrency, do)
		cpu := cpuSeconds(cpu0, cpuTimes())
		if failed > 0 {
			return fmt.Errorf("%s: %d of %d failed: %v", name, failed, n, samples)
		}
		rc := requestCost{Request: name, N: n, PerSecond: float64(n) / wall.Seconds(), CPUms: map[string]float64{}}
		for k, v := range cpu {
			rc.CPUms[k] = v * 1000 / float64(n)
			rc.TotalCPU += v * 1000 / float64(n)
		}
		out = append(out, rc)
		return nil
	}
	stopProfile := h.startAPIServerProfile(ctx, "probe-status")
	defer stopProfile()
	if err := measure("PATCH oauthclients/status (merge patch, first status)", func(ctx context.Context, i int) error {
		oc := items[i].DeepCopy()
		orig := oc.DeepCopy()
		setProbeStatus(oc, 1)
		if err := h.k8s.Status().Patch(ctx, oc, client.MergeFrom(orig)); err != nil {
			return err
		}
		items[i] = *oc
		return nil
	}); err != nil {
		return nil, err
	}
	if err := measure("PUT oauthclients/status (update)", func(ctx context.Context, i int) error {
		oc := items[i].DeepCopy()
		setProbeStatus(oc, 2)
		return h.k8s.Status().Update(ctx, oc)
	}); err != nil {
		return nil, err
	}
	if err := measure("POST events (events.k8s.io/v1)", func(ctx context.Context, i int) error {
		oc := &items[i]
		ev := &eventsv1.Event{
			ObjectMeta:          metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("%s.%x", oc.Name, time.Now().UnixNano())},
			EventTime:           metav1.NewMicroTime(time.Now()),
			ReportingController: "clientreg", ReportingInstance: "clientreg-load",
			Action: "Create", Reason: "Registered", Type: corev1.EventTypeNormal,
			Regarding: corev1.ObjectReference{APIVersion: oauthv1alpha1.GroupVersion.String(), Kind: "OAuthClient", Namespace: ns, Name: oc.Name, UID: oc.UID},
			Note:      fmt.Sprintf("client %s...: credentials in Secret %s (first registration)", "eyJhbGciOiJFUzI1NiIsImtpZCI6", oc.Spec.SecretName),
		}
		return h.k8s.Create(ctx, ev)
	}); err != nil {
		return nil, err
	}
	return out, nil
}

// setProbeStatus fills oc's status as the reconciler does for a stateless
// client (three True conditions with the usual messages, a 300-character
// client id), marked with probeReason so it is not taken for the manager's.
func setProbeStatus(oc *oauthv1alpha1.OAuthClient, round int) {
	now := metav1.NewTime(time.Now().UTC().Truncate(time.Second))
	st := &oc.Status
	st.ObservedGeneration = oc.Generation
	st.ClientID = fmt.Sprintf("%0300d", round)
	st.Issuer, st.SecretName = "https://idp.example", oc.Spec.SecretName
	st.ClientIDIssuedAt, st.LastRotationTime = &now, &now
	for _, c := range []string{oauthv1alpha1.ConditionReady, oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ConditionSecretSynced} {
		meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: c, Status: metav1.ConditionTrue, Reason: probeReason,
			Message: fmt.Sprintf("probe round %d: a message of the usual length, naming Secret %s", round, oc.Spec.SecretName), ObservedGeneration: oc.Generation})
	}
}
