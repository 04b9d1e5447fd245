// Package testtls holds the TLS client settings of tests that call a server
// whose certificate a test CA issued. Test support only.
package testtls

import (
	"crypto/tls"
	"crypto/x509"
)

// Trusting is a TLS client configuration (TLS 1.2 or later) that trusts
// only the CA certificates in caPEM.
func Trusting(caPEM []byte) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}
