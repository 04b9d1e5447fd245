// provider.mjs runs a real node-oidc-provider (pinned in package.json /
// package-lock.json) on 127.0.0.1 over TLS as a test peer for clientreg's Go
// tests. It is started by the Go harness in ./oidcprovider; it is not meant for
// anything but tests.
//
// Configuration (environment):
//   PORT         port to listen on; 0 or unset = pick a free one
//   HOST         listen address (default 127.0.0.1)
//   TLS_CERT     PEM server certificate (chain) file   (required)
//   TLS_KEY      PEM private key file                  (required)
//   ISSUER       issuer URL; default https://<HOST>:<bound port>
//   IAT          if set, registration requires this static initial access token
//   ROTATE_RAT   "1" = rotate the registration access token on every PUT
//   ADMIN_TOKEN  if set, enables GET /__admin/clients, GET /__admin/stats,
//                GET /__admin/stateless (the integration's JWK Set sources),
//                GET /__admin/client-metadata (every client's stored metadata
//                without its secret) and DELETE /__admin/clients/{client_id}
//                (what an administrator does in the provider's console),
//                GET /__admin/reads?since=<Unix ms> (the RFC 7592 reads
//                received since then: when, which client, which answer),
//                with `cimd`: GET /__admin/cimd-fetches (the outgoing
//                fetches so far, {"<url>": count}: client_id metadata
//                documents and jwks_uri) and POST /__admin/resources
//                ({"url", "scope", "accessTokenTTL"}: one more resource server),
//                guarded by the X-Admin-Token header (otherwise they are 404)
//   EXIT_ON_STDIN_EOF  "1" = exit when stdin closes (the harness keeps a pipe
//                open, so the provider dies with the test process)
//   CONFIG_FILE  if set, a JSON file (written by the harness, mode 0600: it may
//                hold private keys) with more options, all optional:
//                  stateless: options of integrations/oidc-provider's
//                    createStatelessClientAdapter (jwksUri | jwks, keySetFile,
//                    decryptionKeys, jwksRefetchInterval, ...); its issuer
//                    defaults to this provider's issuer. Also turns on
//                    private_key_jwt, introspection, revocation, required
//                    PKCE, scope openid and a headless login: GET
//                    /interaction/:uid logs in "user-1" and grants openid.
//                  discovery: members added to the discovery document
//                    (node-oidc-provider's `discovery` option), e.g.
//                    {"registration_endpoint": "<clientreg's endpoint>"}
//                  registration: false turns features.registration (and
//                    registrationManagement) off
//                  cimd: turns on features.clientIdMetadataDocument (OAuth
//                    Client ID Metadata Documents, draft 02: a client_id
//                    that is an https URL is fetched), with
//                      hosts: {"<hostname>": "<IP>"}: the document (and
//                        jwks_uri) fetches to these hostnames connect to the
//                        IP (e.g. 127.0.0.1, which oidc-provider's SSRF guard
//                        refuses otherwise), trusting only `ca`, never
//                        following a redirect; other hostnames are fetched as
//                        oidc-provider does by default
//                      ca: PEM CA certificates for those fetches
//                      cacheDuration: {min, max} seconds a document is
//                        cached (oidc-provider's default {30, 86400})
//                      resources: [{url, scope, accessTokenTTL}]: resource
//                        servers (RFC 8707) whose access tokens are JWTs
//                        (RS256, aud = url, the provider's JWKS) carrying any
//                        of `scope` that was asked for, for every client
//                        (client_credentials included); more can be added
//                        at run time (POST /__admin/resources)
//                      clientAuthSigningAlgValues: the JWS algorithms of
//                        client assertions (default oidc-provider's)
//                    It also turns on private_key_jwt, required PKCE and
//                    the headless login of `stateless`, which here also
//                    grants the resource scopes asked for.
//   NODE_EXTRA_CA_CERTS  (Node's own) CAs trusted by outgoing requests, e.g.
//                the operator endpoint's CA for stateless.jwksUri
//
// stdout carries exactly one line, "LISTENING <port>"; everything else
// (oidc-provider notices and warnings, errors) goes to stderr.

import * as crypto from 'node:crypto';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import process from 'node:process';
import * as util from 'node:util';
import { finishInteraction } from './headless.mjs';

// oidc-provider prints NOTICEs with console.info (stdout). Route every console
// method that writes to stdout to stderr before the library is loaded, so that
// the harness's stdout protocol stays a single line.
const toStderr = (...args) => { process.stderr.write(`${util.format(...args)}\n`); };
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;
console.dir = (obj, opts) => { process.stderr.write(`${util.inspect(obj, opts)}\n`); };

// Loaded dynamically so that the console redirection above is in place first
// (static imports are hoisted). Importing it prints the "Unsupported runtime"
// warning to stderr on Node 20; it works regardless.
const { default: Provider, errors: oidcErrors } = await import('oidc-provider');

function fatal(msg) {
  process.stderr.write(`provider.mjs: ${msg}\n`);
  process.exit(2);
}

const env = process.env;
const HOST = env.HOST || '127.0.0.1';
const PORT = env.PORT ? Number.parseInt(env.PORT, 10) : 0;
if (!Number.isInteger(PORT) || PORT < 0 || PORT > 65535) fatal(`invalid PORT ${env.PORT}`);
if (!env.TLS_CERT || !env.TLS_KEY) fatal('TLS_CERT and TLS_KEY must be set');
const IAT = env.IAT || '';
const ROTATE_RAT = env.ROTATE_RAT === '1';
const ADMIN_TOKEN = env.ADMIN_TOKEN || '';
let config = {};
if (env.CONFIG_FILE) {
  try {
    config = JSON.parse(fs.readFileSync(env.CONFIG_FILE, 'utf8'));
  } catch (err) {
    fatal(`reading CONFIG_FILE: ${err.message}`);
  }
}
const REGISTRATION = config.registration !== false;
const STATELESS = config.stateless;
const CIMD = config.cimd;
// The integration is loaded only when asked for: it resolves its own `jose`
// from integrations/oidc-provider/node_modules (npm ci there first).
const { createStatelessClientAdapter } = STATELESS
  ? await import('../../integrations/oidc-provider/index.mjs')
  : {};

// ---------------------------------------------------------------------------
// A simple Map-based adapter (one Map per model, no size limit, TTL honoured on
// read) so that the admin hook can list Client models. State is in memory only:
// a restart loses every client and token.
const stores = new Map();
function storeFor(model) {
  let s = stores.get(model);
  if (!s) {
    s = new Map();
    stores.set(model, s);
  }
  return s;
}

function live(entry) {
  return entry && (entry.expiresAt === undefined || entry.expiresAt > Date.now());
}

class MapAdapter {
  constructor(model) {
    this.model = model;
    this.store = storeFor(model);
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    this.store.set(id, { payload, expiresAt });
  }

  async find(id) {
    const entry = this.store.get(id);
    if (!live(entry)) {
      this.store.delete(id);
      return undefined;
    }
    return entry.payload;
  }

  async findByUid(uid) {
    for (const [id, entry] of this.store) {
      if (live(entry) && entry.payload.uid === uid) return this.find(id);
    }
    return undefined;
  }

  async findByUserCode(userCode) {
    for (const [id, entry] of this.store) {
      if (live(entry) && entry.payload.userCode === userCode) return this.find(id);
    }
    return undefined;
  }

  async consume(id) {
    const entry = this.store.get(id);
    if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    this.store.delete(id);
  }

  async revokeByGrantId(grantId) {
    for (const [id, entry] of this.store) {
      if (entry.payload.grantId === grantId) this.store.delete(id);
    }
  }
}

// clientMetadata is every live client's stored metadata, client_secret left out.
function clientMetadata() {
  const out = [];
  for (const [id, entry] of storeFor('Client')) {
    if (!live(entry)) continue;
    const { client_secret: _secret, ...md } = entry.payload;
    out.push({ ...md, client_id: id });
  }
  return out.sort((a, b) => (a.client_id < b.client_id ? -1 : a.client_id > b.client_id ? 1 : 0));
}

// deleteClient removes a client and its registration access tokens, as an
// administrator would in the provider's console; false if there was none.
function deleteClient(id) {
  const clients = storeFor('Client');
  if (!live(clients.get(id))) return false;
  clients.delete(id);
  const rats = storeFor('RegistrationAccessToken');
  for (const [tokenId, entry] of rats) {
    if (entry.payload.clientId === id) rats.delete(tokenId);
  }
  return true;
}

function clientIds() {
  const out = [];
  for (const [id, entry] of storeFor('Client')) {
    if (live(entry)) out.push(id);
  }
  return out.sort();
}

// ---------------------------------------------------------------------------
// Request counting and the admin hook.
const stats = { register: 0, read: 0, update: 0, delete: 0, token: 0 };
let regPath = '/reg'; // replaced by provider.pathFor('registration') below
let tokenPath = '/token'; // replaced by provider.pathFor('token') below

function tokenMatches(presented) {
  if (!ADMIN_TOKEN || typeof presented !== 'string') return false;
  const a = crypto.createHash('sha256').update(presented).digest();
  const b = crypto.createHash('sha256').update(ADMIN_TOKEN).digest();
  return crypto.timingSafeEqual(a, b);
}

// The RFC 7592 reads (GET /reg/{client_id}) in the order they arrived, as
// [arrival Unix ms, client_id, answer status], for tests of how reads spread
// over time. Bounded: beyond READ_LOG_MAX entries the older half is dropped,
// and readLogDroppedUntil remembers the arrival of the last one dropped, so
// that a question about that time is refused rather than answered short.
const READ_LOG_MAX = 1000000;
let readLog = [];
let readLogDroppedUntil = -1;

function logRead(at, clientId, status) {
  if (readLog.length >= READ_LOG_MAX) {
    const drop = READ_LOG_MAX / 2;
    readLogDroppedUntil = readLog[drop - 1][0];
    readLog = readLog.slice(drop);
  }
  readLog.push([at, clientId, status]);
}

// readClientId returns the client_id of an RFC 7592 read, else ''.
function readClientId(ctx) {
  if (ctx.method !== 'GET' || !ctx.path.startsWith(`${regPath}/`)) return '';
  const rest = ctx.path.slice(regPath.length + 1);
  if (rest === '' || rest.includes('/')) return '';
  try {
    return decodeURIComponent(rest);
  } catch {
    return rest;
  }
}

function countRequest(ctx) {
  const { method, path } = ctx;
  if (path === regPath) {
    if (method === 'POST') stats.register += 1;
  } else if (path.startsWith(`${regPath}/`) && path.length > regPath.length + 1
    && !path.slice(regPath.length + 1).includes('/')) {
    if (method === 'GET') stats.read += 1;
    else if (method === 'PUT') stats.update += 1;
    else if (method === 'DELETE') stats.delete += 1;
  } else if (path === tokenPath && method === 'POST') {
    stats.token += 1;
  }
}

async function adminAndStats(ctx, next) {
  if (ctx.path === '/__admin' || ctx.path.startsWith('/__admin/')) {
    ctx.set('Cache-Control', 'no-store');
    if (!ADMIN_TOKEN) {
      ctx.status = 404;
      return;
    }
    if (!tokenMatches(ctx.get('X-Admin-Token'))) {
      ctx.status = 401;
      ctx.body = { error: 'unauthorized' };
      return;
    }
    if (ctx.method === 'DELETE' && ctx.path.startsWith('/__admin/clients/')) {
      const id = decodeURIComponent(ctx.path.slice('/__admin/clients/'.length));
      ctx.status = deleteClient(id) ? 204 : 404;
      return;
    }
    if (ctx.path === '/__admin/resources' && ctx.method === 'POST') {
      await addResourceFromAdmin(ctx);
      return;
    }
    if (ctx.method !== 'GET') {
      ctx.status = 405;
      return;
    }
    if (ctx.path === '/__admin/cimd-fetches') {
      if (!CIMD) {
        ctx.status = 404;
        return;
      }
      ctx.body = Object.fromEntries(cimdFetches);
      return;
    }
    if (ctx.path === '/__admin/client-metadata') {
      ctx.body = clientMetadata();
      return;
    }
    if (ctx.path === '/__admin/clients') {
      ctx.body = clientIds();
      return;
    }
    if (ctx.path === '/__admin/stats') {
      ctx.body = { ...stats };
      return;
    }
    if (ctx.path === '/__admin/reads') {
      const since = Number(ctx.query.since ?? 0);
      if (!Number.isFinite(since)) {
        ctx.status = 400;
        ctx.body = { error: 'since must be a number of Unix milliseconds' };
        return;
      }
      if (since <= readLogDroppedUntil) {
        ctx.status = 409;
        ctx.body = { error: `the read log no longer holds reads before ${readLogDroppedUntil + 1}` };
        return;
      }
      ctx.body = { reads: readLog.filter((r) => r[0] >= since) };
      return;
    }
    if (ctx.path === '/__admin/stateless') {
      // The integration's JWK Set sources: how often each was fetched and
      // the kids it holds now (public information, for tests of rotation).
      ctx.body = (stateless?.verifier.sources ?? []).map(({ issuer: iss, source }) => ({
        issuer: iss,
        fetches: source.fetches ?? 0,
        kids: source.table ? [...source.table.byKid.keys()].sort() : [],
      }));
      return;
    }
    ctx.status = 404;
    return;
  }
  countRequest(ctx);
  const readOf = readClientId(ctx);
  if (!readOf) {
    await next();
    return;
  }
  const at = Date.now();
  try {
    await next();
  } finally {
    logRead(at, readOf, ctx.status);
  }
}

// ---------------------------------------------------------------------------
// Client ID Metadata Documents (config.cimd).

// Outgoing fetches by URL (documents, jwks_uri), for tests of caching.
const cimdFetches = new Map();

// resources are the resource servers that get JWT access tokens, by URL.
const resources = new Map();

function addResource(r) {
  if (!r || typeof r.url !== 'string' || !URL.canParse(r.url) || r.url.includes('#')) {
    throw new TypeError(`cimd.resources: invalid url ${JSON.stringify(r?.url)}`);
  }
  if (typeof r.scope !== 'string' || r.scope === '') {
    throw new TypeError(`cimd.resources: ${r.url}: scope must be a non-empty string`);
  }
  const ttl = r.accessTokenTTL ?? 600;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) {
    throw new TypeError(`cimd.resources: ${r.url}: accessTokenTTL must be a positive integer`);
  }
  resources.set(r.url, { scope: r.scope, accessTokenTTL: ttl });
}

async function readJSONBody(req, limit = 64 << 10) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('body too large');
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

async function addResourceFromAdmin(ctx) {
  if (!CIMD) {
    ctx.status = 404;
    return;
  }
  try {
    addResource(await readJSONBody(ctx.req));
  } catch (err) {
    ctx.status = 400;
    ctx.body = { error: err.message };
    return;
  }
  ctx.status = 204;
}

// cimdHosts maps lower-case hostnames to the IP their fetches connect to.
const cimdHosts = new Map();
if (CIMD) {
  for (const [host, ip] of Object.entries(CIMD.hosts ?? {})) {
    if (!net.isIP(ip)) fatal(`cimd.hosts: ${host}: ${JSON.stringify(ip)} is not an IP address`);
    cimdHosts.set(host.toLowerCase(), ip);
  }
  for (const r of CIMD.resources ?? []) {
    try {
      addResource(r);
    } catch (err) {
      fatal(err.message);
    }
  }
}

// mappedLookup is dns.lookup for the mapped hostnames. net.connect calls
// it with {all: true} when it may try several addresses (autoSelectFamily,
// the default since Node 20), which wants an array.
function mappedLookup(hostname, opts, cb) {
  if (typeof opts === 'function') {
    cb = opts;
    opts = {};
  }
  const ip = cimdHosts.get(String(hostname).toLowerCase());
  if (!ip) {
    dns.lookup(hostname, opts, cb);
    return;
  }
  const family = net.isIPv6(ip) ? 6 : 4;
  if (opts?.all) cb(null, [{ address: ip, family }]);
  else cb(null, ip, family);
}

// mappedDispatcher is an undici Agent (the constructor of the dispatcher
// that oidc-provider's fetch_request.js put in options, i.e. Node's bundled
// undici) whose connections to mapped hostnames go to their IP and trust
// only cimd.ca. It replaces oidc-provider's SSRF-guarding dispatcher, which
// would destroy a socket to 127.0.0.1, for the mapped hostnames only.
let mappedDispatcher;
function dispatcherFor(current) {
  if (mappedDispatcher) return mappedDispatcher;
  // eslint-disable-next-line no-unused-expressions
  Response; // loads Node's undici, which installs its global dispatcher
  const Agent = current?.constructor
    ?? (globalThis[Symbol.for('undici.globalDispatcher.2')]
      ?? globalThis[Symbol.for('undici.globalDispatcher.1')])?.constructor;
  if (typeof Agent !== 'function') throw new Error('no undici Agent constructor found');
  mappedDispatcher = new Agent({
    connect: {
      ...(CIMD.ca ? { ca: CIMD.ca } : {}),
      lookup: mappedLookup,
      timeout: 2500,
    },
  });
  return mappedDispatcher;
}

// cimdFetch is oidc-provider's `fetch` option.
async function cimdFetch(url, options) {
  const key = String(url);
  cimdFetches.set(key, (cimdFetches.get(key) ?? 0) + 1);
  let host = '';
  try {
    host = new URL(key).hostname.toLowerCase();
  } catch {
    // globalThis.fetch reports it
  }
  if (!cimdHosts.has(host)) return globalThis.fetch(url, options);
  return globalThis.fetch(url, { ...options, redirect: 'manual', dispatcher: dispatcherFor(options?.dispatcher) });
}

// The headless login with `cimd`: GET /interaction/:uid logs in "user-1"
// and grants openid, the OIDC scopes and claims and the resource scopes that
// the request asked for (test use only).
async function finishCIMDInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: 'user-1' } };
  } else {
    const missing = details.prompt.details ?? {};
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(['openid', ...(missing.missingOIDCScope ?? [])].join(' '));
    if (missing.missingOIDCClaims?.length) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

// ---------------------------------------------------------------------------
// A static signing key generated at startup (no dev-keys warning).
function signingJWKS() {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, kid: crypto.randomUUID(), use: 'sig', alg: 'RS256' }] };
}

// ---------------------------------------------------------------------------
// Bind the listener first (to learn the port when PORT=0), then construct the
// Provider with the final issuer, then attach its handler.
let handler = (req, res) => {
  res.statusCode = 503;
  res.setHeader('Retry-After', '1');
  res.end('starting\n');
};

const server = https.createServer({
  cert: fs.readFileSync(env.TLS_CERT),
  key: fs.readFileSync(env.TLS_KEY),
}, (req, res) => handler(req, res));

server.on('error', (err) => fatal(`server error: ${err.stack || err}`));

await new Promise((resolve) => { server.listen(PORT, HOST, resolve); });
const { port } = server.address();

const hostForURL = HOST.includes(':') ? `[${HOST}]` : HOST;
const issuer = env.ISSUER || `https://${hostForURL}:${port}`;

// clientreg's stateless ids through the integration's Client adapter; every
// other model (and stored clients) stays in MapAdapter.
let stateless;
if (STATELESS) {
  stateless = createStatelessClientAdapter({
    issuer,
    ...STATELESS,
    // Refusal reasons (never ids or secrets) go to stderr for diagnostics.
    log: (level, message, detail) => {
      process.stderr.write(`stateless ${level}: ${message}${detail?.reason ? ` (${detail.reason})` : ''}\n`);
    },
  }, MapAdapter);
}

const statelessOptions = STATELESS || CIMD ? {
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none'],
  claims: { openid: ['sub'] },
  findAccount: async (ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  pkce: { required: () => true },
} : {};

const cimdOptions = CIMD ? {
  fetch: cimdFetch,
  ...(CIMD.clientAuthSigningAlgValues ? { clientAuthSigningAlgValues: CIMD.clientAuthSigningAlgValues } : {}),
} : {};

const provider = new Provider(issuer, {
  adapter: stateless || MapAdapter,
  jwks: signingJWKS(),
  cookies: { keys: [crypto.randomBytes(32).toString('base64url')] },
  scopes: ['openid', 'api'],
  // clientDefaults are oidc-provider's own (grant_types ["authorization_code"],
  // response_types ["code"], token_endpoint_auth_method "client_secret_basic"),
  // kept on purpose: the registration client must cope with them.
  clientBasedCORS: () => false,
  ttl: STATELESS || CIMD
    ? { ClientCredentials: 600, AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 600, Grant: 600 }
    : { ClientCredentials: 600 },
  // Members added to the discovery document: how an authorization server
  // points clients at a registration endpoint it does not serve itself.
  ...(config.discovery ? { discovery: config.discovery } : {}),
  ...statelessOptions,
  ...cimdOptions,
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    ...(STATELESS ? { introspection: { enabled: true }, revocation: { enabled: true } } : {}),
    ...(CIMD ? {
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        ...(CIMD.cacheDuration ? { cacheDuration: CIMD.cacheDuration } : {}),
      },
      resourceIndicators: {
        enabled: true,
        // A resource server listed in cimd.resources gets JWT access
        // tokens with any of its scope that was asked for, whichever the
        // client (the server's policy: nothing in a document grants them).
        getResourceServerInfo: async (ctx, indicator) => {
          const r = resources.get(indicator);
          if (!r) throw new oidcErrors.InvalidTarget();
          return {
            scope: r.scope,
            audience: indicator,
            accessTokenTTL: r.accessTokenTTL,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    } : {}),
    registration: {
      enabled: REGISTRATION,
      initialAccessToken: IAT || false,
    },
    registrationManagement: {
      enabled: REGISTRATION,
      rotateRegistrationAccessToken: ROTATE_RAT,
    },
  },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
if (stateless) stateless.attach(provider);

if (REGISTRATION) regPath = provider.pathFor('registration');
tokenPath = provider.pathFor('token');
provider.use(adminAndStats);
provider.on('server_error', (ctx, err) => {
  process.stderr.write(`server_error ${ctx.method} ${ctx.path}: ${err.stack || err}\n`);
});

// The headless login of the stateless setup: GET /interaction/:uid logs in
// "user-1" and grants openid (with cimd, and the scopes asked for), then
// redirects back to the authorization endpoint (test use only).
async function headlessInteraction(req, res) {
  try {
    if (CIMD) await finishCIMDInteraction(req, res);
    else await finishInteraction(provider, req, res);
  } catch (err) {
    process.stderr.write(`interaction: ${err.stack || err}\n`);
    res.statusCode = 500;
    res.end('interaction failed\n');
  }
}

const callback = provider.callback();
handler = STATELESS || CIMD
  ? (req, res) => (/^\/interaction\/[^/?]+$/.test(req.url) ? headlessInteraction(req, res) : callback(req, res))
  : callback;

// ---------------------------------------------------------------------------
let stopping = false;
function shutdown(reason) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`provider.mjs: shutting down (${reason})\n`);
  setTimeout(() => process.exit(0), 2000).unref();
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
if (env.EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

process.stderr.write(`provider.mjs: oidc-provider issuer ${issuer} (iat=${IAT ? 'static' : 'none'}, rotate_rat=${ROTATE_RAT}, registration=${REGISTRATION}, stateless=${Boolean(STATELESS)}, cimd=${Boolean(CIMD)})\n`);
process.stdout.write(`LISTENING ${port}\n`, () => {});
