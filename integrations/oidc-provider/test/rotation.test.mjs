// Key rotation as the operator does it (KeySet.Rotate, then Prune), seen by a
// real node-oidc-provider through the published JWKS, which a local server
// changes mid-test: before the rotation only key A is published; during the
// publication window A and B; after it only B.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';

import { createStatelessClientAdapter } from '../index.mjs';
import {
  basic, jwksServer, listen, mintVectors, postForm, startProvider,
} from './helpers.mjs';

const REFETCH_INTERVAL = 300; // ms between two fetches, at least
const CACHE_MAX_AGE = 1500; // ms a fetched set is used before refetching

let l; let jwks; let r;

before(async () => {
  l = await listen();
  const v = mintVectors(l.url);
  r = v.rotation;
  jwks = await jwksServer(r.jwks.old);
  const adapter = createStatelessClientAdapter({
    issuer: v.issuer,
    jwksUri: jwks.url,
    keySet: r.keySet,
    jwksRefetchInterval: REFETCH_INTERVAL,
    jwksCacheMaxAge: CACHE_MAX_AGE,
  });
  await startProvider(l, adapter);
});

after(async () => {
  await l?.close();
  await jwks?.close();
});

const token = (c) => postForm(`${l.url}/token`, { grant_type: 'client_credentials' }, { authorization: basic(c.client_id, c.client_secret) });

async function expectToken(c, what) {
  const res = await token(c);
  assert.equal(res.status, 200, `${what}: ${JSON.stringify(res.body)}`);
}

async function expectRefused(c, what) {
  const res = await token(c);
  assert.equal(res.status, 401, `${what}: ${res.status} ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error, 'invalid_client', what);
}

// publish serves set at the JWKS URI, then waits wait ms and a margin: long
// enough for the provider to fetch the set again.
async function publish(set, wait) {
  jwks.set(set);
  await sleep(wait + 50);
}

test('ids signed before and after a rotation work while both keys are published; an unknown kid refetches, rate-limited', async () => {
  assert.equal(r.jwks.old.keys.length, 1);
  assert.equal(r.jwks.both.keys.length, 2);
  assert.equal(r.jwks.new.keys.length, 1);

  // Before the rotation: A published.
  await expectToken(r.before, 'id signed by A, A published');
  assert.equal(jwks.hits, 1, 'one fetch');

  // B's id arrives before B is published: its unknown kid refetches once...
  await sleep(REFETCH_INTERVAL + 50);
  await expectRefused(r.after, 'id signed by B, only A published');
  assert.equal(jwks.hits, 2, 'an unknown kid triggered a refetch');
  // ... and not again within the refetch interval (a flood of unknown kids
  // costs the JWKS endpoint nothing).
  for (let i = 0; i < 5; i += 1) await expectRefused(r.after, 'again');
  assert.equal(jwks.hits, 2, 'refetch rate-limited');

  // The operator rotates: B active, A retired but published.
  await publish(r.jwks.both, REFETCH_INTERVAL);
  await expectToken(r.after, 'id signed by B, A and B published');
  assert.equal(jwks.hits, 3, 'the unknown kid B refetched the set');
  await expectToken(r.before, 'id signed by A, A and B published');
  await expectToken(r.after, 'B again');
  assert.equal(jwks.hits, 3, 'known kids need no fetch');

  // A's publication window ends (Prune): only B. Once the cached set is
  // older than its max age it is refetched, and A's ids are refused.
  await publish(r.jwks.new, CACHE_MAX_AGE);
  await expectRefused(r.before, 'id signed by A after A was pruned');
  assert.equal(jwks.hits, 4, 'stale set refetched');
  await expectToken(r.after, 'id signed by B after A was pruned');
});
