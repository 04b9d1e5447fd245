// Shared test helpers: test vectors from the Go minter, a real
// node-oidc-provider on 127.0.0.1 (plain http: TLS adds nothing to what these
// tests prove about client lookup; the Go interop tests run over TLS), a small
// JWKS server, and HTTP helpers.

import { execFileSync } from 'node:child_process';
import * as http from 'node:http';
import * as path from 'node:path';
import process from 'node:process';
import * as util from 'node:util';
import { fileURLToPath } from 'node:url';

import { exportJWK, generateKeyPair } from 'jose';

import { finishInteraction } from '../../../hack/interop/headless.mjs';

// oidc-provider prints notices (dev adapter, unsupported runtime on Node 20)
// with console.info / warnings; keep test output readable.
const quiet = (...args) => { if (process.env.VERBOSE) process.stderr.write(`${util.format(...args)}\n`); };
console.info = quiet;
console.warn = quiet;

const { default: Provider } = await import('oidc-provider');

export { Provider };

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Mints fresh vectors with the real Go code: $MINTIDS (a built hack/mintids
 * binary) if set, else `go run ./hack/mintids` in the repository root.
 */
export function mintVectors(issuer) {
  const args = ['-issuer', issuer];
  const out = process.env.MINTIDS
    ? execFileSync(process.env.MINTIDS, args, { maxBuffer: 16 << 20 })
    : execFileSync('go', ['run', './hack/mintids', ...args], { cwd: repoRoot, maxBuffer: 16 << 20 });
  return JSON.parse(out);
}

/** An http server on 127.0.0.1 with a free port; handler set later. */
export async function listen() {
  let handler = (req, res) => { res.statusCode = 503; res.end(); };
  const server = http.createServer((req, res) => handler(req, res));
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => { server.listen(0, '127.0.0.1', resolve); });
  const { port } = server.address();
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    setHandler(h) { handler = h; },
    close: () => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); }),
  };
}

/** Serves a JWK Set at /jwks; `set(body)` changes it; `hits` counts GETs. */
export async function jwksServer(initial) {
  const l = await listen();
  const state = { body: JSON.stringify(initial), hits: 0 };
  l.setHandler((req, res) => {
    if (req.url !== '/jwks') { res.statusCode = 404; res.end(); return; }
    state.hits += 1;
    res.setHeader('content-type', 'application/json');
    res.end(state.body);
  });
  return {
    url: `${l.url}/jwks`,
    get hits() { return state.hits; },
    set(body) { state.body = JSON.stringify(body); },
    close: l.close,
  };
}

export const STATIC_CLIENT = {
  client_id: 'static-service',
  client_secret: 'static-service-secret-0123456789abcdef',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
};

/**
 * Starts node-oidc-provider 9 on an already listening server `l` with the
 * given `adapter` (the integration) and a static client, devInteractions off,
 * client credentials, introspection and revocation on, and a headless
 * interaction stub at /interaction/:uid that logs in "user-1" and grants
 * openid. Returns the provider.
 */
export async function startProvider(l, adapter, { attach = true } = {}) {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const signing = { ...await exportJWK(privateKey), alg: 'RS256', use: 'sig', kid: 'op-1' };
  const provider = new Provider(l.url, {
    adapter,
    clients: [STATIC_CLIENT],
    jwks: { keys: [signing] },
    cookies: { keys: ['test-cookie-key-0123456789'] },
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
    },
    scopes: ['openid', 'profile', 'offline_access'],
    claims: { openid: ['sub'], profile: ['name'] },
    findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub, name: 'Test User' }) }),
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    pkce: { required: () => true },
    ttl: { ClientCredentials: 600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 },
  });
  if (attach) adapter.attach(provider);
  const callback = provider.callback();
  l.setHandler(async (req, res) => {
    const m = /^\/interaction\/([^/?]+)$/.exec(req.url);
    if (!m) { callback(req, res); return; }
    try {
      await finishInteraction(provider, req, res);
    } catch (err) {
      res.statusCode = 500;
      res.end(String(err?.stack ?? err));
    }
  });
  return provider;
}

export function basic(id, secret) {
  const enc = (s) => encodeURIComponent(s);
  return `Basic ${Buffer.from(`${enc(id)}:${enc(secret)}`).toString('base64')}`;
}

/** POSTs a form; returns {status, body (parsed JSON or text), headers}. */
export async function postForm(url, form, headers = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body, headers: res.headers };
}

/** A cookie jar for driving the authorization endpoint without a browser. */
export class Jar {
  #c = new Map();

  store(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') this.#c.delete(name);
      else this.#c.set(name, value);
    }
  }

  header() { return [...this.#c].map(([k, v]) => `${k}=${v}`).join('; '); }
}
