// The verifier and metadata mapping on their own (no provider), against ids
// minted by the Go code: key custody per mode, the allow-list and algorithm
// binding, time checks, configuration refusals, JWKS failures.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';

import { CompactSign, importJWK } from 'jose';

import {
  StatelessClientVerifier, createStatelessClientAdapter, deriveClientSecret, parseKeySet, toClientMetadata,
} from '../index.mjs';
import { jwksServer, mintVectors } from './helpers.mjs';

let v;
const byName = (name) => v.cases.find((c) => c.name === name);

before(() => { v = mintVectors('https://as.example.test'); });

async function refusal(verifier, id) {
  try {
    await verifier.verify(id);
  } catch (err) {
    assert.equal(err.name, 'InvalidClientIdError', err.stack);
    return err.reason;
  }
  return undefined;
}

describe('key custody (README): what each mode needs at the authorization server', () => {
  test('full custody (published JWKS + key Secret + own keys): every case, with the expected metadata', async () => {
    const ver = new StatelessClientVerifier({
      issuer: v.issuer, jwks: v.jwks, keySet: v.keySet, decryptionKeys: v.recipientKeys,
    });
    for (const c of v.cases) {
      const md = toClientMetadata(c.client_id, await ver.verify(c.client_id));
      assert.ok(md, c.name);
      for (const [k, want] of Object.entries(c.expect)) assert.deepEqual(md[k], want, `${c.name}: ${k}`);
      if (!c.client_secret) assert.equal(md.client_secret, undefined, `${c.name}: no secret`);
    }
  });

  test('only the public JWKS and the AS\'s own private keys: RecipientKey ids and private_key_jwt work, derived secrets do not', async () => {
    const ver = new StatelessClientVerifier({ issuer: v.issuer, jwks: v.jwks, decryptionKeys: v.recipientKeys });
    for (const name of ['nested-recipient-ec', 'nested-recipient-rsa', 'pkjwt-cnf-jwk', 'pkjwt-cnf-jku']) {
      const c = byName(name);
      const md = toClientMetadata(c.client_id, await ver.verify(c.client_id));
      assert.ok(md, name);
      assert.equal(md.client_secret, c.client_secret, name);
    }
    // Signed-only confidential ids: verified, but no secret can be had.
    for (const name of ['signed-es256', 'signed-eddsa', 'signed-rs256']) {
      const c = byName(name);
      assert.equal(toClientMetadata(c.client_id, await ver.verify(c.client_id)), undefined, name);
    }
    // Generated-mode ids need the key Secret's encryption key.
    assert.equal(await refusal(ver, byName('nested-generated').client_id), 'undecryptable');
  });

  test('the derivation rule is the Go one (secret from the key Secret\'s secretKey and sub)', () => {
    const { secretKeys } = parseKeySet(v.keySet);
    const c = byName('signed-es256');
    const [h, p] = c.client_id.split('.').slice(0, 2).map((s) => JSON.parse(Buffer.from(s, 'base64url')));
    assert.equal(deriveClientSecret(secretKeys.get(h.kid), p.sub), c.client_secret);
  });
});

describe('algorithms', () => {
  test('the allow-list refuses what it does not name', async () => {
    const ver = new StatelessClientVerifier({ issuer: v.issuer, jwks: v.jwks, algorithms: ['ES256'] });
    assert.ok(await ver.verify(byName('signed-es256').client_id));
    assert.equal(await refusal(ver, byName('signed-eddsa').client_id), 'algorithm not allowed');
    assert.equal(await refusal(ver, byName('signed-rs256').client_id), 'algorithm not allowed');
  });

  test('none and HMAC can never be allowed', () => {
    for (const a of ['none', 'HS256', 'HS512', '']) {
      assert.throws(() => new StatelessClientVerifier({ issuer: v.issuer, jwks: v.jwks, algorithms: [a] }), TypeError, a);
    }
  });

  test('a key is bound to its "alg": PS256 with the RS256 key is refused, accepted only when the JWK names no alg', async () => {
    const ks = JSON.parse(JSON.stringify(v.keySet));
    const rs = ks.keys.find((k) => k.alg === 'RS256');
    const claims = {
      iss: v.issuer, sub: 'c3ViamVjdA', aud: v.issuer, iat: Math.floor(Date.now() / 1000), reg: { grant_types: ['client_credentials'] },
    };
    const id = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'PS256', kid: rs.kid, typ: 'client-id+jwt' })
      .sign(await importJWK({ ...rs.key, alg: 'PS256' }, 'PS256'));
    const algorithms = ['RS256', 'PS256'];
    const bound = new StatelessClientVerifier({ issuer: v.issuer, jwks: v.jwks, algorithms });
    assert.equal(await refusal(bound, id), 'bad signature');
    const unbound = { keys: v.jwks.keys.map((k) => (k.kid === rs.kid ? { ...k, alg: undefined } : k)) };
    const loose = new StatelessClientVerifier({ issuer: v.issuer, jwks: JSON.parse(JSON.stringify(unbound)), algorithms });
    assert.ok(await loose.verify(id), 'control: the same token verifies when the key is not bound');
  });
});

describe('time', () => {
  test('exp with clockTolerance; iat far in the future is refused', async () => {
    const c = byName('signed-es256');
    const exp = c.expect.client_secret_expires_at;
    const at = (ms, extra = {}) => new StatelessClientVerifier({
      issuer: v.issuer, jwks: v.jwks, now: () => ms, ...extra,
    });
    assert.ok(await at(exp * 1000 - 1).verify(c.client_id), 'just before exp');
    assert.equal(await refusal(at(exp * 1000), c.client_id), 'expired', 'at exp');
    assert.ok(await at(exp * 1000 + 5000, { clockTolerance: 10 }).verify(c.client_id), 'within leeway');
    const iat = c.expect.client_id_issued_at;
    assert.ok(await at((iat - 299) * 1000).verify(c.client_id), 'iat 299s ahead');
    assert.equal(await refusal(at((iat - 301) * 1000), c.client_id), 'issued in the future');
  });

  test('a cached id is refused once it expires', async () => {
    const c = byName('signed-es256');
    let clock = Date.now();
    const factory = createStatelessClientAdapter({
      issuer: v.issuer, jwks: v.jwks, keySet: v.keySet, now: () => clock,
    }, class { async find() { return undefined; } });
    const find = () => factory('Client').find(c.client_id);
    assert.ok(await find());
    assert.ok(await find(), 'cached');
    clock = c.expect.client_secret_expires_at * 1000;
    assert.equal(await find(), undefined, 'expired, although cached');
  });
});

describe('configuration and JWKS source', () => {
  test('refused configurations', () => {
    assert.throws(() => new StatelessClientVerifier({ jwks: v.jwks }), /issuer/);
    assert.throws(() => new StatelessClientVerifier({ issuer: v.issuer }), /jwksUri, jwks or keySet/);
    assert.throws(() => new StatelessClientVerifier({ issuer: v.issuer, jwksUri: 'http://as.example.test/jwks' }), /https/);
    const ec = v.recipientKeys.find((k) => k.kty === 'EC');
    assert.throws(() => new StatelessClientVerifier({ issuer: v.issuer, jwks: v.jwks, decryptionKeys: [{ ...ec, alg: 'RSA-OAEP-256' }] }), /does not fit/);
    const { d, ...pub } = ec;
    assert.ok(d);
    assert.throws(() => new StatelessClientVerifier({ issuer: v.issuer, jwks: v.jwks, decryptionKeys: [pub] }), /private/);
  });

  test('keySet alone (the operator\'s own view): its public keys verify, as VerifierFromKeySet', async () => {
    const ver = new StatelessClientVerifier({ issuer: v.issuer, keySet: v.keySet });
    assert.ok(await ver.verify(byName('signed-rs256').client_id));
    assert.ok(await ver.verify(byName('nested-generated').client_id));
  });

  test('a failing JWKS endpoint: the last good set stays in use; none at all refuses', async () => {
    const s = await jwksServer(v.jwks);
    try {
      const ver = new StatelessClientVerifier({ issuer: v.issuer, jwksUri: s.url, jwksCacheMaxAge: 0, jwksRefetchInterval: 0 });
      assert.ok(await ver.verify(byName('signed-es256').client_id));
      s.set('not json');
      assert.ok(await ver.verify(byName('signed-es256').client_id), 'stale set used');
      assert.ok(s.hits >= 2, 'it did try to refetch');
      const fresh = new StatelessClientVerifier({ issuer: v.issuer, jwksUri: s.url });
      assert.equal(await refusal(fresh, byName('signed-es256').client_id), 'JWK Set unavailable');
    } finally {
      await s.close();
    }
  });

  test('keySetFile: a new signing key\'s derivation key is picked up when the mounted Secret changes', async () => {
    const r = v.rotation;
    const dir = mkdtempSync(join(tmpdir(), 'keyset-'));
    try {
      const file = join(dir, 'keys.json');
      const bKid = JSON.parse(Buffer.from(r.after.client_id.split('.')[0], 'base64url')).kid;
      const withoutB = { keys: r.keySet.keys.filter((k) => k.kid !== bKid) };
      writeFileSync(file, JSON.stringify(withoutB));
      const logs = [];
      const factory = createStatelessClientAdapter({
        issuer: v.issuer, jwks: r.jwks.both, keySetFile: file, keySetReloadInterval: 0, log: (_l, msg) => logs.push(msg),
      }, class { async find() { return undefined; } });
      const find = (c) => factory('Client').find(c.client_id);
      assert.equal((await find(r.before)).client_secret, r.before.client_secret);
      assert.equal(await find(r.after), undefined, 'B\'s derivation key is not there yet');
      writeFileSync(file, 'garbage');
      assert.equal((await find(r.before)).client_secret, r.before.client_secret, 'a broken file keeps the keys in use');
      writeFileSync(file, JSON.stringify(r.keySet));
      assert.equal((await find(r.after)).client_secret, r.after.client_secret, 'reloaded');
      assert.ok(logs.some((m) => /key set reloaded/.test(m)));
      assert.ok(logs.some((m) => /keeping the keys in use/.test(m)));
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  test('the adapter passes other models and other client ids to the fallback', async () => {
    const calls = [];
    class Fallback {
      constructor(name) { this.name = name; }

      async find(id) { calls.push([this.name, id]); return id === 'stored' ? { client_id: 'stored' } : undefined; }
    }
    const factory = createStatelessClientAdapter({ issuer: v.issuer, jwks: v.jwks, keySet: v.keySet }, Fallback);
    assert.deepEqual(await factory('Client').find('stored'), { client_id: 'stored' });
    assert.equal(await factory('Session').find('x'), undefined);
    const c = byName('signed-es256');
    assert.equal((await factory('Client').find(c.client_id)).client_secret, c.client_secret);
    assert.equal(await factory('Client').find(v.negative.find((n) => n.name === 'tampered-signature').client_id), undefined);
    assert.deepEqual(calls, [['Client', 'stored'], ['Session', 'x']], 'stateless ids never reach the fallback');
  });
});
