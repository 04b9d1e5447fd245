// register6.mjs drives the REAL openid-client 6 (npm alias openid-client-6,
// pinned in package.json / package-lock.json) for clientreg's Go tests: a
// client that knows only an authorization server's issuer discovers it,
// registers where its metadata's registration_endpoint says, and gets a token.
// It is started by the Go harness in ./openidclient (RegisterV6); it is not
// meant for anything but tests.
//
// stdin: one JSON object
//   {"issuer": "https://...", "caPEMs": ["-----BEGIN CERTIFICATE-----...", ...],
//    "initialAccessToken": "..." | null, "metadata": {...}, "token": true|false,
//    "scope": "..." | null}
//
// It trusts ONLY caPEMs for TLS (a customFetch over node:https with `ca`),
// and then, with openid-client 6's own checks (https only, the discovered
// issuer must equal the one asked for):
//   1. discovery(issuer): the authorization server's metadata
//   2. dynamicClientRegistration(issuer, metadata, ClientSecretBasic()):
//      discovery again, then RFC 7591 at the discovered registration_endpoint
//   3. if token: clientCredentialsGrant(config) at the discovered
//      token_endpoint, authenticating with client_secret_basic
//
// stdout carries exactly one JSON line:
//   {"ok":true,"discovered":{"issuer","registration_endpoint","token_endpoint"},
//    "registered":{...clientMetadata (client_id, client_secret, ...)},
//    "token":{"token_type","expires_in","scope"}}
//   {"ok":false,"step":"discovery|registration|token","error":"<name>: <message>",
//    "code":"<err.code>","status":<HTTP status>,"body":<response body>, ...}
// The access token itself is never printed. The registered client_secret is
// (the Go side needs it to use the client later; it must not log it). Exit
// status 0 in both cases; invalid input exits 2. Everything else goes to
// stderr.

import * as https from 'node:https';
import process from 'node:process';
import { emit, readInput, start } from './scriptio.mjs';

const fatal = start('register6.mjs');

const REQUEST_TIMEOUT_S = 15;

function parseInput(input) {
  if (!Array.isArray(input.caPEMs) || !input.caPEMs.length
    || !input.caPEMs.every((p) => typeof p === 'string' && p.includes('-----BEGIN CERTIFICATE-----'))) {
    fatal('"caPEMs" must be a non-empty array of PEM certificates (the only trust anchors)');
  }
  return {
    ...input,
    ca: input.caPEMs,
    token: input.token === true,
    scope: typeof input.scope === 'string' ? input.scope : undefined,
  };
}

// caFetch is a fetch for openid-client's customFetch that trusts only ca.
function caFetch(ca) {
  return (url, options = {}) => new Promise((resolve, reject) => {
    const u = new URL(url);
    if (u.protocol !== 'https:') {
      reject(new TypeError(`refusing ${u.protocol} (https only)`));
      return;
    }
    const headers = Object.fromEntries(new Headers(options.headers ?? {}).entries());
    let { body } = options;
    if (body instanceof URLSearchParams) body = body.toString();
    else if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) body = Buffer.from(body);
    const req = https.request(u, {
      method: options.method ?? 'GET', headers, ca, signal: options.signal,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          for (const one of Array.isArray(v) ? v : [v]) if (one !== undefined) h.append(k, one);
        }
        const noBody = [101, 204, 205, 304].includes(res.statusCode);
        const response = new Response(noBody ? null : Buffer.concat(chunks), {
          status: res.statusCode, statusText: res.statusMessage, headers: h,
        });
        Object.defineProperty(response, 'url', { value: u.href });
        resolve(response);
      });
    });
    req.on('error', reject);
    req.end(body ?? undefined);
  });
}

async function bodyOf(err) {
  // ResponseBodyError carries the parsed body as err.error / err.cause; a
  // plain Response may hang off err.cause.
  if (err?.cause && typeof err.cause === 'object' && !(err.cause instanceof Response)) return err.cause;
  if (err?.cause instanceof Response) {
    const text = await err.cause.text().catch(() => undefined);
    try { return JSON.parse(text); } catch { return text; }
  }
  return undefined;
}

async function failure(step, err) {
  const out = { ok: false, step, error: `${err?.name ?? 'Error'}: ${err?.message ?? String(err)}` };
  if (typeof err?.code === 'string') out.code = err.code;
  if (typeof err?.cause?.code === 'string') out.code = err.cause.code; // e.g. a TLS error behind "something went wrong"
  if (typeof err?.status === 'number') out.status = err.status;
  if (typeof err?.error === 'string') out.oauthError = err.error;
  const body = await bodyOf(err);
  if (body !== undefined) out.body = body;
  return out;
}

const input = parseInput(await readInput(fatal));
const client = await import('openid-client-6');
const options = { [client.customFetch]: caFetch(input.ca), timeout: REQUEST_TIMEOUT_S };
const server = new URL(input.issuer);

let result = {};
let step = 'discovery';
try {
  const discoveredConfig = await client.discovery(server, 'not-registered-yet', undefined, undefined, options);
  const md = discoveredConfig.serverMetadata();
  result.discovered = {
    issuer: md.issuer, registration_endpoint: md.registration_endpoint, token_endpoint: md.token_endpoint,
  };
  process.stderr.write(`register6.mjs: discovered ${JSON.stringify(result.discovered)}\n`);

  step = 'registration';
  const config = await client.dynamicClientRegistration(
    server,
    structuredClone(input.metadata),
    client.ClientSecretBasic(),
    { ...options, initialAccessToken: input.initialAccessToken },
  );
  result.registered = config.clientMetadata();
  process.stderr.write('register6.mjs: registered\n');

  if (input.token) {
    step = 'token';
    const params = input.scope ? { scope: input.scope } : {};
    const tok = await client.clientCredentialsGrant(config, params);
    if (typeof tok.access_token !== 'string' || !tok.access_token) throw new Error('no access_token');
    result.token = { token_type: tok.token_type, expires_in: tok.expires_in, scope: tok.scope };
  }
  result.ok = true;
} catch (err) {
  result = { ...result, ...await failure(step, err) };
  process.stderr.write(`register6.mjs: ${step}: ${err?.stack ?? err}\n`);
}

emit(result);
