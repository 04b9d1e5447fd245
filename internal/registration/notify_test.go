package registration

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func TestNotifier(t *testing.T) {
	var n notifier
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	chA, cancelA := n.subscribe(a)
	chA2, cancelA2 := n.subscribe(a)
	n.notify(b)
	select {
	case <-chA:
		t.Fatal("a woke on b's change")
	default:
	}
	// Two changes before the waiter looks: one pending signal, the sender never blocks.
	n.notify(a)
	n.notify(a)
	for _, ch := range []<-chan struct{}{chA, chA2} {
		select {
		case <-ch:
		case <-time.After(time.Second):
			t.Fatal("a waiter of a did not wake")
		}
	}
	cancelA()
	cancelA2()
	if len(n.waiters) != 0 {
		t.Fatalf("waiters left after unsubscribing: %v", n.waiters)
	}
	n.notify(a) // no waiters: nothing to do, no panic
}
