// @ts-check
/**
 * SASL client mechanisms for XMPP (RFC 6120 §6): SCRAM-SHA-256 and
 * SCRAM-SHA-1 (RFC 5802, RFC 7677) through WebCrypto, PLAIN (RFC 4616) and
 * ANONYMOUS (RFC 4505). Messages are byte arrays; the XMPP layer base64s
 * them. No channel binding: browsers cannot read TLS channel data.
 *
 * Pure: no DOM, no network. Works in browsers and in Node (globalThis.crypto).
 */

/** SaslError is an exchange that cannot go on (bad server data, wrong signature). */
export class SaslError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'SaslError';
  }
}

/** The mechanisms this client speaks, most preferred first. */
export const MECHANISMS = Object.freeze(['SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN', 'ANONYMOUS']);

/** Bounds on what a server may ask of a client (as internal/sasl does). */
const MIN_ITERATIONS = 4096;
const MAX_ITERATIONS = 1_000_000;

/**
 * @typedef {object} Credentials
 * @property {string} username
 * @property {string} password
 */

/**
 * @typedef {object} Mechanism
 * @property {string} name
 * @property {() => Promise<Uint8Array|null>} initial the initial response; null for none
 * @property {(challenge: Uint8Array) => Promise<Uint8Array>} step answers a challenge
 * @property {(additional: Uint8Array) => Promise<void>} finish checks <success/> data
 */

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/**
 * choose picks the best mechanism both sides speak: with credentials the
 * strongest SCRAM, then PLAIN; without, ANONYMOUS.
 * @param {string[]} offered the server's mechanisms
 * @param {Credentials|null} creds
 * @param {readonly string[]} [allowed] the mechanisms we may use, best first; default MECHANISMS
 * @returns {string|null}
 */
export function choose(offered, creds, allowed = MECHANISMS) {
  const want = allowed.filter((m) => (creds ? m !== 'ANONYMOUS' : m === 'ANONYMOUS'));
  return want.find((m) => offered.includes(m)) ?? null;
}

/**
 * create returns a client exchange for the named mechanism.
 * @param {string} name one of MECHANISMS
 * @param {Credentials|null} creds required except for ANONYMOUS
 * @param {{nonce?: string}} [opts] nonce: a fixed client nonce, for tests
 * @returns {Mechanism}
 */
export function create(name, creds, opts = {}) {
  switch (name) {
    case 'ANONYMOUS':
      return anonymous();
    case 'PLAIN':
      return plain(need(creds));
    case 'SCRAM-SHA-1':
      return scram(name, 'SHA-1', need(creds), opts.nonce);
    case 'SCRAM-SHA-256':
      return scram(name, 'SHA-256', need(creds), opts.nonce);
    default:
      throw new SaslError(`unsupported mechanism ${name}`);
  }
}

/** @param {Credentials|null} creds */
function need(creds) {
  if (!creds) throw new SaslError('this mechanism needs a username and password');
  return creds;
}

/** @returns {Mechanism} */
function anonymous() {
  return {
    name: 'ANONYMOUS',
    initial: async () => new Uint8Array(0),
    step: async () => new Uint8Array(0),
    finish: async () => {},
  };
}

/** @param {Credentials} creds @returns {Mechanism} */
function plain(creds) {
  return {
    name: 'PLAIN',
    initial: async () => enc.encode(`\0${creds.username}\0${prep(creds.password)}`),
    step: async () => {
      throw new SaslError('PLAIN takes no challenge');
    },
    finish: async () => {},
  };
}

/**
 * prep approximates SASLprep (RFC 4013) with NFKC and mapping of non-ASCII
 * spaces, which is what the server's PRECIS OpaqueString does for passwords.
 * @param {string} s
 */
function prep(s) {
  return s.replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ').normalize('NFKC');
}

/** saslname escapes '=' and ',' in a SCRAM username (RFC 5802 §5.1). @param {string} s */
function saslname(s) {
  return s.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/**
 * @param {string} name
 * @param {'SHA-1'|'SHA-256'} hash
 * @param {Credentials} creds
 * @param {string|undefined} fixedNonce
 * @returns {Mechanism}
 */
function scram(name, hash, creds, fixedNonce) {
  const nonce = fixedNonce ?? randomNonce();
  const gs2 = 'n,,';
  const clientFirstBare = `n=${saslname(creds.username)},r=${nonce}`;
  /** @type {Uint8Array|null} */
  let serverSignature = null;
  return {
    name,
    initial: async () => enc.encode(gs2 + clientFirstBare),
    async step(challenge) {
      if (serverSignature) throw new SaslError('unexpected second challenge');
      const serverFirst = decode(challenge);
      const attrs = parseAttrs(serverFirst);
      const r = attrs.get('r'), s = attrs.get('s'), i = attrs.get('i');
      if (attrs.has('m')) throw new SaslError('server requires an unknown SCRAM extension');
      if (!r || !s || !i) throw new SaslError('malformed server-first-message');
      if (!r.startsWith(nonce) || r.length <= nonce.length) throw new SaslError('server nonce does not extend ours');
      const iterations = Number(i);
      if (!/^[0-9]+$/.test(i) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
        throw new SaslError(`unacceptable iteration count ${i}`);
      }
      const salt = fromBase64(s);
      const salted = await pbkdf2(hash, enc.encode(prep(creds.password)), salt, iterations);
      const clientKey = await hmac(hash, salted, enc.encode('Client Key'));
      const storedKey = new Uint8Array(await crypto.subtle.digest(hash, clientKey));
      const withoutProof = `c=${toBase64(enc.encode(gs2))},r=${r}`;
      const authMessage = enc.encode(`${clientFirstBare},${serverFirst},${withoutProof}`);
      const clientSignature = await hmac(hash, storedKey, authMessage);
      const proof = clientKey.map((b, k) => b ^ clientSignature[k]);
      const serverKey = await hmac(hash, salted, enc.encode('Server Key'));
      serverSignature = await hmac(hash, serverKey, authMessage);
      return enc.encode(`${withoutProof},p=${toBase64(proof)}`);
    },
    async finish(additional) {
      if (!serverSignature) throw new SaslError('success before the SCRAM exchange finished');
      const attrs = parseAttrs(decode(additional));
      if (attrs.has('e')) throw new SaslError(`server error ${attrs.get('e')}`);
      const v = attrs.get('v');
      if (!v || toBase64(serverSignature) !== v) throw new SaslError('the server did not prove it knows the password');
    },
  };
}

/** @param {Uint8Array} b */
function decode(b) {
  try {
    return dec.decode(b);
  } catch {
    throw new SaslError('server message is not UTF-8');
  }
}

/** @param {string} msg @returns {Map<string,string>} */
function parseAttrs(msg) {
  const m = new Map();
  for (const part of msg.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw new SaslError(`malformed SCRAM attribute ${JSON.stringify(part.slice(0, 20))}`);
    m.set(part[0], part.slice(2));
  }
  return m;
}

function randomNonce() {
  const b = new Uint8Array(18);
  crypto.getRandomValues(b);
  return toBase64(b).replace(/[+/=]/g, 'x');
}

/**
 * @param {'SHA-1'|'SHA-256'} hash
 * @param {Uint8Array} password
 * @param {Uint8Array} salt
 * @param {number} iterations
 */
async function pbkdf2(hash, password, salt, iterations) {
  const key = await crypto.subtle.importKey('raw', own(password), 'PBKDF2', false, ['deriveBits']);
  const bits = hash === 'SHA-1' ? 160 : 256;
  return new Uint8Array(await crypto.subtle.deriveBits({ name: 'PBKDF2', hash, salt: own(salt), iterations }, key, bits));
}

/**
 * @param {'SHA-1'|'SHA-256'} hash
 * @param {Uint8Array} key
 * @param {Uint8Array} data
 */
async function hmac(hash, key, data) {
  const k = await crypto.subtle.importKey('raw', own(key), { name: 'HMAC', hash }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', k, own(data)));
}

/**
 * own copies bytes into a plain ArrayBuffer, which WebCrypto's types ask
 * for (a view may sit on a SharedArrayBuffer).
 * @param {Uint8Array} b
 */
function own(b) {
  return new Uint8Array(b);
}

/** toBase64 encodes bytes as standard padded base64. @param {Uint8Array} b */
export function toBase64(b) {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** fromBase64 decodes standard base64; SaslError if it is not. @param {string} s */
export function fromBase64(s) {
  let bin;
  try {
    bin = atob(s);
  } catch {
    throw new SaslError('invalid base64');
  }
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}
