// @ts-check
/**
 * The Jingle model shared by the translation modules: namespaces, roles,
 * the model's types, JingleError and the small checks every part uses (as
 * internal/jingle's jingle.go).
 */
import { attr } from '../xml.js';

/** @typedef {import('../xml.js').El} El */


export const NS = {
  jingle: 'urn:xmpp:jingle:1',
  rtp: 'urn:xmpp:jingle:apps:rtp:1',
  rtcpFB: 'urn:xmpp:jingle:apps:rtp:rtcp-fb:0',
  hdrExt: 'urn:xmpp:jingle:apps:rtp:rtp-hdrext:0',
  ssma: 'urn:xmpp:jingle:apps:rtp:ssma:0',
  grouping: 'urn:xmpp:jingle:apps:grouping:0',
  ice: 'urn:xmpp:jingle:transports:ice-udp:1',
  dtls: 'urn:xmpp:jingle:apps:dtls:0',
  sctp: 'urn:xmpp:jingle:transports:dtls-sctp:1',
  // parley's own: RFC 8851 rids and RFC 8853 simulcast (no XEP carries them)
  rid: 'urn:parley:jingle:rid:0',
};

/** Whose SDP it is: the Jingle initiator's or the responder's. @typedef {'initiator'|'responder'} Role */
export const ROLE_INITIATOR = 'initiator';
export const ROLE_RESPONDER = 'responder';

/** The largest SDP fromSDP accepts, in UTF-8 bytes (as Go's MaxSDPSize). */
export const MAX_SDP_SIZE = 512 << 10;

export const ACTIONS = new Set(['content-accept', 'content-add', 'content-modify', 'content-reject', 'content-remove',
  'description-info', 'security-info', 'session-accept', 'session-info', 'session-initiate', 'session-terminate',
  'transport-accept', 'transport-info', 'transport-reject', 'transport-replace', 'source-add', 'source-remove']);

/**
 * @typedef {{action: string, sid: string, initiator: string, responder: string,
 *   group: Group|null, contents: Content[], reason: Reason|null}} Jingle
 * @typedef {{semantics: string, contents: string[]}} Group
 * @typedef {{condition: string, text: string}} Reason
 * @typedef {{creator: string, name: string, senders: string,
 *   description: Description|null, transport: Transport|null}} Content
 * @typedef {{media: string, ssrc: string, payloadTypes: PayloadType[], feedback: Feedback[],
 *   headerExtensions: HeaderExtension[], extmapAllowMixed: boolean, rtcpMux: boolean,
 *   bandwidths: Bandwidth[], sources: Source[], sourceGroups: SourceGroup[],
 *   rids: Rid[], simulcast: Simulcast[]}} Description
 * @typedef {{id: string, senders: string, params: string}} Rid  an a=rid; senders is who sends it
 * @typedef {{senders: string, layers: string}} Simulcast  one direction of a=simulcast
 * @typedef {{id: number, name: string, clockRate: number, channels: number, ptime: number,
 *   maxptime: number, parameters: Parameter[], feedback: Feedback[]}} PayloadType
 * @typedef {{name: string, value: string}} Parameter
 * @typedef {{type: string, subtype: string}} Feedback  type 'trr-int' is <rtcp-fb-trr-int/>, its value in subtype
 * @typedef {{id: number, uri: string, senders: string}} HeaderExtension
 * @typedef {{type: string, value: number}} Bandwidth
 * @typedef {{ssrc: number, parameters: Parameter[]}} Source
 * @typedef {{semantics: string, ssrcs: number[]}} SourceGroup
 * @typedef {{ufrag: string, pwd: string, fingerprints: Fingerprint[], candidates: Candidate[],
 *   sctp: SCTPMap|null}} Transport
 * @typedef {{hash: string, setup: string, value: string}} Fingerprint
 * @typedef {{port: number, protocol: string, streams: number}} SCTPMap
 * @typedef {{foundation: string, component: number, protocol: string, priority: number, ip: string,
 *   port: number, type: string, generation: number, network: number, id: string, relAddr: string,
 *   relPort: number, tcpType: string}} Candidate
 */

/** JingleError is a Jingle element or SDP this module refuses. */
export class JingleError extends Error {
  /** @param {string} condition stanza error condition: 'bad-request' or 'feature-not-implemented' @param {string} text */
  constructor(condition, text) {
    super(`jingle: ${condition}: ${text}`);
    this.name = 'JingleError';
    this.condition = condition;
    this.text = text;
  }
}

/** @param {string} text */
export const bad = (text) => new JingleError('bad-request', text);

/**
 * within runs fn, prefixing the text of the JingleError it throws.
 * @template T @param {string} prefix @param {() => T} fn @returns {T}
 */
export function within(prefix, fn) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof JingleError) throw new JingleError(err.condition, `${prefix}: ${err.text}`);
    throw err;
  }
}

/**
 * uint parses a decimal number of at most bits bits (as Go's parseUint).
 * @param {string} s @param {number} bits @param {string} what
 */
export function uint(s, bits, what) {
  if (s === '') throw bad(`missing ${what}`);
  if (!/^[0-9]+$/.test(s)) throw bad(`bad ${what} ${JSON.stringify(s)}`);
  const digits = s.replace(/^0+(?=.)/, '');
  const v = digits.length > 10 ? Infinity : Number(digits);
  if (v > 2 ** bits - 1) throw bad(`bad ${what} ${JSON.stringify(s)}`);
  return v;
}


/**
 * val reads an attribute, '' when absent: Jingle treats an absent attribute
 * and an empty one alike.
 * @param {El} e @param {string} name
 */
export const val = (e, name) => attr(e, name) ?? '';

/** @param {string} s visible ASCII, no spaces: what an SDP token may be */
export const isToken = (s) => /^[\x21-\x7e]+$/.test(s);
/** @param {string} s '' or tokens separated by single spaces */
export const isWords = (s) => s === '' || s.split(' ').every(isToken);
/** @param {string} s no control characters, nothing XML cannot carry */
export function isText(s) {
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || c === 0x7f || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffd || c === 0xfffe || c === 0xffff) return false;
  }
  return true;
}
/** @param {string} s trims XML and SDP white space only, as Go's trimSpace */
export const trim = (s) => s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, '');
/** @param {string} s */
export const asciiLower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
/** @param {string} s split on spaces only, as SDP does */
export const fields = (s) => s.split(' ').filter((f) => f !== '');

/** @param {string} s 32-bit FNV-1a over the UTF-8 bytes, as Go's hash32 */
export function hash32(s) {
  let h = 2166136261;
  for (const b of new TextEncoder().encode(s)) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

/** @param {string} s */
export const validSenders = (s) => ['', 'both', 'initiator', 'responder', 'none'].includes(s);
/** @param {number} id */
export const validExtmapID = (id) => (id >= 1 && id <= 256) || (id >= 4096 && id <= 4351);
/** @param {string} s */
export const validSetup = (s) => ['', 'actpass', 'active', 'passive', 'holdconn'].includes(s);

/** @param {Record<string, string|number>} a @returns {Record<string, string|undefined>} empty strings and zeros left out */
export function attrs(a) {
  /** @type {Record<string, string|undefined>} */
  const out = {};
  for (const [k, v] of Object.entries(a)) out[k] = v === '' || v === 0 ? undefined : String(v);
  return out;
}
