// Package certtest makes throw-away X.509 certificates for tests, with
// hack/interop/testcerts: a certificate template signed with a fresh P-256
// key of its own, and self-signed CAs that signed nothing. It imports
// nothing from Kubernetes, so registrar's tests use it too. Test support
// only.
package certtest

import (
	"crypto/ecdsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/clientreg/clientreg/hack/interop/testcerts"
)

// SelfSigned makes a P-256 key and a certificate for it from tmpl, signed
// with that key. Any failure fails t.
func SelfSigned(t testing.TB, tmpl *x509.Certificate) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, cert, err := testcerts.Issue(tmpl, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// CA returns a new self-signed CA certificate named cn, valid from
// notBefore to notAfter, as PEM.
func CA(t testing.TB, cn string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	cert, _ := SelfSigned(t, &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	})
	return PEM(cert)
}

// PEM encodes cert as a PEM CERTIFICATE block.
func PEM(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// KeyPEM encodes key as a PEM PKCS #8 PRIVATE KEY block.
func KeyPEM(t testing.TB, key *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
