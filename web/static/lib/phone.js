// @ts-check
/**
 * Phones in rooms (docs/SIGNALLING.md §16): the SIP gateway's calls are
 * occupants whose presence carries <phone xmlns='urn:parley:phone:0'/>;
 * an occupant reads the room's dial-in number and PIN, and one holding
 * dial_out calls a phone into the room (the room checks the permission).
 *
 * No DOM access.
 */
import { iq } from './xmpp.js';
import { x, attr, child, children } from './xml.js';
import { StanzaError } from './xmpp/protocol.js';

export const NS_PHONE = 'urn:parley:phone:0';

/** @typedef {import('./xmpp.js').XmppClient} XmppClient */
/** @typedef {import('./muc.js').Occupant} Occupant */

/**
 * isPhone says whether an occupant is a phone call. The stamp is the
 * occupant's own claim: it only chooses an icon.
 * @param {Occupant} o
 */
export function isPhone(o) {
  return o.payload.some((c) => c.name === 'phone' && c.ns === NS_PHONE);
}

/**
 * @typedef {object} DialIn
 * @property {string} number the number phones call, '' if the operator set none
 * @property {string} pin the room's PIN, typed at the gateway's voice menu
 */

/**
 * dialIn reads the room's dial-in number and PIN; it resolves to null when
 * the server has no SIP gateway.
 * @param {XmppClient} client
 * @param {string} room the room's bare JID
 * @returns {Promise<DialIn|null>}
 */
export async function dialIn(client, room) {
  try {
    const res = await client.request(iq('get', room, x('dial-in', { xmlns: NS_PHONE })));
    const d = child(res, 'dial-in', NS_PHONE);
    const pin = d ? attr(d, 'pin') ?? '' : '';
    return pin ? { number: (d && attr(d, 'number')) ?? '', pin } : null;
  } catch (err) {
    if (err instanceof StanzaError && err.condition === 'feature-not-implemented') return null;
    throw err;
  }
}

/**
 * DialError is a dial-out that did not bring the phone in: reason is
 * 'busy', 'no-answer', 'rejected', 'failed', 'forbidden' (no dial_out) or
 * 'unavailable' (no SIP gateway); code the SIP status, 0 if none.
 */
export class DialError extends Error {
  /**
   * @param {string} reason
   * @param {number} code
   * @param {string} message
   */
  constructor(reason, code, message) {
    super(message);
    this.name = 'DialError';
    this.reason = reason;
    this.code = code;
  }
}

/**
 * dialOut calls a number or SIP URI into the room. It resolves with the
 * phone's nick once it answered and is in the room (this may take the
 * whole ringing time, up to a minute), or rejects with a DialError.
 * @param {XmppClient} client
 * @param {string} room the room's bare JID
 * @param {string} to a phone number or a sip: URI
 * @returns {Promise<string>}
 */
export async function dialOut(client, room, to) {
  let res;
  try {
    res = await client.request(iq('set', room, x('dial', { xmlns: NS_PHONE, to })), 120_000);
  } catch (err) {
    throw dialError(err);
  }
  const d = child(res, 'dial', NS_PHONE);
  return (d && attr(d, 'nick')) ?? '';
}

/**
 * dialError reads why a dial-out failed from its stanza error.
 * @param {unknown} err
 * @returns {Error}
 */
export function dialError(err) {
  if (!(err instanceof StanzaError)) return err instanceof Error ? err : new Error(String(err));
  const errEl = err.stanza ? child(err.stanza, 'error') : undefined;
  const app = errEl ? children(errEl).find((c) => c.ns === NS_PHONE) : undefined;
  if (app) return new DialError(app.name, Number(attr(app, 'code') ?? 0) || 0, err.message);
  if (err.condition === 'forbidden') return new DialError('forbidden', 0, err.message);
  if (err.condition === 'feature-not-implemented') return new DialError('unavailable', 0, err.message);
  return new DialError('failed', 0, err.message);
}
