// register.mjs drives the REAL third-party registration client openid-client
// (v5, pinned in package.json / package-lock.json) against a registration
// endpoint, for clientreg's Go tests. It is started by the Go harness in
// ./openidclient; it is not meant for anything but tests.
//
// stdin: one JSON object
//   {"issuer": "https://...", "caPEM": "-----BEGIN CERTIFICATE-----...",
//    "initialAccessToken": "..." | null, "metadata": {...}, "read": true|false}
//
// It trusts ONLY caPEM for TLS (openid-client's custom.setHttpOptionsDefaults
// passes `ca` to https.request, which replaces Node's default root store), then
//   1. Issuer.discover(issuer)
//   2. issuer.Client.register(metadata, { initialAccessToken })
//   3. if read: issuer.Client.fromUri(registration_client_uri, registration_access_token)
//
// stdout carries exactly one JSON line:
//   {"ok":true,"discovered":{"issuer","registration_endpoint"},
//    "registered":{...client.metadata},"read":{...client.metadata}}
//   {"ok":false,"error":"<name>: <message>","code":"<err.code>","status":<HTTP status>,"body":<response body>}
// (code, status and body only when known). Exit status 0 in both cases: the Go
// side asserts. Invalid input exits 2 (a harness bug, not a server verdict).
// Everything else goes to stderr.

import process from 'node:process';
import { emit, readInput, start } from './scriptio.mjs';

const fatal = start('register.mjs');

// Per-request timeout (openid-client's default is 3500 ms, too tight on a
// loaded CI machine); the Go side bounds the whole run at 60 s.
const REQUEST_TIMEOUT_MS = 15000;

function parseInput(input) {
  if (typeof input.caPEM !== 'string' || !input.caPEM.includes('-----BEGIN CERTIFICATE-----')) {
    fatal('"caPEM" must be a PEM certificate (the only trust anchor)');
  }
  if (input.read !== undefined && typeof input.read !== 'boolean') fatal('"read" must be a boolean');
  return { ...input, read: input.read === true };
}

// bodyOf returns the HTTP response body attached to an openid-client error:
// parsed JSON when it is JSON, else the text; undefined when there is none.
function bodyOf(response) {
  if (!response) return undefined;
  let body;
  try {
    body = response.body; // a lazy JSON getter for responseType 'json'; may throw
  } catch {
    body = response.body; // the getter replaced itself with the raw Buffer
  }
  if (body === undefined || body === null) return undefined;
  if (Buffer.isBuffer(body)) {
    const text = body.toString('utf8');
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return body;
}

function failure(err) {
  const out = { ok: false, error: `${err && err.name ? err.name : 'Error'}: ${err && err.message !== undefined ? err.message : String(err)}` };
  if (err && typeof err.code === 'string') out.code = err.code;
  const response = err && err.response;
  if (response && typeof response.statusCode === 'number') out.status = response.statusCode;
  const body = bodyOf(response);
  if (body !== undefined) out.body = body;
  return out;
}

const input = parseInput(await readInput(fatal));

// Loaded after the console redirection (static imports are hoisted).
const { Issuer, custom } = await import('openid-client');

custom.setHttpOptionsDefaults({ ca: input.caPEM, timeout: REQUEST_TIMEOUT_MS });

let result;
try {
  const issuer = await Issuer.discover(input.issuer);
  const discovered = {
    issuer: issuer.issuer,
    registration_endpoint: issuer.registration_endpoint,
  };
  process.stderr.write(`register.mjs: discovered ${JSON.stringify(discovered)}\n`);

  const client = await issuer.Client.register(
    structuredClone(input.metadata),
    { initialAccessToken: input.initialAccessToken },
  );
  result = { ok: true, discovered, registered: client.metadata };
  process.stderr.write(`register.mjs: registered client_id=${client.client_id}\n`);

  if (input.read) {
    const uri = client.registration_client_uri;
    const rat = client.registration_access_token;
    if (typeof uri !== 'string' || uri === '' || typeof rat !== 'string' || rat === '') {
      result = {
        ok: false,
        error: 'RPError: read requested but the registration response has no registration_client_uri/registration_access_token',
        discovered,
        registered: client.metadata,
      };
    } else {
      try {
        const read = await issuer.Client.fromUri(uri, rat);
        result.read = read.metadata;
      } catch (err) {
        result = { ...failure(err), discovered, registered: client.metadata };
        process.stderr.write(`register.mjs: read failed: ${err && err.stack ? err.stack : err}\n`);
      }
    }
  }
} catch (err) {
  result = failure(err);
  process.stderr.write(`register.mjs: ${err && err.stack ? err.stack : err}\n`);
}

emit(result);
