// @clientreg/oidc-provider-stateless: lets node-oidc-provider (>= 9.13.3)
// accept clientreg's stateless OAuth client ids
// (draft-bradley-oauth-stateless-client-id; registrar/stateless in the Go
// module). See README.md. The verification rules are those of
// registrar/stateless/verify.go, in the same order.

import { createHmac } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';

import {
  base64url, compactDecrypt, compactVerify, importJWK,
} from 'jose';

/** The "typ" of the (inner) JWS of every stateless client id. */
export const TYPE_CLIENT_ID = 'client-id+jwt';

/** Longest accepted client id, in bytes (SCI-17). */
export const MAX_CLIENT_ID_LENGTH = 8192;

/** Default signature algorithm allow-list (as Go's DefaultAlgorithms). */
export const DEFAULT_ALGORITHMS = Object.freeze(['ES256', 'EdDSA', 'RS256']);

const SUPPORTED_SIGNATURE_ALGORITHMS = new Set([
  'ES256', 'ES384', 'ES512', 'EdDSA',
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
]);
const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const CONTENT_ENCRYPTION = 'A256GCM';
const SECRET_LABEL = 'clientreg/client-secret/v1\x00';
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const KNOWN_CLAIMS = new Set(['iss', 'sub', 'aud', 'iat', 'exp', 'nbf', 'reg', 'cnf', 'client_secret']);
const MIN_RSA_BITS = 2048;

/**
 * Thrown (internally) for every refused client id. `reason` is for logs only,
 * never for the client: the endpoints answer invalid_client whatever it is.
 */
export class InvalidClientIdError extends Error {
  constructor(reason) {
    super(`invalid client id: ${reason}`);
    this.name = 'InvalidClientIdError';
    this.reason = reason;
  }
}

const refuse = (reason) => { throw new InvalidClientIdError(reason); };

/**
 * The client secret of a signed-only id:
 * base64url(HMAC-SHA256(secretKey, "clientreg/client-secret/v1\0" || sub)).
 */
export function deriveClientSecret(secretKey, sub) {
  return createHmac('sha256', secretKey).update(SECRET_LABEL).update(sub).digest('base64url');
}

// ---------------------------------------------------------------------------
// Shape (length, alphabet, canonical base64url), as compactShape in Go.

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_VALUES = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i += 1) B64_VALUES[B64.charCodeAt(i)] = i;

function canonicalSegment(seg) {
  switch (seg.length % 4) {
    case 1: return false;
    case 2: return (B64_VALUES[seg.charCodeAt(seg.length - 1)] & 0x0f) === 0;
    case 3: return (B64_VALUES[seg.charCodeAt(seg.length - 1)] & 0x03) === 0;
    default: return true;
  }
}

/**
 * Returns the number of segments of a well-formed compact serialization (3 or
 * 5), or 0: every character base64url or '.', every segment canonical.
 */
export function compactShape(s) {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_CLIENT_ID_LENGTH) return 0;
  let start = 0;
  let segments = 1;
  for (let i = 0; i <= s.length; i += 1) {
    if (i === s.length || s.charCodeAt(i) === 0x2e) {
      if (!canonicalSegment(s.slice(start, i))) return 0;
      if (i < s.length) segments += 1;
      start = i + 1;
    } else {
      const c = s.charCodeAt(i);
      if (c >= 128 || B64_VALUES[c] < 0) return 0;
    }
  }
  return segments === 3 || segments === 5 ? segments : 0;
}

function decodeJSONSegment(seg) {
  const text = new TextDecoder('utf-8', { fatal: true }).decode(base64url.decode(seg));
  return { text, value: JSON.parse(text) };
}

// Top-level member names of a JSON object text (already parsed once, so
// valid): used to refuse duplicate claims, as Go's parseClaims does
// (JSON.parse would keep the last one silently).
function topLevelNames(text) {
  const names = [];
  let depth = 0;
  let expectName = false;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectName) {
        names.push(JSON.parse(text.slice(i, j + 1)));
        expectName = false;
      }
      i = j;
    } else if (c === '{' || c === '[') {
      depth += 1;
      if (depth === 1) expectName = true;
    } else if (c === '}' || c === ']') {
      depth -= 1;
    } else if (c === ',' && depth === 1) {
      expectName = true;
    }
  }
  return names;
}

const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const isNumber = (v) => typeof v === 'number' && Number.isFinite(v);

// ---------------------------------------------------------------------------
// Keys.

function rsaBits(n) {
  const b = base64url.decode(n);
  let i = 0;
  while (i < b.length && b[i] === 0) i += 1;
  if (i === b.length) return 0;
  return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]));
}

/**
 * The signature algorithms a public JWK may verify: its "alg" if set (one
 * key, one algorithm), otherwise those its type allows (Go's
 * verificationAlgs). Throws for keys that can never verify a client id.
 */
function verificationAlgs(jwk) {
  let algs;
  switch (jwk.kty) {
    case 'EC':
      algs = { 'P-256': ['ES256'], 'P-384': ['ES384'], 'P-521': ['ES512'] }[jwk.crv];
      if (!algs) throw new Error(`unsupported curve ${jwk.crv}`);
      break;
    case 'OKP':
      if (jwk.crv !== 'Ed25519') throw new Error(`unsupported OKP curve ${jwk.crv}`);
      algs = ['EdDSA'];
      break;
    case 'RSA':
      if (typeof jwk.n !== 'string' || rsaBits(jwk.n) < MIN_RSA_BITS) throw new Error(`RSA key shorter than ${MIN_RSA_BITS} bits`);
      algs = RSA_ALGS;
      break;
    case 'oct':
      throw new Error('symmetric keys cannot verify client ids');
    default:
      throw new Error(`unsupported key type ${jwk.kty}`);
  }
  if (jwk.alg !== undefined) {
    if (!algs.includes(jwk.alg)) throw new Error(`alg ${jwk.alg} does not fit the key type`);
    algs = [jwk.alg];
  }
  return algs;
}

function publicJWK(jwk) {
  const pub = { ...jwk };
  for (const m of PRIVATE_JWK_MEMBERS) delete pub[m];
  return pub;
}

/** The key management algorithm of a decryption key (Go's decryptionKeyFor). */
function decryptionAlg(jwk) {
  let alg;
  switch (jwk.kty) {
    case 'EC':
      if (jwk.crv !== 'P-256' || !jwk.d) throw new Error('ECDH-ES+A256KW needs a private P-256 key');
      alg = 'ECDH-ES+A256KW';
      break;
    case 'RSA':
      if (!jwk.d || rsaBits(jwk.n) < MIN_RSA_BITS) throw new Error(`RSA-OAEP-256 needs a private RSA key of at least ${MIN_RSA_BITS} bits`);
      alg = 'RSA-OAEP-256';
      break;
    case 'oct':
      if (typeof jwk.k !== 'string' || base64url.decode(jwk.k).length !== 32) throw new Error('A256KW needs a 32-byte key');
      alg = 'A256KW';
      break;
    default:
      throw new Error(`unsupported decryption key type ${jwk.kty} (need a private or symmetric key)`);
  }
  if (jwk.alg !== undefined && jwk.alg !== alg) throw new Error(`alg ${jwk.alg} does not fit the key type (${alg})`);
  return alg;
}

/**
 * Reads the KeySet JSON the operator keeps in the server's key Secret (data
 * key "keys.json"): {"keys": [{"kid", "use": "sig"|"enc", "alg", "key": JWK,
 * "secretKey": base64, "createdAt", "retiredAt", "publishUntil"}]}. Returns
 * the secret-derivation keys (by signing kid), the decryption keys (the
 * Generated encryption keys, private JWKs) and the public JWK Set of the
 * signing keys (for when no published JWKS is configured).
 */
export function parseKeySet(input) {
  const set = typeof input === 'string' || input instanceof Uint8Array
    ? JSON.parse(typeof input === 'string' ? input : new TextDecoder().decode(input))
    : input;
  if (!isObject(set) || !Array.isArray(set.keys)) throw new TypeError('key set: "keys" must be an array');
  const secretKeys = new Map();
  const decryptionKeys = [];
  const jwks = { keys: [] };
  for (const k of set.keys) {
    if (!isObject(k) || typeof k.kid !== 'string' || !isObject(k.key)) throw new TypeError('key set: malformed key');
    if (k.key.kid !== undefined && k.key.kid !== k.kid) throw new TypeError(`key set: key ${k.kid}: JWK kid does not match`);
    const jwk = { ...k.key, kid: k.kid };
    if (k.use === 'sig') {
      if (typeof k.secretKey === 'string') {
        const sk = Buffer.from(k.secretKey, 'base64');
        if (sk.length < 32) throw new TypeError(`key set: signing key ${k.kid}: secretKey shorter than 32 bytes`);
        secretKeys.set(k.kid, sk);
      }
      jwks.keys.push(publicJWK({ ...jwk, alg: k.alg, use: 'sig' }));
    } else if (k.use === 'enc') {
      decryptionKeys.push({ ...jwk, alg: k.alg });
    } else {
      throw new TypeError(`key set: key ${k.kid}: unknown use ${k.use}`);
    }
  }
  return { secretKeys, decryptionKeys, jwks };
}

// ---------------------------------------------------------------------------
// JWKS sources.

const LOOPBACK = new Set(['127.0.0.1', '[::1]', 'localhost']);

class KeyTable {
  // Builds the kid -> [{algs, jwk}] table of one JWK Set under an allow-list.
  constructor(jwks, allow, log) {
    this.byKid = new Map();
    if (!isObject(jwks) || !Array.isArray(jwks.keys)) throw new TypeError('JWK Set without a "keys" array');
    for (const jwk of jwks.keys) {
      if (!isObject(jwk) || jwk.use === 'enc') continue;
      if (typeof jwk.kid !== 'string' || !jwk.kid) {
        log('warn', 'JWK without kid ignored');
        continue;
      }
      let algs;
      try {
        algs = verificationAlgs(jwk).filter((a) => allow.includes(a));
      } catch (err) {
        log('warn', `JWK ${jwk.kid} ignored: ${err.message}`);
        continue;
      }
      if (!algs.length) continue;
      const list = this.byKid.get(jwk.kid) ?? [];
      list.push({ algs, jwk: publicJWK(jwk) });
      this.byKid.set(jwk.kid, list);
    }
  }

  has(kid) { return this.byKid.has(kid); }

  // The imported key of an entry for alg, imported once.
  async key(entry, alg) {
    entry.imported ??= new Map();
    let p = entry.imported.get(alg);
    if (!p) {
      p = importJWK(entry.jwk, alg);
      entry.imported.set(alg, p);
    }
    return p;
  }
}

class StaticJwks {
  constructor(jwks, allow, log) {
    this.table = new KeyTable(jwks, allow, log);
    this.generation = 1;
  }

  async current() { return this; }

  async refetchFor() { return this; }
}

/**
 * A JWK Set fetched from a URL and cached: refetched when older than
 * cacheMaxAge, or when a client id names a kid the cached set lacks (at most
 * once per refetchInterval, so unknown kids cannot make the server hammer the
 * JWKS endpoint). When a refetch fails the last good set stays in use.
 */
class RemoteJwks {
  constructor(url, {
    allow, log, fetch: fetchImpl, cacheMaxAge, refetchInterval, timeout,
  }) {
    const u = new URL(url);
    if (u.protocol !== 'https:' && !(u.protocol === 'http:' && LOOPBACK.has(u.hostname))) {
      throw new TypeError(`jwksUri must be https (plain http only on loopback): ${url}`);
    }
    this.url = u.href;
    this.allow = allow;
    this.log = log;
    this.fetch = fetchImpl;
    this.cacheMaxAge = cacheMaxAge;
    this.refetchInterval = refetchInterval;
    this.timeout = timeout;
    this.table = undefined;
    this.fetchedAt = 0;
    this.lastAttempt = -Infinity;
    this.generation = 0;
    this.inflight = undefined;
    this.fetches = 0;
  }

  async #load() {
    this.lastAttempt = Date.now();
    this.fetches += 1;
    try {
      const res = await this.fetch(this.url, {
        headers: { accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(this.timeout),
      });
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      const text = await res.text();
      if (text.length > 1 << 20) throw new Error('JWK Set larger than 1 MiB');
      this.table = new KeyTable(JSON.parse(text), this.allow, this.log);
      this.fetchedAt = Date.now();
      this.generation += 1;
    } catch (err) {
      this.log('warn', `fetching ${this.url} failed: ${err.message}`);
      if (!this.table) throw new InvalidClientIdError('JWK Set unavailable');
    }
  }

  #refresh() {
    this.inflight ??= this.#load().finally(() => { this.inflight = undefined; });
    return this.inflight;
  }

  /** The cached set, refreshed first when stale (and not fetched too recently). */
  async current() {
    const now = Date.now();
    if (!this.table || (now - this.fetchedAt >= this.cacheMaxAge && now - this.lastAttempt >= this.refetchInterval)) {
      await this.#refresh();
    } else if (this.inflight) {
      await this.inflight;
    }
    return this;
  }

  /** Refetches for an unknown kid, rate-limited. */
  async refetchFor(kid) {
    if (this.table?.has(kid)) return this;
    if (Date.now() - this.lastAttempt >= this.refetchInterval) {
      await this.#refresh();
    } else if (this.inflight) {
      await this.inflight;
    }
    return this;
  }
}

// ---------------------------------------------------------------------------
// The verifier.

/**
 * Verifies clientreg stateless client ids and turns them into
 * node-oidc-provider client metadata.
 *
 * Options:
 *   issuer         trusted "iss" (the authorization server's issuer, as the
 *                  operator's spec.stateless.issuer says)
 *   audience       required "aud"; default: issuer
 *   jwksUri        the operator's published JWK Set (<endpoint issuer>/jwks);
 *                  https (plain http only on loopback)
 *   jwks           ... or the JWK Set inline (status.jwks of the server object)
 *   issuers        instead of issuer/jwksUri/jwks: [{issuer, jwksUri | jwks}]
 *                  (a key verifies only ids of the issuer whose set holds it)
 *   keySet         the operator's key Secret "keys.json" (string, Buffer or
 *                  object): secret-derivation keys, Generated encryption keys;
 *                  its public signing keys are used only when no jwksUri/jwks
 *   keySetFile     ... or a path to it (the Secret mounted as a volume),
 *                  re-read when it changes (the operator rotates keys)
 *   keySetReloadInterval  ms between checks of keySetFile; default 10000
 *   secretKeys     {kid: Buffer | base64url} derivation keys (instead of keySet)
 *   decryptionKeys [private JWK]: the AS's own keys for RecipientKey mode
 *                  (ECDH-ES+A256KW P-256, RSA-OAEP-256), A256KW oct keys
 *   algorithms     signature allow-list; default ES256, EdDSA, RS256
 *   clockTolerance seconds of leeway on exp and nbf; default 0 (as Go)
 *   maxIatSkew     seconds an "iat" may lie in the future; default 300
 *   jwksCacheMaxAge    ms a fetched JWK Set is used before refetching; 300000
 *   jwksRefetchInterval  minimum ms between two fetches; default 30000
 *   jwksTimeout    ms; default 5000
 *   fetch          fetch implementation (custom TLS trust, tests)
 *   cacheSize      verified ids kept (LRU); default 1000; 0 disables
 *   log            (level, message, detail) => void; default silent
 *   now            () => ms since the epoch; default Date.now
 */
export class StatelessClientVerifier {
  #issuers = [];

  #decKeys = new Map(); // kid -> {alg, key: Promise<CryptoKey|Uint8Array>}

  #secretKeys = new Map();

  #options;

  #keyGeneration = 0;

  #keySetFile;

  #keySetStat;

  #keySetSource;

  #reloadInterval;

  #lastReloadCheck = 0;

  #audience;

  #allow;

  #leeway;

  #maxIatSkew;

  #now;

  constructor(options = {}) {
    const log = options.log ?? (() => {});
    this.log = log;
    this.#now = options.now ?? Date.now;
    const allow = options.algorithms ?? DEFAULT_ALGORITHMS;
    if (!Array.isArray(allow) || !allow.length) throw new TypeError('algorithms must be a non-empty array');
    for (const a of allow) {
      if (!SUPPORTED_SIGNATURE_ALGORITHMS.has(a)) throw new TypeError(`signature algorithm ${a} cannot be allowed`);
    }
    this.#allow = [...new Set(allow)];
    this.#leeway = options.clockTolerance ?? 0;
    this.#maxIatSkew = options.maxIatSkew ?? 300;
    if (!(this.#leeway >= 0) || !(this.#maxIatSkew >= 0)) throw new TypeError('clockTolerance and maxIatSkew must be >= 0');

    this.#options = options;
    this.#keySetFile = options.keySetFile;
    this.#reloadInterval = options.keySetReloadInterval ?? 10_000;
    let ks;
    if (this.#keySetFile) {
      if (options.keySet !== undefined) throw new TypeError('keySet and keySetFile are exclusive');
      this.#keySetStat = statSync(this.#keySetFile);
      ks = parseKeySet(readFileSync(this.#keySetFile));
      this.#lastReloadCheck = this.#now();
    } else if (options.keySet !== undefined) {
      ks = parseKeySet(options.keySet);
    }
    this.#setKeys(ks);

    const remote = {
      allow: this.#allow,
      log,
      fetch: options.fetch ?? globalThis.fetch,
      cacheMaxAge: options.jwksCacheMaxAge ?? 300_000,
      refetchInterval: options.jwksRefetchInterval ?? 30_000,
      timeout: options.jwksTimeout ?? 5000,
    };
    const list = options.issuers ?? [{ issuer: options.issuer, jwksUri: options.jwksUri, jwks: options.jwks }];
    for (const { issuer, jwksUri, jwks } of list) {
      if (typeof issuer !== 'string' || !issuer) throw new TypeError('issuer is required');
      let source;
      if (jwksUri) source = new RemoteJwks(jwksUri, remote);
      else if (jwks) source = new StaticJwks(typeof jwks === 'string' ? JSON.parse(jwks) : jwks, this.#allow, log);
      else if (ks && list.length === 1) {
        source = new StaticJwks(ks.jwks, this.#allow, log);
        this.#keySetSource = source;
      }
      else throw new TypeError(`issuer ${issuer}: jwksUri, jwks or keySet is required`);
      this.#issuers.push({ issuer, source });
    }
    this.#audience = options.audience ?? list[0].issuer;
  }

  // Secret-derivation and decryption keys from a parsed key set plus the
  // explicit options; replaced as a whole (never half-updated).
  #setKeys(ks) {
    const options = this.#options;
    const secretKeys = new Map(ks?.secretKeys ?? []);
    for (const [kid, sk] of Object.entries(options.secretKeys ?? {})) {
      const b = typeof sk === 'string' ? base64url.decode(sk) : Buffer.from(sk);
      if (b.length < 32) throw new TypeError(`secret key ${kid} shorter than 32 bytes`);
      secretKeys.set(kid, b);
    }
    const decKeys = new Map();
    for (const jwk of [...(ks?.decryptionKeys ?? []), ...(options.decryptionKeys ?? [])]) {
      if (typeof jwk.kid !== 'string' || !jwk.kid) throw new TypeError('decryption key without kid');
      if (decKeys.has(jwk.kid)) throw new TypeError(`duplicate decryption kid ${jwk.kid}`);
      const alg = decryptionAlg(jwk);
      decKeys.set(jwk.kid, { alg, key: importJWK({ ...jwk, alg }, alg) });
    }
    this.#secretKeys = secretKeys;
    this.#decKeys = decKeys;
    this.#keyGeneration += 1;
  }

  // keySetFile: re-read when the file changed (a Kubernetes Secret volume is
  // updated by an atomic symlink swap), checked at most every
  // keySetReloadInterval ms. A file that does not parse is logged and the
  // keys in use are kept.
  async #maybeReloadKeySet() {
    if (!this.#keySetFile || this.#now() - this.#lastReloadCheck < this.#reloadInterval) return;
    this.#lastReloadCheck = this.#now();
    try {
      const st = await stat(this.#keySetFile);
      const old = this.#keySetStat;
      if (st.mtimeMs === old.mtimeMs && st.ino === old.ino && st.size === old.size) return;
      const ks = parseKeySet(await readFile(this.#keySetFile));
      this.#setKeys(ks);
      this.#keySetStat = st;
      if (this.#keySetSource) {
        this.#keySetSource.table = new KeyTable(ks.jwks, this.#allow, this.log);
        this.#keySetSource.generation += 1;
      }
      this.log('info', `key set reloaded from ${this.#keySetFile}`);
    } catch (err) {
      this.log('warn', `reloading ${this.#keySetFile} failed, keeping the keys in use: ${err.message}`);
    }
  }

  /** The JWK Set sources, for monitoring (fetch counts) and tests. */
  get sources() { return this.#issuers.map(({ issuer, source }) => ({ issuer, source })); }

  /** Whether a string has the shape of a stateless client id (3 or 5 segments). */
  static looksLikeClientId(id) {
    return typeof id === 'string' && id.startsWith('eyJ') && compactShape(id) !== 0;
  }

  /**
   * Fresh JWK Sets (each refreshed if stale). Returns a token that changes
   * whenever any set was refetched, for caches of verification results.
   */
  async generation() {
    await this.#maybeReloadKeySet();
    let g = `${this.#keyGeneration}:`;
    for (const { source } of this.#issuers) {
      await source.current();
      g += `${source.generation}.`;
    }
    return g;
  }

  /**
   * Verifies a client id; returns {issuer, subject, audience, kid, encrypted,
   * issuedAt, expiresAt, reg, cnf, secret} or throws InvalidClientIdError.
   * `secret` is the client secret: the client_secret claim of a nested id, or
   * for a signed-only id the derived one (undefined without the derivation
   * key of its kid).
   */
  async verify(clientId) {
    switch (compactShape(clientId)) {
      case 3: return this.#verifyJWS(clientId, false);
      case 5: return this.#verifyJWE(clientId);
      default: return refuse('malformed');
    }
  }

  async #verifyJWE(s) {
    // Every failure up to and including decryption is the same error (no
    // decryption oracle, RFC 7516 §11.5).
    let inner;
    try {
      if (!this.#decKeys.size) throw new Error();
      const h = decodeJSONSegment(s.slice(0, s.indexOf('.'))).value;
      if (!isObject(h)) throw new Error();
      const dk = this.#decKeys.get(h.kid);
      if (!dk || h.alg !== dk.alg || h.enc !== CONTENT_ENCRYPTION) throw new Error();
      if (typeof h.cty !== 'string' || h.cty.toUpperCase() !== 'JWT') throw new Error();
      if (h.zip !== undefined || h.crit !== undefined) throw new Error();
      const { plaintext } = await compactDecrypt(s, await dk.key, {
        keyManagementAlgorithms: [dk.alg],
        contentEncryptionAlgorithms: [CONTENT_ENCRYPTION],
      });
      inner = new TextDecoder('utf-8', { fatal: true }).decode(plaintext);
    } catch {
      return refuse('undecryptable');
    }
    if (compactShape(inner) !== 3) refuse('nested payload is not a compact JWS');
    return this.#verifyJWS(inner, true);
  }

  async #verifyJWS(s, encrypted) {
    let h;
    try {
      h = decodeJSONSegment(s.slice(0, s.indexOf('.'))).value;
    } catch {
      return refuse('malformed');
    }
    if (!isObject(h) || typeof h.alg !== 'string') refuse('malformed');
    if (!this.#allow.includes(h.alg)) refuse('algorithm not allowed');
    if (h.crit !== undefined || h.b64 !== undefined) refuse('critical header not supported');
    if (typeof h.kid !== 'string' || !h.kid) refuse('missing kid');

    // Candidate keys by kid over all trusted issuers; an unknown kid makes a
    // remote set refetch (rate-limited) before giving up.
    const candidates = [];
    for (const { issuer, source } of this.#issuers) {
      let src = await source.current();
      if (!src.table.has(h.kid)) src = await source.refetchFor(h.kid);
      for (const entry of src.table.byKid.get(h.kid) ?? []) candidates.push({ issuer, entry, table: src.table });
    }
    if (!candidates.length) refuse('unknown kid');

    let payload;
    const owners = [];
    for (const { issuer, entry, table } of candidates) {
      if (!entry.algs.includes(h.alg)) continue;
      try {
        const key = await table.key(entry, h.alg);
        ({ payload } = await compactVerify(s, key, { algorithms: [h.alg] }));
        owners.push(issuer);
      } catch {
        // next candidate
      }
    }
    if (!payload) refuse('bad signature');

    let cl;
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
      cl = JSON.parse(text);
    } catch {
      return refuse('malformed claims');
    }
    if (!isObject(cl)) refuse('malformed claims');
    const seen = new Set();
    for (const name of topLevelNames(text)) {
      if (KNOWN_CLAIMS.has(name)) {
        if (seen.has(name)) refuse(`duplicate claim ${name}`);
        seen.add(name);
      }
    }
    for (const n of ['iss', 'sub', 'client_secret']) {
      if (cl[n] !== undefined && typeof cl[n] !== 'string') refuse('malformed claims');
    }
    for (const n of ['iat', 'exp', 'nbf']) {
      if (cl[n] !== undefined && !isNumber(cl[n])) refuse('malformed claims');
    }
    if (!cl.iss || !owners.includes(cl.iss)) refuse('issuer not trusted for this key');
    if (typeof h.typ !== 'string' || ![TYPE_CLIENT_ID, `application/${TYPE_CLIENT_ID}`].includes(h.typ.toLowerCase())) {
      refuse(`typ is not "${TYPE_CLIENT_ID}"`);
    }
    const aud = cl.aud;
    const audOK = typeof aud === 'string' ? aud === this.#audience
      : Array.isArray(aud) && aud.every((a) => typeof a === 'string') && aud.includes(this.#audience);
    if (!audOK) refuse('wrong audience');
    const now = this.#now() / 1000;
    if (cl.exp !== undefined && !(now < cl.exp + this.#leeway)) refuse('expired');
    if (cl.nbf !== undefined && now + this.#leeway < cl.nbf) refuse('not yet valid');
    if (cl.iat !== undefined && cl.iat > now + this.#maxIatSkew + this.#leeway) refuse('issued in the future');
    if (!cl.sub) refuse('malformed claims');
    if (!isObject(cl.reg)) refuse('reg is not a JSON object');
    let cnf;
    if (cl.cnf !== undefined && cl.cnf !== null) {
      cnf = checkConfirmation(cl.cnf, encrypted);
    }
    let secret;
    if (cl.client_secret !== undefined) {
      if (!encrypted) refuse('signed-only client id carries a client secret');
      if (!cl.client_secret) refuse('malformed claims');
      secret = cl.client_secret;
    } else if (!encrypted) {
      const sk = this.#secretKeys.get(h.kid);
      if (sk) secret = deriveClientSecret(sk, cl.sub);
    }
    return {
      issuer: cl.iss,
      subject: cl.sub,
      audience: this.#audience,
      kid: h.kid,
      encrypted,
      issuedAt: cl.iat,
      expiresAt: cl.exp,
      reg: cl.reg,
      cnf,
      secret,
    };
  }
}

// RFC 7800 cnf, as Go's Confirmation.check: at most one member; a jwk is a
// public key (private members are never usable by node-oidc-provider as a
// client key anyway); a jku is an absolute https URL without userinfo or
// fragment. Unknown members are ignored (Go's json.Unmarshal does too).
function checkConfirmation(cnf, encrypted) {
  if (!isObject(cnf)) refuse('malformed claims');
  const { jwk, jku } = cnf;
  if (jwk !== undefined && jku !== undefined) refuse('cnf has more than one member');
  if (jwk !== undefined) {
    if (!isObject(jwk) || typeof jwk.kty !== 'string') refuse('cnf.jwk is not a valid key');
    if (PRIVATE_JWK_MEMBERS.some((m) => jwk[m] !== undefined)) {
      refuse(encrypted ? 'cnf.jwk holds private or symmetric key material (unusable as a client key)'
        : 'cnf.jwk holds private or symmetric key material');
    }
    return { jwk };
  }
  if (jku !== undefined) {
    let u;
    try {
      u = new URL(jku);
    } catch {
      return refuse('cnf.jku is not a URL');
    }
    if (typeof jku !== 'string' || u.protocol !== 'https:' || !u.host || jku.includes('#') || u.username || u.password) {
      refuse('cnf.jku must be an absolute https URL without userinfo or fragment');
    }
    return { jku };
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Client metadata.

const NON_SECRET_AUTH_METHODS = new Set([
  'private_key_jwt', 'none', 'tls_client_auth', 'self_signed_tls_client_auth',
  'attest_jwt_client_auth', 'attest_jwt_client_auth_dpop',
]);
const SIGN_ALG_MEMBERS = [
  'id_token_signed_response_alg', 'request_object_signing_alg', 'token_endpoint_auth_signing_alg',
  'userinfo_signed_response_alg', 'introspection_signed_response_alg', 'authorization_signed_response_alg',
];
const ENC_ALG_MEMBERS = [
  'id_token_encrypted_response_alg', 'request_object_encryption_alg', 'userinfo_encrypted_response_alg',
  'introspection_encrypted_response_alg', 'authorization_encrypted_response_alg',
];

/** node-oidc-provider's Client.needsSecret, for use without a provider. */
export function needsSecret(md) {
  return !NON_SECRET_AUTH_METHODS.has(md.token_endpoint_auth_method)
    || SIGN_ALG_MEMBERS.some((m) => /^HS/.test(md[m] ?? ''))
    || ENC_ALG_MEMBERS.some((m) => /^(A|dir$)/.test(md[m] ?? ''));
}

// Members of reg never taken over: credentials and registration management
// (the id itself decides them).
const DROPPED_MEMBERS = [
  'client_id', 'client_secret', 'client_id_issued_at', 'client_secret_expires_at',
  'registration_access_token', 'registration_client_uri',
];

/**
 * Maps a verified client id to node-oidc-provider client metadata: reg, the
 * RFC 7591 defaults exactly as clientreg applies them (registrar/metadata
 * WithDefaults: grant_types [authorization_code]; response_types derived from
 * grant_types, [] for a client without authorization_code/implicit, where
 * node-oidc-provider's own default ["code"] would demand redirect_uris;
 * token_endpoint_auth_method client_secret_basic), client_id,
 * client_id_issued_at (iat), client_secret_expires_at (exp, 0 without),
 * client_secret when the client needs one, and cnf as jwks / jwks_uri.
 * Members node-oidc-provider does not recognise are dropped by it (unless
 * configured in extraClientMetadata). Returns undefined when the client needs
 * a secret that cannot be had (no derivation key for the kid).
 */
export function toClientMetadata(clientId, v, { needsSecret: needs = needsSecret } = {}) {
  const md = structuredClone(v.reg);
  for (const m of DROPPED_MEMBERS) delete md[m];
  if (!Array.isArray(md.grant_types) || !md.grant_types.length) md.grant_types = ['authorization_code'];
  if (md.response_types === undefined) {
    md.response_types = [];
    if (md.grant_types.includes('authorization_code')) md.response_types.push('code');
    if (md.grant_types.includes('implicit')) md.response_types.push('token');
  }
  md.token_endpoint_auth_method ??= 'client_secret_basic';
  if (v.cnf?.jwk) {
    md.jwks = { keys: [v.cnf.jwk] };
    delete md.jwks_uri;
  } else if (v.cnf?.jku) {
    md.jwks_uri = v.cnf.jku;
    delete md.jwks;
  }
  md.client_id = clientId;
  if (v.issuedAt !== undefined) md.client_id_issued_at = Math.floor(v.issuedAt);
  md.client_secret_expires_at = v.expiresAt !== undefined ? Math.floor(v.expiresAt) : 0;
  if (needs(md)) {
    if (!v.secret) return undefined;
    md.client_secret = v.secret;
  } else if (v.secret && v.encrypted) {
    md.client_secret = v.secret;
  }
  return md;
}

// ---------------------------------------------------------------------------
// The node-oidc-provider adapter.

let DefaultAdapter;
try {
  ({ createMemoryAdapter: DefaultAdapter } = await import('oidc-provider/lib/adapters/memory_adapter.js'));
} catch {
  DefaultAdapter = undefined;
}

// As node-oidc-provider decides it (helpers/type_validators.js): a function
// with a prototype object is a constructor, anything else a factory.
function instantiate(adapter, name) {
  const constructable = typeof adapter === 'function' && adapter.prototype !== null
    && typeof adapter.prototype === 'object';
  return constructable ? new adapter(name) : adapter(name); // eslint-disable-line new-cap
}

/**
 * Creates the value for node-oidc-provider's `adapter` configuration: the
 * Client model's find(id) verifies stateless client ids and returns their
 * metadata; everything else (other models, other client ids, upserts of
 * dynamically registered clients) goes to fallbackAdapter (a class or factory,
 * as the `adapter` option takes; default: node-oidc-provider's development
 * in-memory adapter).
 *
 * The returned factory also has:
 *   .verifier        the StatelessClientVerifier
 *   .attach(provider)  validate metadata with provider.Client before handing it
 *                      out, so that metadata the provider refuses makes the
 *                      id invalid_client (otherwise: invalid_client_metadata)
 */
export function createStatelessClientAdapter(options, fallbackAdapter) {
  const verifier = options instanceof StatelessClientVerifier ? options : new StatelessClientVerifier(options);
  const log = verifier.log;
  const cacheSize = options.cacheSize ?? 1000;
  const now = options.now ?? Date.now;
  let fallback = fallbackAdapter;
  if (fallback === undefined) {
    if (!DefaultAdapter) throw new TypeError('no fallbackAdapter given and oidc-provider\'s memory adapter cannot be loaded');
    fallback = DefaultAdapter();
  }
  let provider;
  const cache = new Map(); // clientId -> {generation, until, json}

  async function resolve(id) {
    const generation = await verifier.generation();
    const hit = cache.get(id);
    if (hit && hit.generation === generation && now() < hit.until) {
      cache.delete(id);
      cache.set(id, hit);
      return hit.json;
    }
    cache.delete(id);
    let metadata;
    try {
      const v = await verifier.verify(id);
      metadata = toClientMetadata(id, v, { needsSecret: provider ? (md) => provider.Client.needsSecret(md) : needsSecret });
      if (!metadata) refuse(`no secret for this client (derivation key for kid ${v.kid} not configured)`);
      if (provider) {
        try {
          await provider.Client.validate(structuredClone(metadata));
        } catch (err) {
          refuse(`metadata refused by the provider: ${err.error_description ?? err.message}`);
        }
      }
      const json = JSON.stringify(metadata);
      if (cacheSize > 0) {
        const until = v.expiresAt !== undefined ? (v.expiresAt + (options.clockTolerance ?? 0)) * 1000 : Infinity;
        cache.set(id, { generation, until, json });
        if (cache.size > cacheSize) cache.delete(cache.keys().next().value);
      }
      return json;
    } catch (err) {
      // Whatever went wrong, the client only ever learns invalid_client.
      if (err instanceof InvalidClientIdError) log('info', err.message, { reason: err.reason });
      else log('error', `unexpected error verifying a client id: ${err?.stack ?? err}`, { reason: 'internal error' });
      return undefined;
    }
  }

  class StatelessClientModel {
    constructor(inner) { this.inner = inner; }

    async find(id) {
      if (StatelessClientVerifier.looksLikeClientId(id)) {
        const md = await resolve(id);
        // node-oidc-provider may modify what it gets (its schema fills in
        // arrays); hand out a fresh copy of the cached JSON every time.
        return md === undefined ? undefined : JSON.parse(md);
      }
      return this.inner.find(id);
    }

    async upsert(id, payload, expiresIn) {
      if (StatelessClientVerifier.looksLikeClientId(id)) throw new TypeError('stateless client ids are never stored');
      return this.inner.upsert(id, payload, expiresIn);
    }

    async destroy(id) {
      if (StatelessClientVerifier.looksLikeClientId(id)) return undefined;
      return this.inner.destroy(id);
    }
  }

  const factory = (name) => {
    const inner = instantiate(fallback, name);
    return name === 'Client' ? new StatelessClientModel(inner) : inner;
  };
  factory.verifier = verifier;
  factory.attach = (p) => { provider = p; cache.clear(); return factory; };
  factory.clearCache = () => cache.clear();
  return factory;
}

export default createStatelessClientAdapter;
