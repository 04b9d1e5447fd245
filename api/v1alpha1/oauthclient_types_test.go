package v1alpha1

import "testing"

func TestSecretKeyNames(t *testing.T) {
	c := &OAuthClient{}
	if got := c.SecretKeyNames(); got.ClientID != "client_id" || got.ClientSecret != "client_secret" || got.Issuer != "issuer" ||
		got.RegistrationAccessToken != "registration_access_token" || got.RegistrationClientURI != "registration_client_uri" {
		t.Fatalf("defaults: %+v", got)
	}
	c.Spec.SecretTemplate = &SecretTemplate{Keys: &SecretKeys{ClientID: "CLIENT_ID", RegistrationClientURI: "URI"}}
	got := c.SecretKeyNames()
	if got.ClientID != "CLIENT_ID" || got.RegistrationClientURI != "URI" || got.ClientSecret != "client_secret" {
		t.Fatalf("overrides: %+v", got)
	}
}
