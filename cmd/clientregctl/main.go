// Command clientregctl inspects and operates clientreg OAuth clients and
// authorization servers: status, inspect, rotate, recover and abandon.
//
// Installed under the name kubectl-clientreg it is a kubectl plugin:
// `kubectl clientreg status oauthclient billing -n apps`.
//
//	go install github.com/clientreg/clientreg/cmd/clientregctl@latest
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/clientreg/clientreg/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.CommandName(os.Args[0]), os.Args[1:], genericiooptions.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
