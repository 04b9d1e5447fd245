// Tokens per second at node-oidc-provider: client_credentials with stateless
// client ids (this integration) against the same provider's own stored client
// (a static `clients` entry), in the same run, over HTTP on 127.0.0.1.
//
//   node bench.mjs [requests per round, default 2000] [concurrency, default 8] [rounds, default 3]
//
// Two providers run side by side: one with the integration's verified-id
// cache (the default, cacheSize 1000) and one without it (cacheSize 0: every
// request verifies the id's signature, decrypts a nested id, derives the
// secret). Rounds alternate between the clients; the best round of each
// counts. Ids come from `go run ./hack/mintids` (or $MINTIDS).

import process from 'node:process';

import { createStatelessClientAdapter } from './index.mjs';
import {
  STATIC_CLIENT, basic, listen, mintVectors, startProvider,
} from './test/helpers.mjs';

const [requests = 2000, concurrency = 8, rounds = 3] = process.argv.slice(2).map(Number);

async function setup(cacheSize) {
  const l = await listen();
  const v = mintVectors(l.url);
  const adapter = createStatelessClientAdapter({
    issuer: v.issuer, jwks: v.jwks, keySet: v.keySet, decryptionKeys: v.recipientKeys, cacheSize,
  });
  await startProvider(l, adapter);
  const pick = (name) => v.cases.find((c) => c.name === name);
  return { l, clients: { static: STATIC_CLIENT, 'signed ES256': pick('signed-es256'), 'nested ECDH-ES': pick('nested-recipient-ec'), 'nested RSA-OAEP': pick('nested-recipient-rsa') } };
}

async function run(url, c, n) {
  const headers = { authorization: basic(c.client_id, c.client_secret), 'content-type': 'application/x-www-form-urlencoded' };
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < n) {
      next += 1;
      const res = await fetch(`${url}/token`, { method: 'POST', headers, body: 'grant_type=client_credentials' });
      await res.arrayBuffer();
      if (res.status !== 200) failures += 1;
    }
  };
  const t0 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (failures) throw new Error(`${failures} failed requests for ${c.client_id.slice(0, 20)}`);
  return n / s;
}

const setups = { 'cache on': await setup(1000), 'cache off': await setup(0) };
const best = {};
for (const [label, { l, clients }] of Object.entries(setups)) {
  for (const c of Object.values(clients)) await run(l.url, c, 200); // warm-up
  for (let r = 0; r < rounds; r += 1) {
    for (const [name, c] of Object.entries(clients)) {
      const tps = await run(l.url, c, requests);
      const key = `${label} | ${name}`;
      best[key] = Math.max(best[key] ?? 0, tps);
    }
  }
}
console.log(`node ${process.version}, ${requests} client_credentials requests per round, ${concurrency} in flight, best of ${rounds} rounds`);
for (const label of Object.keys(setups)) {
  const base = best[`${label} | static`];
  for (const name of Object.keys(setups[label].clients)) {
    const tps = best[`${label} | ${name}`];
    console.log(`${label.padEnd(9)} | ${name.padEnd(16)} | ${tps.toFixed(0).padStart(6)} tokens/s | ${(tps / base).toFixed(2)}x static`);
  }
}
for (const { l } of Object.values(setups)) await l.close();
