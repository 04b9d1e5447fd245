// Package cli implements clientregctl, the command-line tool for clientreg
// (also installed as the kubectl plugin kubectl-clientreg): status explains
// why an OAuthClient or a server is not Ready, inspect decodes and verifies
// the client id in a credentials Secret with every secret masked, and
// rotate, recover and abandon set the operator's annotations with the right
// values.
package cli

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	oauthv1alpha1 "github.com/clientreg/clientreg/api/v1alpha1"
)

// PluginPrefix is the prefix of a kubectl plugin's binary name: a binary
// named kubectl-clientreg on PATH is run by `kubectl clientreg`.
const PluginPrefix = "kubectl-"

// Options is what every command needs: where the cluster is, where to
// write, and the time.
type Options struct {
	// ConfigFlags are kubectl's connection flags (--kubeconfig, --context,
	// -n/--namespace, ...). KUBECONFIG and the in-cluster configuration are
	// honoured as kubectl honours them.
	ConfigFlags *genericclioptions.ConfigFlags
	// Streams are stdin, stdout (results) and stderr (errors).
	Streams genericiooptions.IOStreams
	// Now tells the time; time.Now when nil.
	Now func() time.Time
	// commandName is how the user called the tool, for hints.
	commandName string
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// client returns a client for the cluster the flags name.
func (o *Options) client() (client.Client, error) {
	cfg, err := o.ConfigFlags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the kubeconfig: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering client-go types: %w", err)
	}
	if err := oauthv1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("registering clientreg types: %w", err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("creating a client for %s: %w", cfg.Host, err)
	}
	return c, nil
}

// namespace returns the namespace of namespaced objects: -n, else the
// context's, else the in-cluster one, else default.
func (o *Options) namespace() (string, error) {
	ns, _, err := o.ConfigFlags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("finding the namespace: %w", err)
	}
	return ns, nil
}

// nsFlag returns " -n NS" for a hint, or "" when ns is the default one.
func nsFlag(ns string) string {
	if ns == "" || ns == "default" {
		return ""
	}
	return " -n " + ns
}

// CommandName is the name to show in help for a binary invoked as argv0:
// "kubectl clientreg" for the plugin binary, else the binary's base name.
func CommandName(argv0 string) string {
	base := strings.TrimSuffix(filepath.Base(argv0), ".exe")
	if rest, ok := strings.CutPrefix(base, PluginPrefix); ok && rest != "" {
		return "kubectl " + strings.ReplaceAll(rest, "_", "-")
	}
	if base == "" || base == "." {
		return "clientregctl"
	}
	return base
}

// NewCommand returns the root command. name is what the user typed to run
// it (see CommandName); it appears in help and in hints.
func NewCommand(name string, streams genericiooptions.IOStreams) *cobra.Command {
	o := &Options{
		ConfigFlags: genericclioptions.NewConfigFlags(true),
		Streams:     streams,
		commandName: name,
	}
	root := &cobra.Command{
		Use:   name,
		Short: "Inspect and operate clientreg OAuth clients and authorization servers",
		Long: `Inspect and operate clientreg OAuth clients and authorization servers
(oauth.clientreg.dev/v1alpha1).

  status   why an OAuthClient, AuthorizationServer or ClusterAuthorizationServer
           is not Ready: conditions, events, in-flight registration, deletion,
           rotation, keys
  inspect  decode the client id in a credentials Secret and verify it against
           the server's published keys; every secret is masked
  rotate   ask for new credentials now
  recover  allow a new registration after a lost one (RegistrationIncomplete)
  abandon  let a deleted client go, leaving its registration at the server

The cluster is found as kubectl finds it: --kubeconfig, KUBECONFIG,
~/.kube/config or the in-cluster configuration; --context and -n/--namespace
apply. Exit status: 0 on success, 1 on any error (written to stderr).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: name},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	o.ConfigFlags.AddFlags(root.PersistentFlags())
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })
	root.AddCommand(
		newStatusCommand(o),
		newInspectCommand(o),
		newRotateCommand(o),
		newRecoverCommand(o),
		newAbandonCommand(o),
	)
	return root
}

// Run runs the command line args (without the program name) and returns the
// exit status: 0 on success, 1 on any error, which is written to stderr.
func Run(ctx context.Context, name string, args []string, streams genericiooptions.IOStreams) int {
	root := NewCommand(name, streams)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		fmt.Fprintf(streams.ErrOut, "Error: %v\n", err)
		var u *usageErr
		if errors.As(err, &u) {
			fmt.Fprintf(streams.ErrOut, "Run '%s --help' for usage.\n", cmd.CommandPath())
		}
		return 1
	}
	return 0
}

// usageErr is a mistake in the command line.
type usageErr struct{ msg string }

func (e *usageErr) Error() string { return e.msg }

func usageError(format string, args ...any) error {
	return &usageErr{msg: fmt.Sprintf(format, args...)}
}

// needsKind is the RunE of a command that only groups its kinds (inspect
// secret, status oauthclient, ...): a usage error naming the kinds.
func needsKind(kinds string) func(cmd *cobra.Command, args []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageError("unknown kind %q for %s: use %s", args[0], cmd.CommandPath(), kinds)
		}
		return usageError("%s needs a kind: %s", cmd.CommandPath(), kinds)
	}
}

// exactlyOneName is the Args check of commands taking one object name.
func exactlyOneName(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usageError("%s takes exactly one %s name, got %d arguments", cmd.CommandPath(), what, len(args))
		}
		return nil
	}
}

// target returns the API client and the namespace the command works in.
func (o *Options) target() (client.Client, string, error) {
	c, err := o.client()
	if err != nil {
		return nil, "", err
	}
	ns, err := o.namespace()
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

// getOAuthClient reads the OAuthClient name in the command's namespace.
func (o *Options) getOAuthClient(ctx context.Context, name string) (client.Client, *oauthv1alpha1.OAuthClient, error) {
	c, ns, err := o.target()
	if err != nil {
		return nil, nil, err
	}
	obj := &oauthv1alpha1.OAuthClient{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		return nil, nil, fmt.Errorf("reading OAuthClient %s/%s: %w", ns, name, err)
	}
	return c, obj, nil
}
