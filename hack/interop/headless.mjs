// headless.mjs is the headless login of the test providers (provider.mjs
// here, and the tests of integrations/oidc-provider): an interaction logs in
// "user-1" and grants openid, then oidc-provider redirects back to the
// authorization endpoint. Test use only.

// finishInteraction finishes the interaction of req at provider as
// "user-1"; it throws when oidc-provider does.
export async function finishInteraction(provider, req, res) {
  const details = await provider.interactionDetails(req, res);
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: 'user-1' } };
  } else {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope('openid');
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}
