// mcp.mjs runs, in one process, a protected MCP server and a real MCP client
// (@modelcontextprotocol/sdk, pinned in package.json / package-lock.json)
// that gets an access token for it from an OAuth authorization server (the
// interop node-oidc-provider with client ID metadata documents) and calls
// its tool. It is started by the Go harness in ./mcpclient; it is not meant
// for anything but tests.
//
// The MCP server listens on 127.0.0.1 (plain HTTP) at /mcp: Streamable HTTP,
// stateless, one tool "whoami" that answers the access token's client_id,
// sub, scope and aud. It requires a bearer JWT access token (typ at+jwt)
// signed with a key of the authorization server's JWKS, iss = ISSUER, aud =
// its resource URL http://127.0.0.1:<port>/mcp, carrying SCOPE, and serves
// RFC 9728 protected resource metadata at
// /.well-known/oauth-protected-resource/mcp naming ISSUER.
//
// Configuration (environment):
//   MODE          private_key_jwt | public                        (required)
//   CLIENT_ID     the client_id: an https URL of a client ID metadata
//                 document (public: the SDK's clientMetadataUrl)  (required)
//   KEY_FILE      private_key_jwt: the private key, PEM (PKCS #8 "PRIVATE
//                 KEY") or a JWK (JSON)
//   ALG           private_key_jwt: the JWS algorithm (e.g. ES256)
//   ISSUER        the authorization server's issuer URL           (required)
//   SCOPE         the scope the MCP server requires (default "mcp")
//   REDIRECT_URI  public: the redirect URI (default https://app.test/cb);
//                 it is never fetched, the code is read from the redirect
//   LISTEN_FD     a listening TCP socket to serve on (the harness passes 3)
//   PORT          else the port to listen on (0 or unset: a free one)
//   TIMEOUT_MS    give up after this long (default 30000)
//   EXIT_ON_STDIN_EOF  "1" = exit when stdin closes
//   NODE_EXTRA_CA_CERTS  (Node's own) the authorization server's CA
//
// stdout carries exactly one JSON line:
//   {"ok": true, "result": {"client_id", "sub", "scope", "aud"},
//    "resource": "<MCP server URL>", "tokenRequests": [...],
//    "resourceServer": {"unauthorized": n, "authorized": n}}
// or {"ok": false, "error": "<message>", ...the same diagnostics}.
// tokenRequests are the token endpoint requests the SDK sent: their form
// parameters (client_assertion replaced by its decoded header and claims)
// and the answer's status. Everything else goes to stderr. Exit status 0
// when ok, 1 when not, 2 on a bad configuration.

import * as fs from 'node:fs';
import process from 'node:process';
import * as util from 'node:util';

const toStderr = (...args) => { process.stderr.write(`${util.format(...args)}\n`); };
console.log = toStderr;
console.info = toStderr;
console.debug = toStderr;

const { default: express } = await import('express');
const jose = await import('jose');
const { McpServer } = await import('@modelcontextprotocol/sdk/server/mcp.js');
const { StreamableHTTPServerTransport } = await import('@modelcontextprotocol/sdk/server/streamableHttp.js');
const { mcpAuthMetadataRouter, getOAuthProtectedResourceMetadataUrl } = await import('@modelcontextprotocol/sdk/server/auth/router.js');
const { requireBearerAuth } = await import('@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js');
const { InvalidTokenError } = await import('@modelcontextprotocol/sdk/server/auth/errors.js');
const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
const { UnauthorizedError } = await import('@modelcontextprotocol/sdk/client/auth.js');
const { PrivateKeyJwtProvider } = await import('@modelcontextprotocol/sdk/client/auth-extensions.js');

const env = process.env;

function fatal(msg) {
  process.stderr.write(`mcp.mjs: ${msg}\n`);
  process.exit(2);
}

const MODE = env.MODE;
const CLIENT_ID = env.CLIENT_ID;
const ISSUER = env.ISSUER;
const SCOPE = env.SCOPE || 'mcp';
const REDIRECT_URI = env.REDIRECT_URI || 'https://app.test/cb';
const TIMEOUT_MS = env.TIMEOUT_MS ? Number.parseInt(env.TIMEOUT_MS, 10) : 30000;
if (MODE !== 'private_key_jwt' && MODE !== 'public') fatal(`MODE must be private_key_jwt or public, not ${JSON.stringify(MODE)}`);
if (!CLIENT_ID) fatal('CLIENT_ID must be set');
if (!ISSUER) fatal('ISSUER must be set');
if (!Number.isInteger(TIMEOUT_MS) || TIMEOUT_MS <= 0) fatal(`invalid TIMEOUT_MS ${env.TIMEOUT_MS}`);

let privateKey;
if (MODE === 'private_key_jwt') {
  if (!env.KEY_FILE || !env.ALG) fatal('private_key_jwt needs KEY_FILE and ALG');
  let text;
  try {
    text = fs.readFileSync(env.KEY_FILE, 'utf8');
  } catch (err) {
    fatal(`reading KEY_FILE: ${err.message}`);
  }
  if (text.trimStart().startsWith('{')) {
    try {
      privateKey = JSON.parse(text);
    } catch (err) {
      fatal(`KEY_FILE: not a JWK: ${err.message}`);
    }
  } else {
    privateKey = text;
  }
}

// ---------------------------------------------------------------------------
// Diagnostics for the result line.
const rsCounts = { unauthorized: 0, authorized: 0 };
const tokenRequests = [];

function decodeJWT(raw) {
  try {
    return { header: jose.decodeProtectedHeader(raw), claims: jose.decodeJwt(raw) };
  } catch (err) {
    return { undecodable: err.message };
  }
}

// recordingFetch is the client transport's fetch: it records the token
// endpoint requests (the SDK sends every OAuth request through it).
let tokenEndpoint = '';
async function recordingFetch(url, init) {
  const res = await fetch(url, init);
  if (tokenEndpoint && String(url) === tokenEndpoint && init?.body instanceof URLSearchParams) {
    const form = Object.fromEntries(init.body);
    if (form.client_assertion) form.client_assertion = decodeJWT(form.client_assertion);
    const headers = new Headers(init.headers);
    tokenRequests.push({ form, basicAuth: (headers.get('authorization') ?? '').startsWith('Basic '), status: res.status });
  }
  return res;
}

let finished = false;
function finish(outcome) {
  if (finished) return;
  finished = true;
  const line = JSON.stringify({ ...outcome, resource: resourceURL?.href, tokenRequests, resourceServer: rsCounts });
  process.stdout.write(`${line}\n`, () => process.exit(outcome.ok ? 0 : 1));
}

setTimeout(() => finish({ ok: false, error: `timed out after ${TIMEOUT_MS}ms` }), TIMEOUT_MS).unref();
if (env.EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => process.exit(1));
  process.stdin.on('error', () => process.exit(1));
  process.stdin.resume();
}

// ---------------------------------------------------------------------------
// The authorization server's metadata (for the MCP server: its JWKS, and the
// issuer its protected resource metadata names).
async function asMetadata() {
  const url = new URL('/.well-known/openid-configuration', ISSUER);
  const res = await fetch(url, { headers: { accept: 'application/json' } });
  if (!res.ok) throw new Error(`GET ${url}: status ${res.status}`);
  const md = await res.json();
  if (md.issuer !== ISSUER) throw new Error(`${url}: issuer ${md.issuer}, want ${ISSUER}`);
  return md;
}

// ---------------------------------------------------------------------------
// The protected MCP server.
let resourceURL;

function newMcpServer() {
  const server = new McpServer({ name: 'clientreg-test-mcp', version: '1.0.0' });
  server.registerTool('whoami', { description: 'The caller as its access token names it.' }, async (extra) => {
    const { clientId, extra: claims } = extra.authInfo ?? {};
    const who = { client_id: clientId, sub: claims?.sub, scope: claims?.scope, aud: claims?.aud };
    return { content: [{ type: 'text', text: JSON.stringify(who) }], structuredContent: who };
  });
  return server;
}

async function startResourceServer(metadata) {
  const app = express();
  const listener = await new Promise((resolve, reject) => {
    const s = app.listen(env.LISTEN_FD ? { fd: Number.parseInt(env.LISTEN_FD, 10) } : { port: Number(env.PORT || 0), host: '127.0.0.1' });
    s.once('listening', () => resolve(s));
    s.once('error', reject);
  });
  const { address, port } = listener.address();
  if (address !== '127.0.0.1') throw new Error(`the MCP server listens on ${address}, want 127.0.0.1`);
  resourceURL = new URL(`http://127.0.0.1:${port}/mcp`);

  const jwks = jose.createRemoteJWKSet(new URL(metadata.jwks_uri));
  const verifier = {
    async verifyAccessToken(token) {
      let payload;
      try {
        ({ payload } = await jose.jwtVerify(token, jwks, {
          issuer: ISSUER,
          audience: resourceURL.href,
          typ: 'at+jwt',
        }));
      } catch (err) {
        process.stderr.write(`mcp.mjs: access token refused: ${err.message}\n`);
        throw new InvalidTokenError(`access token refused: ${err.code ?? err.message}`);
      }
      return {
        token,
        clientId: payload.client_id,
        scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
        expiresAt: payload.exp,
        resource: new URL(Array.isArray(payload.aud) ? payload.aud[0] : payload.aud),
        extra: { sub: payload.sub, scope: payload.scope, aud: payload.aud },
      };
    },
  };

  app.use(mcpAuthMetadataRouter({
    oauthMetadata: metadata,
    resourceServerUrl: resourceURL,
    scopesSupported: [SCOPE],
    resourceName: 'clientreg test MCP server',
  }));
  const bearer = requireBearerAuth({
    verifier,
    requiredScopes: [SCOPE],
    resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(resourceURL),
    expectedResource: resourceURL,
  });
  const counted = (req, res, next) => {
    res.on('finish', () => {
      if (res.statusCode === 401 || res.statusCode === 403) rsCounts.unauthorized += 1;
      else rsCounts.authorized += 1;
    });
    next();
  };
  app.post('/mcp', counted, bearer, express.json(), async (req, res) => {
    // Stateless: a server and a transport per request.
    const server = newMcpServer();
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      transport.close();
      server.close();
    });
    try {
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    } catch (err) {
      process.stderr.write(`mcp.mjs: MCP request: ${err.stack || err}\n`);
      if (!res.headersSent) res.status(500).json({ jsonrpc: '2.0', error: { code: -32603, message: 'internal error' }, id: null });
    }
  });
  app.all('/mcp', (req, res) => {
    res.set('Allow', 'POST').status(405).json({ jsonrpc: '2.0', error: { code: -32000, message: 'method not allowed' }, id: null });
  });
  return listener;
}

// ---------------------------------------------------------------------------
// The public client's OAuthClientProvider: client_id = its metadata
// document's URL (the SDK uses clientMetadataUrl as the client_id when the
// authorization server's metadata says client_id_metadata_document_supported),
// token_endpoint_auth_method none, and a headless "browser": the
// authorization URL is fetched, the provider's redirects followed with
// cookies, and the code read from the redirect to REDIRECT_URI.
class PublicClientProvider {
  constructor() {
    this.clientMetadataUrl = CLIENT_ID;
    this._state = undefined;
    this._clientInformation = undefined;
    this._tokens = undefined;
    this._codeVerifier = undefined;
    this.code = undefined; // a promise of the authorization code, set by redirectToAuthorization
  }

  get redirectUrl() { return REDIRECT_URI; }

  get clientMetadata() {
    return {
      client_name: 'clientreg test MCP client',
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: SCOPE,
    };
  }

  state() {
    this._state = crypto.randomUUID();
    return this._state;
  }

  clientInformation() { return this._clientInformation; }

  saveClientInformation(info) { this._clientInformation = info; }

  tokens() { return this._tokens; }

  saveTokens(tokens) { this._tokens = tokens; }

  saveCodeVerifier(v) { this._codeVerifier = v; }

  codeVerifier() {
    if (!this._codeVerifier) throw new Error('no code verifier saved');
    return this._codeVerifier;
  }

  redirectToAuthorization(url) {
    process.stderr.write(`mcp.mjs: authorization request ${url.origin}${url.pathname} client_id=${url.searchParams.get('client_id')} scope=${url.searchParams.get('scope')} resource=${url.searchParams.get('resource')}\n`);
    this.code = headlessAuthorization(url, this._state);
    // Unhandled until awaited: keep node from reporting it early.
    this.code.catch(() => {});
  }
}

// headlessAuthorization follows the authorization server's redirects from
// url (its login and consent are headless) until one goes to REDIRECT_URI,
// and returns the code. Cookies are kept by name, for the server's origin.
async function headlessAuthorization(url, state) {
  const jar = new Map();
  const origin = url.origin;
  const redirect = new URL(REDIRECT_URI);
  let next = url;
  for (let hop = 0; hop < 10; hop += 1) {
    if (next.origin !== origin) throw new Error(`authorization: redirected off the authorization server to ${next.origin}${next.pathname}`);
    const headers = {};
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(next, { redirect: 'manual', headers });
    for (const c of res.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a))
        || attrs.some((a) => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=').slice(1).join('=')) <= Date.now());
      if (expired || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    const body = await res.text();
    const location = res.headers.get('location');
    if (![302, 303].includes(res.status) || !location) {
      throw new Error(`authorization: GET ${next.pathname}: status ${res.status}: ${body.slice(0, 500)}`);
    }
    const loc = new URL(location, next);
    if (loc.protocol === redirect.protocol && loc.host === redirect.host && loc.pathname === redirect.pathname) {
      const q = loc.searchParams;
      if (q.get('error')) throw new Error(`authorization: ${q.get('error')}: ${q.get('error_description') ?? ''}`);
      if (state !== undefined && q.get('state') !== state) throw new Error('authorization: state mismatch');
      if (q.get('iss') && q.get('iss') !== ISSUER) throw new Error(`authorization: iss ${q.get('iss')}`);
      if (!q.get('code')) throw new Error('authorization: no code in the redirect');
      return q.get('code');
    }
    next = loc;
  }
  throw new Error('authorization: too many redirects');
}

// ---------------------------------------------------------------------------
async function callWhoami(client) {
  const res = await client.callTool({ name: 'whoami', arguments: {} });
  if (res.isError) throw new Error(`whoami: ${JSON.stringify(res.content)}`);
  return res.structuredContent ?? JSON.parse(res.content?.[0]?.text ?? 'null');
}

async function main() {
  const metadata = await asMetadata();
  tokenEndpoint = metadata.token_endpoint;
  await startResourceServer(metadata);
  process.stderr.write(`mcp.mjs: MCP server ${resourceURL.href}, authorization server ${ISSUER}, mode ${MODE}\n`);

  const clientInfo = { name: 'clientreg-test-mcp-client', version: '1.0.0' };
  if (MODE === 'private_key_jwt') {
    const provider = new PrivateKeyJwtProvider({
      clientId: CLIENT_ID,
      privateKey,
      algorithm: env.ALG,
      expectedIssuer: ISSUER,
      scope: SCOPE,
    });
    const client = new Client(clientInfo);
    await client.connect(new StreamableHTTPClientTransport(resourceURL, { authProvider: provider, fetch: recordingFetch }));
    const result = await callWhoami(client);
    await client.close();
    return result;
  }

  const provider = new PublicClientProvider();
  const first = new Client(clientInfo);
  const transport = new StreamableHTTPClientTransport(resourceURL, { authProvider: provider, fetch: recordingFetch });
  try {
    await first.connect(transport);
    throw new Error('the MCP server accepted the client without authorization');
  } catch (err) {
    if (!(err instanceof UnauthorizedError) || !provider.code) throw err;
  }
  const code = await provider.code;
  await transport.finishAuth(code);
  await first.close().catch(() => {});
  const client = new Client(clientInfo);
  await client.connect(new StreamableHTTPClientTransport(resourceURL, { authProvider: provider, fetch: recordingFetch }));
  const result = await callWhoami(client);
  await client.close();
  return result;
}

try {
  finish({ ok: true, result: await main() });
} catch (err) {
  process.stderr.write(`mcp.mjs: ${err.stack || err}\n`);
  finish({ ok: false, error: `${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message ?? err}` });
}
