package interop

import (
	"testing"

	"github.com/clientreg/clientreg/hack/interop/testcerts"
)

// testTLS makes a CA and a server certificate for 127.0.0.1 in a temporary
// directory and returns the certificate and key files and the CA PEM.
func testTLS(t testing.TB) (certFile, keyFile string, caPEM []byte) {
	t.Helper()
	certFile, keyFile, caPEM, err := testcerts.Write(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, caPEM
}
