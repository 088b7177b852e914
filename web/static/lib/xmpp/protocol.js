// @ts-check
/**
 * The XMPP basics the client and its users share: namespaces, the errors,
 * the <iq/> builder and the browser's name for the disco identity.
 */
import { x, attr, ns, local, child, children, textOf } from '../xml.js';

/** @typedef {import('../xml.js').El} El */

export const NS = Object.freeze({
  client: 'jabber:client',
  framing: 'urn:ietf:params:xml:ns:xmpp-framing',
  stream: 'http://etherx.jabber.org/streams',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  streams: 'urn:ietf:params:xml:ns:xmpp-streams',
  discoInfo: 'http://jabber.org/protocol/disco#info',
  caps: 'http://jabber.org/protocol/caps',
  ping: 'urn:xmpp:ping',
});

/** The features docs/SIGNALLING.md requires of a media participant. */
export const JINGLE_FEATURES = Object.freeze([
  'urn:xmpp:jingle:1',
  'urn:xmpp:jingle:apps:rtp:1',
  'urn:xmpp:jingle:apps:rtp:audio',
  'urn:xmpp:jingle:apps:rtp:video',
  'urn:xmpp:jingle:transports:ice-udp:1',
  'urn:xmpp:jingle:apps:dtls:0',
]);

/** XmppError is the base of this module's errors. */
export class XmppError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'XmppError';
  }
}

/** StanzaError is an IQ answered with type='error' (RFC 6120 §8.3). */
export class StanzaError extends XmppError {
  /**
   * @param {string} condition defined condition, e.g. 'item-not-found'
   * @param {string} [type] error type: cancel, modify, auth, wait
   * @param {string} [text]
   * @param {El} [stanza] the error stanza
   */
  constructor(condition, type = 'cancel', text = '', stanza) {
    super(text ? `${condition}: ${text}` : condition);
    this.name = 'StanzaError';
    this.condition = condition;
    this.type = type;
    this.text = text;
    this.stanza = stanza;
    /** @type {El|undefined} an application-specific condition to send along (RFC 6120 §8.3.4) */
    this.extra = undefined;
  }

  /** fromStanza reads the <error/> of an error stanza. @param {El} st */
  static fromStanza(st) {
    const err = child(st, 'error');
    if (!err) return new StanzaError('undefined-condition', 'cancel', '', st);
    const cond = children(err).find((c) => ns(c) === NS.stanzas && local(c) !== 'text');
    const text = children(err, 'text', NS.stanzas)[0];
    return new StanzaError(cond ? local(cond) : 'undefined-condition', attr(err, 'type') ?? 'cancel', text ? textOf(text) : '', st);
  }
}

/** StreamError is a stream error the server sent (RFC 6120 §4.9). */
export class StreamError extends XmppError {
  /** @param {string} condition */
  constructor(condition) {
    super(`stream error: ${condition}`);
    this.name = 'StreamError';
    this.condition = condition;
  }
}

/** TimeoutError is an IQ that got no answer in time. */
export class TimeoutError extends XmppError {
  constructor(/** @type {string} */ what) {
    super(`no answer to ${what} in time`);
    this.name = 'TimeoutError';
  }
}

/** DisconnectedError is a request cut short because the stream ended. */
export class DisconnectedError extends XmppError {
  constructor(/** @type {string} */ reason) {
    super(`disconnected: ${reason}`);
    this.name = 'DisconnectedError';
    this.reason = reason;
  }
}

/** AuthError is a login the server refused; retrying will not help. */
export class AuthError extends XmppError {
  /** @param {string} condition @param {string} [text] the server's explanation, if any */
  constructor(condition, text = '') {
    super(text ? `login refused: ${condition} (${text})` : `login refused: ${condition}`);
    this.name = 'AuthError';
    this.condition = condition;
    this.text = text;
  }
}

/** @param {El} el */
export function streamErrorCondition(el) {
  const c = children(el).find((k) => ns(k) === NS.streams && local(k) !== 'text');
  return c ? local(c) : 'undefined-condition';
}

/** @param {El} iq */
export function describe(iq) {
  const p = children(iq)[0];
  return `${attr(iq, 'type')} ${p ? `<${local(p)} xmlns='${ns(p)}'/>` : 'iq'} to ${attr(iq, 'to') ?? 'the server'}`;
}

/**
 * iq builds an <iq/> of the given type with one payload.
 * @param {'get'|'set'} type
 * @param {string|null} to
 * @param {El} payload
 */
export function iq(type, to, payload) {
  /** @type {Record<string,string>} */
  const attrs = { xmlns: NS.client, type };
  if (to) attrs.to = to;
  return x('iq', attrs, [payload]);
}

/**
 * browserName names the browser from its user agent, for the server's logs
 * (the disco identity): "Firefox 140", "Chrome 156", "Edge 130",
 * "Safari 18", or '' outside a browser.
 * @param {string} [ua]
 * @returns {string}
 */
export function browserName(ua = globalThis.navigator?.userAgent ?? '') {
  for (const [re, name] of /** @type {[RegExp, string][]} */ ([
    [/Edg\/(\d+)/, 'Edge'],
    [/OPR\/(\d+)/, 'Opera'],
    [/Firefox\/(\d+)/, 'Firefox'],
    [/Chrom(?:e|ium)\/(\d+)/, 'Chrome'],
    [/Version\/(\d+)[.\d]* .*Safari/, 'Safari'],
  ])) {
    const m = re.exec(ua);
    if (m) return `${name} ${m[1]}`;
  }
  return '';
}
