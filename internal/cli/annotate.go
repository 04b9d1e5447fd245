package cli

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

func newRotateCommand(o *Options) *cobra.Command {
	return oauthClientVerb(o, "rotate", "Ask for new credentials for an OAuthClient now",
		`Ask the operator to replace an OAuthClient's credentials now, by setting the
annotation `+oauthv1alpha1.AnnotationRotate+` to the current time (RFC 3339).
The value acted upon is recorded in status.observedRotationRequest, so the
annotation never has to be removed. A stateless client gets a new id and secret;
a dynamically registered one is registered anew, the old registration staying
valid for spec.rotation.overlap.`,
		func(*cobra.Command) {},
		o.rotate)
}

func newRecoverCommand(o *Options) *cobra.Command {
	return oauthClientVerb(o, "recover", "Allow a new registration after a lost one (RegistrationIncomplete)",
		`Allow an OAuthClient in RegistrationIncomplete to register again.

A registration request was sent but its answer was never stored: the server
may hold a client the operator cannot see or delete. Check the server for a
client registered at the time shown by '`+o.commandName+` status oauthclient NAME'
(delete it there if you find one), then run this command: it sets the annotation
`+oauthv1alpha1.AnnotationRecoverRegistration+` to the attempt id in
status.pendingRegistration, so nobody has to copy it by hand. It refuses when
the client is not in RegistrationIncomplete.`,
		func(*cobra.Command) {},
		o.recover)
}

func newAbandonCommand(o *Options) *cobra.Command {
	var yes bool
	cmd := oauthClientVerb(o, "abandon", "Let an OAuthClient go without deleting its registration at the server",
		`Let an OAuthClient go without deleting its registration at the server, by
setting the annotation `+oauthv1alpha1.AnnotationAbandonRegistration+`=true.

Use it when deletion is blocked (DeletionBlocked: the server kept failing the
RFC 7592 DELETE). The object and its Secret go; the registration STAYS at the
server, still usable by anyone holding its credentials: delete it there by hand
with registration_client_uri and registration_access_token from the Secret
before the Secret goes, if you need to. The annotation takes effect when the
object is deleted (at once if it is being deleted). Requires --yes.`,
		func(cmd *cobra.Command) {
			cmd.Flags().BoolVar(&yes, "yes", false, "Confirm that the registration is left at the server.")
		},
		func(ctx context.Context, c client.Client, obj *oauthv1alpha1.OAuthClient) error {
			return o.abandon(ctx, c, obj, yes)
		})
	return cmd
}

// oauthClientCommand builds the subcommand "VERB oauthclient NAME", which
// runs run with the name.
func (o *Options) oauthClientCommand(verb, short string, run func(ctx context.Context, name string) error) *cobra.Command {
	return &cobra.Command{
		Use:     "oauthclient NAME",
		Aliases: []string{"oauthclients", "oac"},
		Short:   short,
		Example: fmt.Sprintf("  %s %s oauthclient billing -n apps", o.commandName, verb),
		Args:    exactlyOneName("OAuthClient"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), args[0])
		},
	}
}

// oauthClientVerb builds "VERB oauthclient NAME". The kind is spelled out,
// as in cmctl, so that commands on other kinds can follow. flags adds the
// subcommand's flags; run gets the object read from the cluster.
func oauthClientVerb(o *Options, verb, short, long string, flags func(*cobra.Command), run func(context.Context, client.Client, *oauthv1alpha1.OAuthClient) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   verb,
		Short: short,
		Long:  long,
		Args:  cobra.ArbitraryArgs,
		RunE:  needsKind("oauthclient"),
	}
	sub := o.oauthClientCommand(verb, short, func(ctx context.Context, name string) error {
		c, obj, err := o.getOAuthClient(ctx, name)
		if err != nil {
			return err
		}
		return run(ctx, c, obj)
	})
	sub.Long = long
	flags(sub)
	cmd.AddCommand(sub)
	return cmd
}

// setAnnotation merge-patches one annotation. With lock, the patch carries
// the object's resourceVersion, so it fails if the object changed since it
// was read (the value was chosen from what was read).
func setAnnotation(ctx context.Context, c client.Client, obj *oauthv1alpha1.OAuthClient, key, value string, lock bool) error {
	opts := []client.MergeFromOption{}
	if lock {
		opts = append(opts, client.MergeFromWithOptimisticLock{})
	}
	patch := client.MergeFromWithOptions(obj.DeepCopy(), opts...)
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	obj.Annotations[key] = value
	if err := c.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("setting the annotation %s on OAuthClient %s/%s: %w", key, obj.Namespace, obj.Name, err)
	}
	return nil
}

func (o *Options) rotate(ctx context.Context, c client.Client, obj *oauthv1alpha1.OAuthClient) error {
	value := o.now().UTC().Format(time.RFC3339Nano)
	if value == obj.Annotations[oauthv1alpha1.AnnotationRotate] {
		return fmt.Errorf("OAuthClient %s/%s already asks for rotation %s", obj.Namespace, obj.Name, value)
	}
	if err := setAnnotation(ctx, c, obj, oauthv1alpha1.AnnotationRotate, value, false); err != nil {
		return err
	}
	fmt.Fprintf(o.Streams.Out, "OAuthClient %s/%s: rotation requested (%s=%s).\n", obj.Namespace, obj.Name, oauthv1alpha1.AnnotationRotate, value)
	fmt.Fprintf(o.Streams.Out, "The operator replaces the credentials in Secret %s and records the request in status.observedRotationRequest.\n", obj.Spec.SecretName)
	fmt.Fprintf(o.Streams.Out, "Follow it with: %s status oauthclient %s%s\n", o.commandName, obj.Name, nsFlag(obj.Namespace))
	return nil
}

// attemptInMessage finds the attempt id named in a RegistrationIncomplete message.
var attemptInMessage = regexp.MustCompile(`\(attempt ([^) ]+)\)`)

func (o *Options) recover(ctx context.Context, c client.Client, obj *oauthv1alpha1.OAuthClient) error {
	var incomplete *metav1.Condition
	for _, t := range []string{oauthv1alpha1.ConditionRegistered, oauthv1alpha1.ConditionReady} {
		if cond := meta.FindStatusCondition(obj.Status.Conditions, t); cond != nil && cond.Reason == oauthv1alpha1.ReasonRegistrationIncomplete && cond.Status != metav1.ConditionTrue {
			incomplete = cond
			break
		}
	}
	if incomplete == nil {
		reason := "no Ready condition"
		if rc := meta.FindStatusCondition(obj.Status.Conditions, oauthv1alpha1.ConditionReady); rc != nil {
			reason = fmt.Sprintf("Ready=%s, %s", rc.Status, rc.Reason)
		}
		return fmt.Errorf("OAuthClient %s/%s is not in %s (%s): there is no lost registration to recover from; nothing changed",
			obj.Namespace, obj.Name, oauthv1alpha1.ReasonRegistrationIncomplete, reason)
	}
	id, endpoint, started := "", "", ""
	if pr := obj.UnresolvedRegistration(); pr != nil {
		id, endpoint, started = pr.ID, pr.Endpoint, pr.StartedAt.UTC().Format(time.RFC3339)
	} else if m := attemptInMessage.FindStringSubmatch(incomplete.Message); m != nil {
		id = m[1]
	}
	if id == "" {
		return fmt.Errorf("OAuthClient %s/%s is in %s but names no attempt id (status.pendingRegistration is empty); nothing changed", obj.Namespace, obj.Name, oauthv1alpha1.ReasonRegistrationIncomplete)
	}
	if obj.Annotations[oauthv1alpha1.AnnotationRecoverRegistration] == id {
		fmt.Fprintf(o.Streams.Out, "OAuthClient %s/%s: %s is already %s; the operator registers again at its next reconcile.\n", obj.Namespace, obj.Name, oauthv1alpha1.AnnotationRecoverRegistration, id)
		return nil
	}
	if err := setAnnotation(ctx, c, obj, oauthv1alpha1.AnnotationRecoverRegistration, id, true); err != nil {
		return err
	}
	fmt.Fprintf(o.Streams.Out, "OAuthClient %s/%s: %s=%s set.\n", obj.Namespace, obj.Name, oauthv1alpha1.AnnotationRecoverRegistration, id)
	if endpoint != "" {
		fmt.Fprintf(o.Streams.Out, "The operator registers again. The request of that attempt went to %s at %s: a client it created there is not managed by the operator.\n", endpoint, started)
	} else {
		fmt.Fprintln(o.Streams.Out, "The operator registers again. A client the lost attempt created at the server is not managed by the operator.")
	}
	return nil
}

func (o *Options) abandon(ctx context.Context, c client.Client, obj *oauthv1alpha1.OAuthClient, yes bool) error {
	if obj.Spec.DeletionPolicy == oauthv1alpha1.DeletionPolicyOrphan {
		return fmt.Errorf("OAuthClient %s/%s has deletionPolicy Orphan: its registration and Secret are kept on deletion anyway; nothing changed", obj.Namespace, obj.Name)
	}
	if !yes {
		return usageError("abandon leaves the registration of OAuthClient %s/%s at the server, usable by anyone holding its credentials; run again with --yes to confirm (nothing changed)", obj.Namespace, obj.Name)
	}
	if obj.Annotations[oauthv1alpha1.AnnotationAbandonRegistration] != "true" {
		if err := setAnnotation(ctx, c, obj, oauthv1alpha1.AnnotationAbandonRegistration, "true", false); err != nil {
			return err
		}
	}
	out := o.Streams.Out
	fmt.Fprintf(out, "OAuthClient %s/%s: %s=true set.\n", obj.Namespace, obj.Name, oauthv1alpha1.AnnotationAbandonRegistration)
	uri := obj.Status.RegistrationClientURI
	if uri == "" {
		uri = "its registration_client_uri"
	}
	if obj.DeletionTimestamp != nil {
		fmt.Fprintf(out, "The operator now removes the object and Secret %s without deleting the registration at the server.\n", obj.Spec.SecretName)
	} else {
		fmt.Fprintf(out, "It is not being deleted: when it is (kubectl delete oauthclient %s%s), the object and Secret %s go without deleting the registration at the server.\n", obj.Name, nsFlag(obj.Namespace), obj.Spec.SecretName)
	}
	fmt.Fprintf(out, "The registration stays at the server (%s); to delete it there, use the registration_access_token in Secret %s before the Secret goes.\n", uri, obj.Spec.SecretName)
	return nil
}
