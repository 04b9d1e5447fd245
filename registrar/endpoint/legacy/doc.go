// Package legacy serves the pre-1.0 drafts of OpenID Connect Dynamic Client
// Registration (the 2011-era drafts with "type=client_associate" and
// "type=client_update") on top of the final RFC 7591 endpoint of package
// endpoint. It imports no Kubernetes package.
//
// An endpoint.Handler hands a POST to {Path}/register to its LegacyHandler
// when the body is application/x-www-form-urlencoded, or JSON with a "type"
// member equal to client_associate or client_update. A final-spec JSON
// registration (no such "type") never reaches this package.
//
// # Operations
//
//   - client_associate registers a client through endpoint.Handler.Register:
//     the same defaults, validation (package metadata), endpoint policy,
//     sector identifier check, MaxClients and storage (Stateful or
//     Stateless) as a final registration. The initial access token rules are
//     endpoint.CheckInitialAccessToken's (Open servers need none); the token
//     may also come as an access_token parameter (RFC 6750 §2.2; in JSON
//     bodies too), but not in both places (400 invalid_request).
//   - client_update replaces the client's metadata with the request's, in
//     full (parameters left out are dropped or defaulted, as with an RFC 7592
//     PUT), validated through endpoint.Handler.UpdateRegistration. The client
//     authenticates with client_id and client_secret, as parameters or with
//     HTTP Basic (form-urlencoded first, RFC 6749 §2.3.1), not both. The
//     secret is compared in constant time (SHA-256 of both, then
//     subtle.ConstantTimeCompare); an unknown client_id costs the same work.
//     The Store is keyed by handle, so client_update needs the Core's Store
//     to implement ClientIDLookup; otherwise it is 400 invalid_type.
//     Stateless servers refuse it with 400 invalid_type: their registrations
//     cannot change. The registration access token is left alone.
//   - Any other or missing type is 400 invalid_type.
//
// # Parameters
//
// Form bodies carry one value per parameter; list parameters are split at
// white space and commas (so a redirect URI containing a comma can only be
// registered with a JSON array). In JSON bodies a list parameter may be an
// array (taken verbatim) or a string (split the same way); other values pass
// through with their JSON types. The translated members are decoded with
// metadata.Decode(body, false), so the JSON type rules are the final ones.
// A parameter given twice, or a member given under two of its names, is 400
// invalid_request. Empty form values and JSON null count as absent.
//
//	request parameter(s)                               metadata member
//	redirect_uri, redirect_url, redirect_uris (list)   redirect_uris
//	application_name, client_name                      client_name
//	application_type                                   application_type
//	contact, contacts (list)                           contacts
//	logo_url, logo_uri                                 logo_uri
//	policy_url, policy_uri                             policy_uri
//	tos_url, tos_uri                                   tos_uri
//	jwk_url, jwks_uri                                  jwks_uri
//	sector_identifier, sector_identifier_url,
//	  sector_identifier_uri                            sector_identifier_uri
//	token_endpoint_auth_type,
//	  token_endpoint_auth_method                       token_endpoint_auth_method
//	subject_type                                       subject_type
//	id_token_signed_response_alg,
//	  id_token_encrypted_response_alg/_enc,
//	  userinfo_signed_response_alg,
//	  userinfo_encrypted_response_alg/_enc,
//	  request_object_signing_alg                       the same names
//	default_max_age (integer)                          default_max_age
//	require_auth_time (true/false)                     require_auth_time
//	default_acr, default_acr_values (list)             default_acr_values
//
// Ignored: js_origin_uri(s), js_origin_url(s) and javascript_origin_uris (the
// final metadata has no such member, and storing it as an extension member
// would keep unvalidated client input; CORS is answered with "*" anyway),
// x509_url, x509_encryption_url, jwk_encryption_url, language-tagged
// application_name#tag, and every other parameter, as the final endpoint
// ignores unknown members. Protocol parameters: type, client_id,
// client_secret, access_token.
//
// # Responses
//
// Success is 200 (both operations) with Cache-Control: no-store and
//
//	{"client_id": "...", "client_secret": "...", "expires_in": 3600}
//
// expires_in is the number of seconds until the client secret expires,
// rounded up, 0 when it never expires or no secret is issued. client_secret is
// omitted for clients without one. The drafts followed predate
// registration_access_token, so it is not returned; the registration made by
// client_associate still has one (unknown to the client), and RFC 7592
// management stays available only to final-spec clients.
//
// # Errors
//
// Errors are {"error", "error_description"} with Cache-Control: no-store.
// Final codes are renamed:
//
//	final code                                   draft code
//	invalid_redirect_uri, invalid_client_metadata,
//	  invalid_software_statement,
//	  unapproved_software_statement              invalid_configuration_parameter (status kept: 400, 413)
//	invalid_request, invalid_token (initial
//	  access token, with its Bearer challenge),
//	  access_denied, temporarily_unavailable,
//	  server_error                               unchanged
//	(draft only)                                 invalid_type (400): type missing, unknown or not offered
//	(draft only)                                 invalid_client_id (401): client_update without a known client_id
//	(draft only)                                 invalid_client_secret (401): client_update with a wrong or no secret
//
// A credential failure under HTTP Basic adds a Basic challenge. Metadata
// error descriptions name the parameter as the client sent it (logo_url, not
// logo_uri). One exception to the renaming: an oversized JSON body is refused
// by endpoint.Handler before the hand-off, with its own 413
// invalid_client_metadata; an oversized form body gets 413
// invalid_configuration_parameter here.
package legacy
