// scriptio.mjs is what register.mjs and register6.mjs share: their protocol
// with the Go harness in ./openidclient. Input is one JSON object on stdin;
// output is exactly one JSON line on stdout, whatever a library logs; a
// harness bug (invalid input, certificate checks switched off) exits 2.

import process from 'node:process';
import * as util from 'node:util';

// start prepares the script called name: console output goes to stderr, so
// that stdout stays a single line, and certificate checks must be real. It
// returns fatal(msg), which reports a harness bug and exits 2.
export function start(name) {
  const toStderr = (...args) => { process.stderr.write(`${util.format(...args)}\n`); };
  console.log = toStderr;
  console.info = toStderr;
  console.debug = toStderr;
  console.dir = (obj, opts) => { process.stderr.write(`${util.inspect(obj, opts)}\n`); };

  const fatal = (msg) => {
    process.stderr.write(`${name}: ${msg}\n`);
    process.exit(2);
  };
  if (process.env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    fatal('NODE_TLS_REJECT_UNAUTHORIZED=0 is set; refusing to run without certificate verification');
  }
  return fatal;
}

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

// readInput reads stdin and checks the members every script takes: "issuer"
// (a non-empty string), "initialAccessToken" (a string or null) and
// "metadata" (an object). It returns the whole object, with
// initialAccessToken undefined when none was given.
export async function readInput(fatal) {
  let input;
  try {
    input = JSON.parse(await readStdin());
  } catch (err) {
    fatal(`stdin is not JSON: ${err.message}`);
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) fatal('stdin must be a JSON object');
  if (typeof input.issuer !== 'string' || input.issuer === '') fatal('"issuer" must be a non-empty string');
  const iat = input.initialAccessToken;
  if (iat !== undefined && iat !== null && typeof iat !== 'string') fatal('"initialAccessToken" must be a string or null');
  const md = input.metadata;
  if (md === null || typeof md !== 'object' || Array.isArray(md)) fatal('"metadata" must be a JSON object');
  return { ...input, initialAccessToken: iat || undefined };
}

// emit writes the one line of output and exits 0: the Go side asserts.
export function emit(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`, () => process.exit(0));
}
