//go:build !unix

package oidcprovider

// lockFile is a no-op where flock is unavailable; concurrent first-time
// installs from several test binaries are then not serialised.
func lockFile(string) (func(), error) { return func() {}, nil }
