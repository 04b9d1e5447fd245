package stateless

import (
	"errors"
	"testing"
	"time"
)

func TestNewCrypto(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	keys := &KeySet{}
	if _, err := NewCrypto(keys, IDSettings{Issuer: "https://as.example"}); !errors.Is(err, ErrKeysNotReady) {
		t.Fatalf("no signing key: %v, want ErrKeysNotReady", err)
	}
	if _, err := keys.Ensure(UseSignature, "ES256", now, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCrypto(keys, IDSettings{Issuer: "https://as.example", Algorithm: "RS256"}); !errors.Is(err, ErrKeysNotReady) {
		t.Fatalf("signing key of another algorithm: %v, want ErrKeysNotReady", err)
	}
	if _, err := NewCrypto(keys, IDSettings{Issuer: "https://as.example", EncryptToKeySet: true}); !errors.Is(err, ErrKeysNotReady) {
		t.Fatalf("no encryption key: %v, want ErrKeysNotReady", err)
	}

	c, err := NewCrypto(keys, IDSettings{Issuer: "https://as.example", Algorithm: "ES256", Lifetime: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.Minter.Mint(MintRequest{Reg: []byte(`{"client_name":"a"}`), Confidential: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Verifier.Verify(m.ClientID); err != nil {
		t.Fatalf("the verifier does not accept what the minter minted: %v", err)
	}
	if sig, _ := keys.Active(UseSignature); c.SigningKey == nil || c.SigningKey.ID != sig.ID {
		t.Fatalf("signing key %+v, want the active one", c.SigningKey)
	}

	if _, err := keys.Ensure(UseEncryption, "ECDH-ES+A256KW", now, time.Hour); err != nil {
		t.Fatal(err)
	}
	enc, err := NewCrypto(keys, IDSettings{Issuer: "https://as.example", EncryptToKeySet: true})
	if err != nil {
		t.Fatal(err)
	}
	if m, err = enc.Minter.Mint(MintRequest{Reg: []byte(`{"client_name":"b"}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Verifier.Verify(m.ClientID); err != nil {
		t.Fatalf("an id encrypted to the set's key does not verify: %v", err)
	}

	ec, _ := keys.EncryptionConfig()
	other, err := NewCrypto(keys, IDSettings{Issuer: "https://as.example", Recipient: ec})
	if err != nil {
		t.Fatal(err)
	}
	if other.Verifier != nil {
		t.Fatal("ids encrypted to another party's key got a verifier")
	}
}
