package stateless_test

import (
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/clientreg/clientreg/registrar/stateless"
)

// An authorization server written in Go accepts clientreg's stateless client
// ids at its token endpoint: it loads the key Secret the operator keeps
// (data key keys.json, here made on the spot, as the operator would), builds
// a Verifier for its own issuer, and checks the client id and secret a
// client presents (client_secret_basic or client_secret_post). The id
// carries the registered metadata, so nothing is looked up.
//
// A signed-only id's secret is derived, so the server needs the key Secret
// (keys.json); with nested ids in RecipientKey mode it needs only its own
// private key (VerifierConfig.DecryptionKeys), and private_key_jwt clients
// (the "cnf" claim) need nothing secret: NewVerifier with the public JWKS the
// operator publishes (status.jwks, or <endpoint issuer>/jwks).
func Example_authorizationServer() {
	const issuer = "https://idp.example.com"
	now := time.Now()

	// What the operator does: a key set in the server's key Secret, and an
	// id minted for a client.
	keys := &stateless.KeySet{}
	if _, err := keys.Ensure(stateless.UseSignature, stateless.AlgES256, now, 90*24*time.Hour); err != nil {
		log.Fatal(err)
	}
	keysJSON, err := keys.Marshal() // the key Secret's keys.json
	if err != nil {
		log.Fatal(err)
	}
	sig, _ := keys.Active(stateless.UseSignature)
	minter, err := stateless.NewMinter(stateless.MinterConfig{Issuer: issuer, SigningKey: *sig, Lifetime: 90 * 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	minted, err := minter.Mint(stateless.MintRequest{
		Reg:          json.RawMessage(`{"client_name":"billing","grant_types":["client_credentials"],"token_endpoint_auth_method":"client_secret_basic"}`),
		Confidential: true,
	})
	if err != nil {
		log.Fatal(err)
	}

	// What the authorization server does, with keys.json mounted from the
	// key Secret (reload it when it changes: new signing keys arrive there).
	loaded, err := stateless.ParseKeySet(keysJSON)
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := stateless.VerifierFromKeySet(issuer, issuer, loaded, nil)
	if err != nil {
		log.Fatal(err)
	}
	client, err := verifier.Verify(minted.ClientID) // refuse with invalid_client on error
	if err != nil {
		log.Fatal(err)
	}
	if err := verifier.CheckSecret(client, minted.ClientSecret); err != nil { // constant time
		log.Fatal(err)
	}
	if err := verifier.CheckSecret(client, "a guess"); err == nil {
		log.Fatal("a wrong secret was accepted")
	}
	var reg struct {
		ClientName string   `json:"client_name"`
		GrantTypes []string `json:"grant_types"`
	}
	if err := json.Unmarshal(client.Reg, &reg); err != nil {
		log.Fatal(err)
	}
	fmt.Println("client:", reg.ClientName, reg.GrantTypes)
	fmt.Println("issuer:", client.Issuer, "expires:", !client.ExpiresAt.IsZero())
	// Output:
	// client: billing [client_credentials]
	// issuer: https://idp.example.com expires: true
}
